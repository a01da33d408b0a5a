"""``python -m sim data list|import``: the imperative shell over the catalog."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core.errors import BadInput
from sim.bars_csv import BadRow
from sim.data.catalog import DEFAULT_CATALOG, Catalog, check_symbol, timeframe_ns
from sim.data.importer import import_file

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="what the catalog holds, as a table")
    _catalog_option(listing)
    imp = sub.add_parser("import", help="import CSV or Parquet bar files into the catalog")
    imp.add_argument("files", nargs="+", metavar="FILE", help="CSV or Parquet files")
    imp.add_argument("--symbol", help="the symbol, for files without a symbol column")
    imp.add_argument(
        "--adjust", action="store_true", help="scale prices by the adjusted close (Yahoo files)"
    )
    imp.add_argument("--timeframe", help="override the detected timeframe (1Min, 1Day, ...)")
    imp.add_argument("--source", default="import", help="source label (default: import)")
    imp.add_argument("--skip-bad", action="store_true", help="report and skip bad rows")
    _catalog_option(imp)
    fetch = sub.add_parser(
        "fetch",
        help="fetch history from Alpaca or IBKR into the catalog (resumable)",
        add_help=False,
    )
    fetch.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def _catalog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        default=str(DEFAULT_CATALOG),
        help=f"catalog directory (default: {DEFAULT_CATALOG})",
    )


def main(args: argparse.Namespace) -> int:
    try:
        if args.data_command == "list":
            return list_catalog(Catalog(args.catalog))
        if args.data_command == "fetch":
            return fetch(args.rest)
        return import_files(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def fetch(argv: list[str]) -> int:
    """Hand over to ``python -m histdata`` in this same process slot.

    Fetching is network I/O with wall-clock back-off through the brokers' SDKs,
    with the gateway's credentials and IB pacer: ``histdata`` is the floor above
    both ``sim`` and ``gateway``, and ``sim`` imports neither, so this replaces
    the process with that module (same pid: a signal to this command reaches the fetch).
    """
    command = [sys.executable, "-m", "histdata", *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
    return EXIT_OK  # not reached


def list_catalog(catalog: Catalog) -> int:
    datasets = catalog.manifest()
    console = Console(width=max(Console().width, 110))
    if not datasets:
        console.print(f"catalog {catalog.root}: empty")
        return EXIT_OK
    table = Table(title=f"catalog {catalog.root}")
    for column in ("symbol", "timeframe", "adjustment", "source", "first day", "last day"):
        table.add_column(column)
    table.add_column("days", justify="right")
    table.add_column("bars", justify="right")
    for _, item in sorted(datasets.items(), key=lambda kv: (kv[1].symbol, kv[0])):
        held = [d for d, n in item.days.items() if n > 0]
        table.add_row(
            item.symbol,
            item.timeframe,
            item.adjustment,
            ", ".join(item.sources),
            min(held) if held else "",
            max(held) if held else "",
            f"{len(held):,}",
            f"{item.bars:,}",
        )
    console.print(table)
    return EXIT_OK


def import_files(args: argparse.Namespace) -> int:
    if args.symbol is not None:
        check_symbol(args.symbol)
    if args.timeframe is not None:
        timeframe_ns(args.timeframe)
    catalog = Catalog(args.catalog)
    loaded = []
    for name in args.files:
        path = Path(name)
        try:
            item = import_file(path, args.symbol, args.adjust, args.skip_bad)
        except BadRow as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        for bad in item.rejected:
            print(f"skipped: {path}: {bad}", file=sys.stderr)
        for symbol in sorted({b.symbol for b in item.bars}):
            check_symbol(symbol, f"{path}: symbol")
        loaded.append(item)
    for item in loaded:  # all files checked before any is written
        timeframe = args.timeframe or item.timeframe
        written = catalog.write(item.bars, timeframe, args.source, item.adjustment)
        symbols = sorted({b.symbol for b in item.bars})
        span = ""
        if item.bars:
            from sim.data.catalog import day_of

            span = f", {day_of(item.bars[0].time_ns)}..{day_of(item.bars[-1].time_ns)}"
        print(
            f"{item.describe()}: {', '.join(symbols) or 'no symbol'} {timeframe}, "
            f"adjustment {item.adjustment}: {written:,} bars imported, "
            f"{len(item.rejected):,} rejected{span}"
        )
    print(f"catalog: {catalog.root}")
    return EXIT_OK


__all__ = ["add_arguments", "main"]
