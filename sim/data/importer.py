"""Reading the bar files users already have: three layouts, CSV or Parquet.

The layout is decided from the header alone and stated to the user:

- ``sovereign``: the signal CLI's ``time,symbol,open,high,low,close,volume``;
- ``yahoo``: ``Date,Open,High,Low,Close,Adj Close,Volume`` daily files (one
  symbol, so ``--symbol`` is required). Yahoo's Close is already split-adjusted,
  so the bars are labelled ``split``; with ``adjust`` every price is scaled by
  Adj Close / Close (splits *and* dividends) and labelled ``all``;
- ``bars``: Alpaca/Polygon-style ``timestamp,open,high,low,close,volume`` with
  optional ``trade_count``, ``vwap`` and ``symbol`` (else ``--symbol``);
  timestamps ISO-8601 or epoch seconds/milliseconds/microseconds/nanoseconds.

Bad rows raise ``BadRow`` naming line, field and value exactly like the signal
CLI (``line 7: low='10.5': is above min(open, close)``); with ``skip_bad``
they are collected and every good row is kept.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from core.errors import BadInput
from core.events import Bar
from core.money import price_from_decimal, to_decimal_input
from sim.bars_csv import BadRow, parse_volume
from sim.timefmt import parse_time

DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class Layout:
    name: str
    columns: dict[str, str]  # our field -> the file's column name
    optional: dict[str, str]
    description: str


@dataclass
class Imported:
    path: Path
    layout: Layout
    bars: list[Bar] = field(default_factory=list)
    rejected: list[BadRow] = field(default_factory=list)
    adjustment: str = "raw"

    @property
    def timeframe(self) -> str:
        return detect_timeframe(self.bars)

    def describe(self) -> str:
        return f"{self.path}: layout {self.layout.name} ({self.layout.description})"


def _find(header: Sequence[str], *names: str) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def detect_layout(header: Sequence[str]) -> Layout:
    """The layout a header belongs to, or ``BadInput`` naming the header."""
    clean = [h.strip() for h in header]
    lower = {h.lower() for h in clean}
    if {"time", "symbol", "open", "high", "low", "close", "volume"} == lower:
        exact = {name: h for h in clean for name in [h.lower()]}
        return Layout("sovereign", exact, {}, "time,symbol,open,high,low,close,volume")
    adj = _find(clean, "adj close", "adj. close*", "adj_close", "adjclose")
    base = {k: _find(clean, k) for k in ("open", "high", "low", "close", "volume")}
    date = _find(clean, "date")
    if date is not None and adj is not None and all(base.values()):
        cols = {"time": date}
        cols.update({k: v for k, v in base.items() if v is not None})
        return Layout("yahoo", cols, {"adj_close": adj}, "Yahoo daily: " + ",".join(clean))
    stamp = _find(clean, "timestamp")
    if stamp is not None and all(base.values()):
        known = {"timestamp", "open", "high", "low", "close", "volume", "trade_count", "vwap"}
        known.add("symbol")
        extra = [h for h in clean if h.lower() not in known]
        if extra:
            raise BadInput("header", ",".join(clean), f"has unknown column(s) {extra}")
        optional = {
            k: v
            for k, v in (
                ("trades", _find(clean, "trade_count")),
                ("vwap", _find(clean, "vwap")),
                ("symbol", _find(clean, "symbol")),
            )
            if v is not None
        }
        cols = {"time": stamp}
        cols.update({k: v for k, v in base.items() if v is not None})
        return Layout("bars", cols, optional, "Alpaca/Polygon bars: " + ",".join(clean))
    raise BadInput(
        "header",
        ",".join(clean),
        "is none of the known layouts: time,symbol,open,high,low,close,volume | "
        "Date,Open,High,Low,Close,Adj Close,Volume | "
        "timestamp,open,high,low,close,volume[,trade_count,vwap]",
    )


def parse_stamp(text: str, column: str) -> int:
    """ISO-8601 or epoch; a bare integer is read by its size (s, ms, µs or ns)."""
    raw = text.strip()
    if raw.isdigit() and len(raw) >= 12:
        digits = len(raw)
        scale = 10**6 if digits <= 14 else 10**3 if digits <= 17 else 1
        return int(raw) * scale
    return parse_time(raw, column)


def _price(text: str, column: str, factor: Decimal | None) -> int:
    if factor is None:
        return price_from_decimal(text.strip(), column)
    value = to_decimal_input(text, column) * factor
    return int(value.scaleb(9).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _row_bar(row: dict[str, str], layout: Layout, symbol: str | None, adjust: bool) -> Bar:
    cols = layout.columns

    def cell(name: str) -> str:
        return row.get(cols[name]) or ""

    sym = symbol
    if "symbol" in cols:
        sym = cell("symbol").strip()
    elif "symbol" in layout.optional and (row.get(layout.optional["symbol"]) or "").strip():
        sym = (row.get(layout.optional["symbol"]) or "").strip()
    if not sym:
        raise BadInput("symbol", "", "is not in the file: give --symbol")
    factor = None
    if adjust and "adj_close" in layout.optional:
        adj = to_decimal_input(
            row.get(layout.optional["adj_close"]) or "", layout.optional["adj_close"]
        )
        close = to_decimal_input(cell("close"), cols["close"])
        if close <= 0 or adj <= 0:
            raise BadInput(layout.optional["adj_close"], str(adj), "must be positive")
        factor = adj / close
    time_ns = (
        parse_time(cell("time"), cols["time"])
        if layout.name == "sovereign"
        else parse_stamp(cell("time"), cols["time"])
    )
    values = {k: _price(cell(k), cols[k], factor) for k in ("open", "high", "low", "close")}
    vwap = trades = None
    if "vwap" in layout.optional and (row.get(layout.optional["vwap"]) or "").strip():
        vwap = _price(row[layout.optional["vwap"]], layout.optional["vwap"], factor)
    if "trades" in layout.optional and (row.get(layout.optional["trades"]) or "").strip():
        trades = parse_volume(row[layout.optional["trades"]])
    volume = parse_volume(_whole(cell("volume")))
    try:
        return Bar(sym, time_ns, volume=volume, vwap=vwap, trades=trades, **values)
    except BadInput as exc:
        column = cols.get(exc.field) or layout.optional.get(exc.field) or exc.field
        raise BadInput(column, (row.get(column) or "").strip(), exc.reason) from None


def _whole(text: str) -> str:
    """``1234.0`` (how float columns print) is the whole number 1234."""
    stripped = text.strip()
    return stripped[:-2] if stripped.endswith(".0") else stripped


def _rows(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, dict[str, str]]]]]:
    """(header, numbered rows as text) for a CSV or a Parquet file."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        header = list(table.column_names)

        def text(value: object) -> str:
            if value is None:
                return ""
            if isinstance(value, float):
                return repr(value)  # shortest round-trip text: 185.23 stays 185.23
            return str(value)

        columns = []
        for name in header:
            column = table.column(name)
            if pa.types.is_timestamp(column.type):
                column = column.cast(pa.timestamp(column.type.unit)).cast(pa.int64())
                scale = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}[
                    table.column(name).type.unit
                ]
                columns.append(
                    [str(v * scale) if v is not None else "" for v in column.to_pylist()]
                )
            elif pa.types.is_date(column.type):
                columns.append([v.isoformat() if v else "" for v in column.to_pylist()])
            else:
                columns.append([text(v) for v in column.to_pylist()])

        def numbered() -> Iterator[tuple[int, dict[str, str]]]:
            for index, values in enumerate(zip(*columns, strict=True)):
                yield index + 2, dict(zip(header, values, strict=True))

        yield header, numbered()
        return
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.DictReader(stream)
        header = list(reader.fieldnames or [])

        def numbered_csv() -> Iterator[tuple[int, dict[str, str]]]:
            for row in reader:
                if None in row:
                    raise BadRow(
                        reader.line_num,
                        BadInput("row", row[None], "has more fields than the header"),
                    )
                yield reader.line_num, row

        yield header, numbered_csv()


def import_file(
    path: Path, symbol: str | None = None, adjust: bool = False, skip_bad: bool = False
) -> Imported:
    """Read one file in any known layout; raises ``BadInput``/``BadRow`` on bad input."""
    try:
        for header, rows in _rows(path):
            try:
                layout = detect_layout(header)
            except BadInput as exc:
                raise BadRow(1, exc) from None
            if adjust and "adj_close" not in layout.optional:
                raise BadInput(
                    "--adjust", str(path), f"the {layout.name} layout has no adjusted close"
                )
            result = Imported(path, layout)
            result.adjustment = ("all" if adjust else "split") if layout.name == "yahoo" else "raw"
            last: dict[str, int] = {}
            for line, row in _iter_checked(rows, skip_bad, result):
                try:
                    bar = _row_bar(row, layout, symbol, adjust)
                    previous = last.get(bar.symbol)
                    if previous is not None and bar.time_ns <= previous:
                        raise BadInput(
                            layout.columns["time"],
                            row.get(layout.columns["time"]),
                            f"is not later than {bar.symbol}'s previous bar",
                        )
                except BadInput as exc:
                    bad = BadRow(line, exc)
                    if not skip_bad:
                        raise bad from None
                    result.rejected.append(bad)
                    continue
                last[bar.symbol] = bar.time_ns
                result.bars.append(bar)
            return result
    except OSError as exc:
        raise BadInput("FILE", str(path), f"cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInput("FILE", str(path), "is not UTF-8 text (nor Parquet)") from None
    except (ValueError, TypeError) as exc:
        if isinstance(exc, BadInput):
            raise
        raise BadInput("FILE", str(path), f"cannot be read: {exc}") from None
    raise BadInput("FILE", str(path), "is empty")


def _iter_checked(
    rows: Iterator[tuple[int, dict[str, str]]], skip_bad: bool, result: Imported
) -> Iterator[tuple[int, dict[str, str]]]:
    while True:
        try:
            item = next(rows)
        except StopIteration:
            return
        except BadRow as bad:
            if not skip_bad:
                raise
            result.rejected.append(bad)
            continue
        yield item


def detect_timeframe(bars: Sequence[Bar]) -> str:
    """``1Day`` when a symbol's bars are a day or more apart, else the minute spacing."""
    last: dict[str, int] = {}
    spacing: int | None = None
    for bar in bars:
        previous = last.get(bar.symbol)
        if previous is not None:
            gap = bar.time_ns - previous
            spacing = gap if spacing is None else min(spacing, gap)
        last[bar.symbol] = bar.time_ns
    if spacing is None or spacing >= DAY_NS:
        return "1Day"
    minutes = max(1, spacing // (60 * 10**9))
    return f"{minutes // 60}Hour" if minutes % 60 == 0 else f"{minutes}Min"


__all__ = ["Imported", "Layout", "detect_layout", "detect_timeframe", "import_file"]
