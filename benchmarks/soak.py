"""Long-run soak of the production gateway (issue 15), outside CI.

The real ``python -m gateway`` (tiered: Alpaca data, TWS and the FIX prime
broker for orders) against the real ``python -m standins`` at a high speed,
killed with SIGKILL over and over, with dropped TWS / FIX / stream
connections and HTTP 429 storms. It reports the gateway's RSS over time,
restart time (process start to the ``ready`` log line) during the run and at
the end, and executions lost or duplicated, compared by execution id with
each stand-in broker's own record. How it works: ``benchmarks/soaking/``;
how to run it and measured figures: ``docs/soak.md``::

    python benchmarks/soak.py --symbols 30 --days 252 --kills 200 --out out/soak

Writes ``soak.json`` and ``soak.txt`` into ``--out``. Exit status: 0 every
life recovered and the books agree exactly, 1 they did not, 2 bad arguments
(the message names the argument and the value), 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from benchmarks.soaking.settings import BadArgument, check, parser

    p = parser()
    ns = p.parse_args(argv)  # argparse's own errors exit 2 too
    try:
        settings = check(ns)
    except BadArgument as exc:
        print(f"soak.py: error: {exc}", file=sys.stderr)
        return 2
    from benchmarks.soaking.cycles import Soak
    from benchmarks.soaking.summary import text

    settings.out.mkdir(parents=True, exist_ok=True)
    try:
        result = Soak(settings, progress=lambda line: print(line, flush=True)).run()
    except KeyboardInterrupt:
        print("soak.py: interrupted", file=sys.stderr)
        return 130
    summary = text(result)
    (settings.out / "soak.json").write_text(json.dumps(result, indent=1) + "\n")
    (settings.out / "soak.txt").write_text(summary + "\n")
    print(summary, flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
