"""``python -m standins``: the local stand-ins (Alpaca, Telegram, TWS, FIX prime broker).

The stand-ins' own command. It used to be ``python -m standins``, which made
``sim`` import ``standins`` — an arrow back up the floors (``standins`` builds on
``sim``'s market, so ``sim`` must not know it). Arguments and output: docs/serve.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from standins.cli import add_arguments, serve


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m standins",
        description="Local stand-ins for Alpaca, Telegram, TWS and a FIX prime broker "
        "over a simulated market.",
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
