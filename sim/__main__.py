"""``python -m sim``: scenario runs, backtests, replays, swarms and sweeps (Dask), signals.

With no sub-command it runs the default scenario (``sim run default``).
Exit status: 0 success, 1 an invariant was violated, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sim",
        description="Sovereign's deterministic simulator. With no command: `run default`.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("list", help="list the scenarios")

    run = commands.add_parser("run", help="run a scenario")
    run.add_argument("name", help="scenario name (see `list`)")
    _run_options(run)
    run.add_argument("--days", type=int, help="trading days (default: the scenario's)")
    run.add_argument("--symbols", help="a count from the scenario's universe, or SYM,SYM,...")

    from sim.data.source import add_source_arguments

    replay = commands.add_parser(
        "replay", help="run the full system over real bars (files or --catalog)"
    )
    add_source_arguments(replay, "bar files")
    _run_options(replay)

    signals = commands.add_parser("signals", help="run the agents alone over bars")
    add_source_arguments(signals, "bar files (time,symbol,open,high,low,close,volume or others)")
    signals.add_argument("--out", help="signals CSV to write (default: standard output)")
    signals.add_argument("--tick", help="tick for every symbol, e.g. 0.01 (default: US rule)")
    signals.add_argument("--skip-bad", action="store_true", help="skip and count bad rows")

    data = commands.add_parser("data", help="the local bar catalog: list, import")
    from sim.data_cli import add_arguments as add_data_arguments

    add_data_arguments(data)

    swarm = commands.add_parser("swarm", help="random scenarios and faults, one per seed")
    swarm.add_argument("--seeds", type=int, required=True, help="how many seeds")
    swarm.add_argument("--first", type=int, default=0, help="first seed (default 0)")
    where = swarm.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://host:8786")
    where.add_argument("--workers", type=int, help="local worker processes (default: cores)")
    swarm.add_argument("--batch", type=int, help="seeds per task (default: sized to the work)")
    swarm.add_argument("--jsonl", action="store_true", help="one JSON object per seed")

    from sim.sweep_cli import add_arguments as add_sweep_arguments

    add_sweep_arguments(commands.add_parser("sweep", help="a grid of full runs on Dask"))

    demo = commands.add_parser("demo", help="the signal-only demo on a toy market")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--sessions", type=int, default=5)
    return parser


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--balance", help="initial balance in dollars")
    parser.add_argument("--out", help="output directory (default: out/NAME-seedN)")
    parser.add_argument(
        "--urgency",
        choices=("low", "medium", "high"),
        default="medium",
        help="execution urgency of entries and level exits (stops are always high):"
        " low = impact only (VWAP/TWAP/POV/Iceberg), medium = risk-priced (default),"
        " high = market orders",
    )
    parser.add_argument(
        "--broker",
        choices=("alpaca", "ibkr_pro_fixed", "ibkr_pro_tiered", "prime"),
        help="commission schedule charged on every fill (default: the account tier's broker:"
        " alpaca < $100k, ibkr_pro_tiered < $1M, else prime)",
    )
    parser.add_argument(
        "--risk-free", help="annual risk-free rate for Sharpe/Sortino/alpha, e.g. 0.04 (default 0)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    if given[:2] == ["data", "fetch"]:  # its options belong to histdata
        from sim.data_cli import fetch

        return fetch(given[2:])
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if command == "signals":
        from sim import signals_cli

        return signals_cli.main(args, args.out, args.tick, args.skip_bad)
    if command == "data":
        from sim import data_cli

        return data_cli.main(args)
    if command == "demo":
        from sim.demo_cli import run_demo

        return run_demo(args.seed, args.sessions)
    from sim import cli

    if command == "list":
        return cli.list_scenarios()
    if command == "swarm":
        from sim.swarm_cli import swarm

        return swarm(args.seeds, args.first, args.workers, args.scheduler, args.jsonl, args.batch)
    if command == "sweep":
        from sim.sweep_cli import sweep

        return sweep(args)
    if command == "replay":
        return cli.replay(
            args, args.seed, args.balance, args.out, args.urgency, args.broker, args.risk_free
        )
    if args.command is None:
        return cli.run("default", 1, None, None, None, None)
    return cli.run(
        args.name,
        args.seed,
        args.days,
        args.symbols,
        args.balance,
        args.out,
        args.urgency,
        args.broker,
        args.risk_free,
    )


if __name__ == "__main__":
    sys.exit(main())
