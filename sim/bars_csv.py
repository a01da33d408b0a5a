"""Bars CSV in and signals CSV out: the formats the README documents.

Reading is strict: a bad row is an error naming its line, field and value;
with ``skip_bad`` it is counted and skipped instead, and nothing accepted
before it is lost. What cannot be split into rows at all (broken quoting, a
cell over the csv module's 131,072-character limit, bytes that are not UTF-8,
a NUL) ends the read with an error naming the line, ``skip_bad`` or not.
Numbers are plain ASCII decimals: ``Decimal`` alone would also take ``1_0``
and digits of other scripts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO, TypeVar

from core.errors import BadInput
from core.events import Bar
from core.money import format_price, price_from_decimal, to_decimal_input
from core.signals import AgentSignal
from sim.column_text import float_texts, plain_texts, price_texts, time_texts, write_columns
from sim.timefmt import format_time, parse_time

BAR_COLUMNS = ("time", "symbol", "open", "high", "low", "close", "volume")
SIGNAL_COLUMNS = (
    "time",
    "symbol",
    "signal",
    "reason",
    "conviction",
    "support_low",
    "support_high",
    "resistance_low",
    "resistance_high",
    "volume_percentile",
    "spike",
    "granularity",
    "stop",
    "health",
)


_T = TypeVar("_T")
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
# Tickers as exchanges and vendors write them: BRK.B, BTC/USD, ^GSPC, ES=F.
_SYMBOL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/^=:-]{0,31}|\^[A-Za-z0-9._=-]{1,31}", re.ASCII)


class BadRow(BadInput):
    """A CSV row that was rejected; carries its 1-based line number."""

    def __init__(self, line: int, cause: BadInput) -> None:
        self.line = line
        self.cause = cause
        super().__init__(cause.field, cause.value, cause.reason)
        self.args = (f"line {line}: {cause}",)


@dataclass
class BarsFile:
    bars: list[Bar] = field(default_factory=list)
    rejected: list[BadRow] = field(default_factory=list)


def _decimal_text(text: str, column: str) -> str:
    cell = text.strip()
    if not cell:
        raise BadInput(column, text, "is empty")
    if not _DECIMAL.fullmatch(cell):
        raise BadInput(column, text, "is not a plain decimal number (digits 0-9, one '.')")
    return cell


def parse_volume(text: str) -> int:
    dec = to_decimal_input(_decimal_text(text, "volume"), "volume")
    if dec != dec.to_integral_value() or dec < 0:
        raise BadInput("volume", text, "must be a whole number >= 0")
    return int(dec)


def parse_bar_row(row: dict[str, str]) -> Bar:
    symbol = (row.get("symbol") or "").strip()
    if not symbol:
        raise BadInput("symbol", row.get("symbol"), "is empty")
    if not _SYMBOL.fullmatch(symbol):
        raise BadInput(
            "symbol", symbol, "is not a ticker (1-32 of A-Z a-z 0-9 . / ^ = : - _, no spaces)"
        )

    def price(column: str) -> int:
        return price_from_decimal(_decimal_text(row.get(column) or "", column), column)

    try:
        return Bar(
            symbol=symbol,
            time_ns=parse_time(row.get("time") or "", "time"),
            open=price("open"),
            high=price("high"),
            low=price("low"),
            close=price("close"),
            volume=parse_volume(row.get("volume") or ""),
        )
    except BadInput as exc:
        # Bar speaks nano-units; the user wrote decimals. Name the cell as written.
        column = "time" if exc.field == "time_ns" else exc.field
        if column in BAR_COLUMNS and exc.value != row.get(column):
            raise BadInput(column, (row.get(column) or "").strip(), exc.reason) from None
        raise


def read_bars(stream: TextIO, skip_bad: bool = False) -> BarsFile:
    """Parse and validate a bars CSV, including per-symbol time order."""
    reader = csv.DictReader(stream, strict=True)
    fieldnames = _unreadable_as_bad_row(lambda: reader.fieldnames, 1)
    header = list(fieldnames or [])
    missing = [column for column in BAR_COLUMNS if column not in header]
    if missing:
        raise BadRow(1, BadInput("header", ",".join(header), f"lacks column(s) {missing}"))
    extra = [column for column in header if column not in BAR_COLUMNS]
    if extra:
        raise BadRow(1, BadInput("header", ",".join(header), f"has unknown column(s) {extra}"))
    repeated = sorted({column for column in header if header.count(column) > 1})
    if repeated:
        raise BadRow(1, BadInput("header", ",".join(header), f"repeats column(s) {repeated}"))
    result = BarsFile()
    last_time: dict[str, int] = {}
    rows = iter(reader)
    while True:
        row = _unreadable_as_bad_row(lambda: next(rows, None), reader.line_num + 1)
        if row is None:
            break
        line = reader.line_num
        try:
            if None in row:
                raise BadInput("row", row[None], "has more fields than the header")
            bar = parse_bar_row(row)
            previous = last_time.get(bar.symbol)
            if previous is not None and bar.time_ns <= previous:
                raise BadInput(
                    "time", row["time"], f"is not later than {bar.symbol}'s previous bar"
                )
        except BadInput as exc:
            bad = BadRow(line, exc)
            if not skip_bad:
                raise bad from None
            result.rejected.append(bad)
            continue
        last_time[bar.symbol] = bar.time_ns
        result.bars.append(bar)
    return result


def _unreadable_as_bad_row(read: Callable[[], _T], line: int) -> _T:
    """Call ``read``; text that cannot be decoded or split into rows is a ``BadRow``."""
    try:
        return read()
    except UnicodeDecodeError as exc:
        raw = exc.object[exc.start : exc.end]
        shown = raw.hex(" ") if isinstance(raw, bytes) else repr(raw)
        raise BadRow(line, BadInput("encoding", shown, "is not UTF-8 text")) from None
    except csv.Error as exc:
        reason = "cannot be split into CSV rows"
        if "unexpected end of data" in str(exc):
            reason += " (a quote that is never closed?)"
        raise BadRow(line, BadInput("csv", str(exc), reason)) from None


def read_bars_file(path: Path, skip_bad: bool = False) -> BarsFile:
    """``read_bars`` over a file: UTF-8 (a byte-order mark is fine), and bytes
    that are not UTF-8 are reported with the line they are on. ``OSError``
    (missing, unreadable) is left to the caller, which names its option."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        shown = data[exc.start : exc.end].hex(" ")
        raise BadRow(line, BadInput("encoding", shown, "is not UTF-8 text")) from None
    return read_bars(io.StringIO(text, newline=""), skip_bad=skip_bad)


def write_bars(stream: TextIO, rows: Iterable[Bar]) -> None:
    """``bars.csv``: a column at a time (``sim.column_text``), the text of the per-row form."""
    bars = rows if isinstance(rows, Sequence) else list(rows)
    write_columns(
        stream,
        BAR_COLUMNS,
        (
            time_texts([b.time_ns for b in bars]),
            plain_texts([b.symbol for b in bars]),
            price_texts([b.open for b in bars]),
            price_texts([b.high for b in bars]),
            price_texts([b.low for b in bars]),
            price_texts([b.close for b in bars]),
            plain_texts([b.volume for b in bars]),
        ),
    )


def write_signal_rows(stream: TextIO, signals: Sequence[AgentSignal]) -> None:
    """``signals.csv`` in bulk: the same text as ``signal_row`` per signal."""
    supports = [s.support for s in signals]
    resistances = [s.resistance for s in signals]
    write_columns(
        stream,
        SIGNAL_COLUMNS,
        (
            time_texts([s.time_ns for s in signals]),
            plain_texts([s.symbol for s in signals]),
            plain_texts([s.signal.value for s in signals]),
            plain_texts(["" if s.reason is None else s.reason.value for s in signals]),
            float_texts([s.conviction for s in signals]),
            price_texts([None if z is None else z.low for z in supports]),
            price_texts([None if z is None else z.high for z in supports]),
            price_texts([None if z is None else z.low for z in resistances]),
            price_texts([None if z is None else z.high for z in resistances]),
            float_texts([s.volume_percentile for s in signals]),
            plain_texts(["true" if s.spike else "false" for s in signals]),
            price_texts([s.granularity for s in signals]),
            price_texts([s.stop for s in signals]),
            plain_texts([s.health for s in signals]),
        ),
    )


def _price_or_blank(value: int | None) -> str:
    return "" if value is None else format_price(value)


def _float_or_blank(value: float | None) -> str:
    return "" if value is None else repr(value)


def signal_row(signal: AgentSignal) -> tuple[str, ...]:
    support, resistance = signal.support, signal.resistance
    return (
        format_time(signal.time_ns),
        signal.symbol,
        signal.signal.value,
        "" if signal.reason is None else signal.reason.value,
        _float_or_blank(signal.conviction),
        _price_or_blank(None if support is None else support.low),
        _price_or_blank(None if support is None else support.high),
        _price_or_blank(None if resistance is None else resistance.low),
        _price_or_blank(None if resistance is None else resistance.high),
        _float_or_blank(signal.volume_percentile),
        "true" if signal.spike else "false",
        _price_or_blank(signal.granularity),
        _price_or_blank(signal.stop),
        signal.health,
    )


def write_signals(stream: TextIO, signals: Iterable[AgentSignal]) -> Iterator[AgentSignal]:
    """Write rows as the signals stream past; yields each signal on."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(SIGNAL_COLUMNS)
    for signal in signals:
        writer.writerow(signal_row(signal))
        yield signal
