"""``python -m sim``: the simulator's command line.

With no sub-command it runs the built-in demo; ``signals`` runs the agents
over a bars CSV. Bad arguments exit with status 2 and a message naming them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sim import signals_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sim", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    signals = commands.add_parser("signals", help="run the agents alone over a bars CSV")
    signals.add_argument("bars", help="bars CSV: time,symbol,open,high,low,close,volume")
    signals.add_argument("--out", help="signals CSV to write (default: standard output)")
    signals.add_argument("--tick", help="tick for every symbol, e.g. 0.01 (default: US rule)")
    signals.add_argument("--skip-bad", action="store_true", help="skip and count bad rows")
    demo = commands.add_parser("demo", help="the built-in demo (the default)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--sessions", type=int, default=5)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "signals":
        return signals_cli.main(args.bars, args.out, args.tick, args.skip_bad)
    from sim.demo_cli import run_demo

    return run_demo(getattr(args, "seed", 7), getattr(args, "sessions", 5))


if __name__ == "__main__":
    sys.exit(main())
