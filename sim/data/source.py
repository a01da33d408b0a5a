"""Where a replay's or the signal CLI's bars come from: files or the catalog.

Both ``sim replay`` and ``sim signals`` take either bar files (CSV in any
layout ``sim data import`` knows, or Parquet; several files may be given and
their symbols are merged) or ``--catalog DIR --symbols A,B --start D --end D``.
The result carries a one-line statement of what was loaded (which data,
which dates, which adjustment), printed in the terminal and the report.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import BadInput
from core.events import Bar
from sim.bars_csv import BadRow, read_bars_file
from sim.data.catalog import DEFAULT_CATALOG, Catalog, check_adjustment, check_symbol, day_of


@dataclass
class LoadedBars:
    bars: list[Bar]
    description: str
    rejected: list[tuple[Path, BadRow]] = field(default_factory=list)
    label: str = ""  # short name for output directories


@dataclass(frozen=True)
class CatalogQuery:
    root: str
    symbols: str | None
    start: str | None
    end: str | None
    timeframe: str | None = None
    adjustment: str | None = None


def _iso_date(text: str | None, option: str) -> str:
    if text is None:
        raise BadInput(option, None, "is required with --catalog")
    try:
        return str(np.datetime64(text.strip(), "D"))
    except ValueError:
        raise BadInput(option, text, "must be a date YYYY-MM-DD") from None


def parse_symbols(text: str | None) -> list[str]:
    if not text:
        raise BadInput("--symbols", text, "is required with --catalog (e.g. AAPL,MSFT)")
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    for symbol in symbols:
        check_symbol(symbol, "--symbols")
    if len(set(symbols)) != len(symbols):
        raise BadInput("--symbols", text, "names a symbol twice")
    return symbols


def _one_of(options: set[str], given: str | None, option: str, what: str) -> str:
    if given is not None:
        return given
    if len(options) == 1:
        return next(iter(options))
    raise BadInput(option, None, f"is needed: the catalog holds {what} {sorted(options)}")


def load_catalog(query: CatalogQuery) -> LoadedBars:
    catalog = Catalog(query.root)
    symbols = parse_symbols(query.symbols)
    start, end = _iso_date(query.start, "--start"), _iso_date(query.end, "--end")
    if end < start:
        raise BadInput("--end", query.end, f"is before --start {start}")
    if query.adjustment is not None:
        check_adjustment(query.adjustment)
    held = catalog.manifest()
    mine = [d for d in held.values() if d.symbol in symbols]
    missing = sorted(set(symbols) - {d.symbol for d in mine})
    if missing:
        raise BadInput(
            "--symbols",
            ",".join(missing),
            f"not in the catalog {catalog.root} (see `python -m sim data list`)",
        )
    timeframe = _one_of({d.timeframe for d in mine}, query.timeframe, "--timeframe", "timeframes")
    adjustment = _one_of(
        {d.adjustment for d in mine if d.timeframe == timeframe},
        query.adjustment,
        "--adjustment",
        "adjustments",
    )
    bars = catalog.read_bars(symbols, timeframe, start, end, adjustment)
    if not bars:
        raise BadInput(
            "--start", start, f"no {timeframe} {adjustment} bars of {','.join(symbols)} to {end}"
        )
    bars.sort(key=lambda b: b.time_ns)
    sources = sorted({s for d in mine if d.timeframe == timeframe for s in d.sources})
    counts = {s: sum(1 for b in bars if b.symbol == s) for s in symbols}
    first, last = day_of(bars[0].time_ns), day_of(bars[-1].time_ns)
    description = (
        f"real data from the catalog {catalog.root}: {', '.join(symbols)} {timeframe} bars "
        f"{first}..{last}, adjustment {adjustment}, source {', '.join(sources)}; "
        + ", ".join(f"{s} {n:,}" for s, n in counts.items())
        + " bars"
    )
    return LoadedBars(bars, description, label=f"{'-'.join(symbols)}-{first}-{last}")


def load_files(paths: Sequence[str], skip_bad: bool = False) -> LoadedBars:
    """Bars from files; a CSV in the signal CLI's layout is read exactly as before."""
    if not paths:
        raise BadInput("FILE", None, "is missing: give the bars as FILE... or --catalog DIR")
    bars: list[Bar] = []
    rejected: list[tuple[Path, BadRow]] = []
    parts = []
    seen: dict[str, Path] = {}
    for name in paths:
        path = Path(name)
        try:
            got, bad, layout = _load_file(path, skip_bad)
        except BadRow as exc:
            raise BadInput(f"{path}: line {exc.line}: {exc.field}", exc.value, exc.reason) from None
        for symbol in {b.symbol for b in got}:
            if symbol in seen:
                raise BadInput("FILE", str(path), f"repeats {symbol}, already in {seen[symbol]}")
            seen[symbol] = path
        bars.extend(got)
        rejected.extend((path, b) for b in bad)
        if got:
            parts.append(
                f"{path.name} ({layout}: {', '.join(sorted({b.symbol for b in got}))}, "
                f"{day_of(min(b.time_ns for b in got))}..{day_of(max(b.time_ns for b in got))})"
            )
    if len(paths) > 1:
        bars.sort(key=lambda b: b.time_ns)  # stable: each file's order within a time
    description = "real data from " + "; ".join(parts) if parts else "no bars"
    return LoadedBars(bars, description, rejected, label=Path(paths[0]).name)


def _load_file(path: Path, skip_bad: bool) -> tuple[list[Bar], list[BadRow], str]:
    from sim.data.importer import import_file

    if path.suffix.lower() in (".parquet", ".pq") or not _is_signal_layout(path):
        item = import_file(path, None, False, skip_bad)
        return item.bars, item.rejected, item.layout.name
    try:  # the hardened reader: bytes that are not UTF-8 named with their line
        loaded = read_bars_file(path, skip_bad=skip_bad)
    except OSError as exc:
        raise BadInput("FILE", str(path), f"cannot be read: {exc.strerror}") from None
    return loaded.bars, loaded.rejected, "sovereign"


def _is_signal_layout(path: Path) -> bool:
    """A CSV whose header is not one of the import layouts goes to the strict reader
    (which names the missing columns), as does the signal CLI's own layout."""
    from sim.data.importer import detect_layout

    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            header = stream.readline().strip().split(",")
    except (OSError, UnicodeDecodeError):
        return True
    try:
        return detect_layout(header).name == "sovereign"
    except BadInput:
        return True


def add_source_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """FILE... or --catalog/--symbols/--start/--end, for replay and signals."""
    add = parser.add_argument
    add("files", nargs="*", metavar="FILE", help=f"{what}: CSV (any import layout) or Parquet")
    add("--catalog", nargs="?", const=str(DEFAULT_CATALOG), help="read bars from the catalog")
    add("--symbols", help="with --catalog: SYM,SYM,...")
    add("--start", help="with --catalog: first day, YYYY-MM-DD")
    add("--end", help="with --catalog: last day, YYYY-MM-DD")
    add("--timeframe", help="with --catalog: 1Min, 1Day, ... (default: the one held)")
    add("--adjustment", help="with --catalog: raw, split, dividend, all (default: the one held)")


def query_from(args: argparse.Namespace) -> CatalogQuery | None:
    root = getattr(args, "catalog", None)
    if root is None:
        for option in ("symbols", "start", "end", "timeframe", "adjustment"):
            if getattr(args, option, None) is not None:
                raise BadInput(f"--{option}", getattr(args, option), "needs --catalog")
        return None
    return CatalogQuery(
        root,
        args.symbols,
        args.start,
        args.end,
        args.timeframe,
        args.adjustment,
    )


def source_command(args: argparse.Namespace) -> list[str]:
    """The arguments that name the same bars again (for the reproduce line)."""
    query = query_from(args)
    if query is None:
        return list(args.files)
    command = ["--catalog", query.root]
    for option in ("symbols", "start", "end", "timeframe", "adjustment"):
        value = getattr(query, option)
        if value is not None:
            command += [f"--{option}", value]
    return command


def load(paths: Sequence[str], query: CatalogQuery | None, skip_bad: bool = False) -> LoadedBars:
    if query is not None and paths:
        raise BadInput("--catalog", query.root, "give either bar files or --catalog, not both")
    if query is not None:
        return load_catalog(query)
    return load_files(paths, skip_bad)


__all__ = [
    "DEFAULT_CATALOG",
    "CatalogQuery",
    "LoadedBars",
    "add_source_arguments",
    "load",
    "parse_symbols",
    "query_from",
    "source_command",
]
