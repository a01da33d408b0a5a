"""Bars for a sweep's replay point, read by the worker that runs it.

A replay point names its data by path or URL (anything fsspec opens: a
local or shared-filesystem path, ``file://``, ``s3://``/``gs://`` when the
worker has that fsspec backend and credentials) plus a symbol set and a
date range. The worker reads exactly that slice itself, so bars never
travel through the Dask scheduler and a cluster needs only a place every
worker can reach.

Two layouts are read:

- a bars CSV in the signal CLI's format (``.csv``, or compressed, e.g.
  ``.csv.gz``), validated row by row exactly as ``sim replay`` does;
- Parquet: one file, or a directory searched for ``*.parquet`` (a hive
  layout such as the bar catalog's ``timeframe=1Min/adjustment=raw/
  symbol=AAPL/2024-01.parquet``), with columns ``time`` (timestamp or UTC
  ns), ``symbol``, ``open``/``high``/``low``/``close`` (int64 nano-units,
  the catalog's convention, or decimals/floats in dollars) and ``volume``;
  ``timeframe`` and ``adjustment`` columns, when present, can be selected.
  Symbol and time filters are pushed down to the Parquet reader.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from core.errors import BadInput
from core.events import Bar
from core.instruments import Instrument, us_equity_tick
from core.money import price_from_decimal
from sim.bars_csv import BadRow, read_bars
from sim.build import parse_balance
from sim.calendar import exchange_sessions
from sim.faults import FaultRates
from sim.runner import RunSpec, feed_from_bars

DAY_NS = 86_400 * 10**9
_EPOCH = date(1970, 1, 1)
_COLUMNS = ("time", "symbol", "open", "high", "low", "close", "volume")


def day_bounds(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """[start 00:00 UTC, end+1 00:00 UTC) in ns: both dates inclusive."""
    lo = None if start is None else (date.fromisoformat(start) - _EPOCH).days * DAY_NS
    hi = None
    if end is not None:
        hi = (date.fromisoformat(end) + timedelta(days=1) - _EPOCH).days * DAY_NS
    return lo, hi


def load_bars(
    source: str,
    symbols: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    timeframe: str | None = None,
    adjustment: str | None = None,
) -> list[Bar]:
    """The bars of ``symbols`` (all when None) from ``start`` to ``end`` (ISO dates, inclusive)."""
    import fsspec

    try:
        fs, root = fsspec.core.url_to_fs(source)
    except (ImportError, ValueError) as exc:
        raise BadInput("--replay", source, f"cannot be opened ({exc})") from None
    lo, hi = day_bounds(start, end)
    wanted = None if symbols is None else set(symbols)
    try:
        is_dir = fs.isdir(root)
    except OSError as exc:
        raise BadInput("--replay", source, f"cannot be read ({exc})") from None
    if is_dir or root.endswith(".parquet"):
        bars = _parquet_bars(fs, root, is_dir, source, wanted, lo, hi, timeframe, adjustment)
    else:
        bars = [
            bar
            for bar in _csv_bars(source)
            if (wanted is None or bar.symbol in wanted)
            and (lo is None or bar.time_ns >= lo)
            and (hi is None or bar.time_ns < hi)
        ]
    if not bars:
        raise BadInput(
            "--replay",
            source,
            f"holds no bars for symbols {sorted(wanted) if wanted else 'any'} "
            f"between {start or 'the start'} and {end or 'the end'}",
        )
    return bars


def _csv_bars(source: str) -> list[Bar]:
    import fsspec

    try:
        with fsspec.open(source, "rt", compression="infer", encoding="utf-8-sig", newline="") as f:
            return read_bars(f).bars
    except (OSError, FileNotFoundError) as exc:
        raise BadInput("--replay", source, f"cannot be read ({exc})") from None
    except BadRow as exc:
        raise BadInput(f"{source}: line {exc.line}: {exc.field}", exc.value, exc.reason) from None


def _parquet_bars(
    fs: Any,
    root: str,
    is_dir: bool,
    source: str,
    wanted: set[str] | None,
    lo: int | None,
    hi: int | None,
    timeframe: str | None,
    adjustment: str | None,
) -> list[Bar]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    files = sorted(fs.glob(root.rstrip("/") + "/**/*.parquet")) if is_dir else [root]
    if not files:
        raise BadInput("--replay", source, "is a directory with no *.parquet file")
    try:
        data = ds.dataset(files, filesystem=fs, format="parquet")
    except (OSError, pa.ArrowInvalid) as exc:
        raise BadInput("--replay", source, f"is not readable Parquet ({exc})") from None
    names = set(data.schema.names)
    missing = [c for c in _COLUMNS if c not in names]
    if missing:
        raise BadInput("--replay", source, f"lacks column(s) {missing}")
    time_type = data.schema.field("time").type
    where = None

    def both(a: Any, b: Any) -> Any:
        return b if a is None else a & b

    if wanted is not None:
        where = both(where, pc.field("symbol").cast(pa.string()).isin(sorted(wanted)))
    if lo is not None:
        where = both(where, pc.field("time") >= pa.scalar(lo, pa.int64()).cast(time_type))
    if hi is not None:
        where = both(where, pc.field("time") < pa.scalar(hi, pa.int64()).cast(time_type))
    for column, value in (("timeframe", timeframe), ("adjustment", adjustment)):
        if value is not None:
            if column not in names:
                raise BadInput(column, value, f"{source} has no {column} column")
            where = both(where, pc.field(column).cast(pa.string()) == value)
    table = data.to_table(columns=list(_COLUMNS), filter=where)
    times = table.column("time").cast(pa.int64()).to_pylist()
    symbols = table.column("symbol").cast(pa.string()).to_pylist()
    prices = {c: _prices(table.column(c), c) for c in ("open", "high", "low", "close")}
    volumes = [int(v) for v in table.column("volume").to_pylist()]
    order = sorted(range(len(times)), key=lambda i: (times[i], symbols[i]))
    return [
        Bar(
            symbols[i],
            times[i],
            prices["open"][i],
            prices["high"][i],
            prices["low"][i],
            prices["close"][i],
            volumes[i],
        )
        for i in order
    ]


def _prices(column: Any, name: str) -> list[int]:
    """int64 columns are nano-units already; anything else is dollars."""
    import pyarrow as pa

    if pa.types.is_integer(column.type):
        return [int(v) for v in column.to_pylist()]
    return [
        price_from_decimal(str(Decimal(repr(v)) if isinstance(v, float) else v), name)
        for v in column.to_pylist()
    ]


def replay_point_spec(
    source: str,
    symbols: Sequence[str] | None,
    start: str | None,
    end: str | None,
    balance: str,
    seed: int,
    reproduce: str,
) -> RunSpec:
    """The run of one replay point (what ``sim replay`` builds, over a slice)."""
    bars = load_bars(source, symbols, start, end)
    first_close: dict[str, int] = {}
    for bar in bars:
        first_close.setdefault(bar.symbol, bar.close)
    instruments = [Instrument(s, tick=us_equity_tick(c)) for s, c in first_close.items()]
    times = [bar.time_ns for bar in bars]
    sessions = exchange_sessions("XNYS", min(times), max(times))
    label = shlex.quote(source.rsplit("/", 1)[-1] or source)
    return RunSpec(
        scenario=f"replay:{label}",
        seed=seed,
        feed=feed_from_bars(bars, instruments, sessions),
        initial_cash=parse_balance(balance),
        faults=FaultRates(),
        reproduce=reproduce,
    )
