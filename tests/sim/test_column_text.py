"""The columnar CSV text is exactly the per-cell text the outputs always printed.

``sim.column_text`` formats whole columns with pyarrow/numpy kernels; the
oracle is the per-cell code (``format_price``, ``format_time``, ``repr``,
``csv.writer``) that wrote every output before it, and still writes the
streaming ``sim signals`` CLI.
"""

from __future__ import annotations

import csv
import io

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Bar
from core.money import format_price
from core.signals import AgentSignal, Reason, Signal, Zone
from sim.bars_csv import SIGNAL_COLUMNS, signal_row, write_bars, write_signal_rows
from sim.column_text import float_texts, price_texts, time_texts, write_columns
from sim.timefmt import format_time

INT64 = st.integers(-(2**63), 2**63 - 1)
PRICES = st.one_of(
    st.integers(0, 10**15),  # every price a bar carries
    INT64,  # every int64, INT64_MIN included (its magnitude is not an int64)
    st.integers(-(10**30), 10**30),  # beyond int64: the per-cell way
    st.sampled_from([0, 1, -1, 10**9, -(10**9), 1_000_000_001, 2**63 - 1, -(2**63)]),
)
TIMES = st.one_of(
    st.integers(0, 4_000_000_000).map(lambda s: s * 10**9),  # whole seconds, 1970..2096
    st.integers(-(2**63), 2**63 - 1),  # any nanosecond a Bar accepts, before 1970 included
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), PRICES), max_size=40))
def test_price_texts_are_format_price(values: list[int | None]) -> None:
    expected = ["" if v is None else format_price(v) for v in values]
    assert price_texts(values).to_pylist() == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(TIMES, max_size=40))
def test_time_texts_are_format_time(times: list[int]) -> None:
    assert time_texts(times).to_pylist() == [format_time(t) for t in times]


def test_time_texts_at_the_edges() -> None:
    edges = [0, -1, -(10**9), 1, 10**9 + 5, -(2**63), 2**63 - 1]
    assert time_texts(edges).to_pylist() == [format_time(t) for t in edges]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))))
def test_float_texts_are_repr(values: list[float | None]) -> None:
    assert float_texts(values).to_pylist() == ["" if v is None else repr(v) for v in values]


CELLS = st.text(alphabet=st.sampled_from(list('ab ,"\r\n1.-Z')), max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda width: st.tuples(
            st.lists(CELLS, min_size=width, max_size=width),
            st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=8),
        )
    )
)
def test_write_columns_is_csv_writer(table: tuple[list[str], list[list[str]]]) -> None:
    header, rows = table
    columns = [pa.array([r[i] for r in rows], type=pa.string()) for i in range(len(header))]
    ours = io.StringIO()
    write_columns(ours, header, columns)
    theirs = io.StringIO()
    writer = csv.writer(theirs, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    assert ours.getvalue() == theirs.getvalue()


BARS = st.builds(
    lambda t, sym, o, h, lo, c, v: Bar(sym, t, o, max(o, h, lo, c), min(o, h, lo, c), c, v),
    st.integers(0, 4_000_000_000).map(lambda s: s * 10**9),
    st.sampled_from(["AAPL", "BRK.B", "X"]),
    st.integers(1, 10**13),
    st.integers(1, 10**13),
    st.integers(1, 10**13),
    st.integers(1, 10**13),
    st.integers(0, 10**12),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(BARS, max_size=20))
def test_write_bars_is_the_per_row_text(bars: list[Bar]) -> None:
    ours = io.StringIO()
    write_bars(ours, bars)
    theirs = io.StringIO()
    writer = csv.writer(theirs, lineterminator="\n")
    writer.writerow(("time", "symbol", "open", "high", "low", "close", "volume"))
    for b in bars:
        writer.writerow(
            (
                format_time(b.time_ns),
                b.symbol,
                format_price(b.open),
                format_price(b.high),
                format_price(b.low),
                format_price(b.close),
                b.volume,
            )
        )
    assert ours.getvalue() == theirs.getvalue()
    write_bars(generated := io.StringIO(), iter(bars))  # any iterable, not only a list
    assert generated.getvalue() == ours.getvalue()


ZONES = st.one_of(
    st.none(), st.builds(lambda a, b: Zone(a, a + b), st.integers(1, 10**13), st.integers(1, 10**9))
)
SIGNALS = st.builds(
    AgentSignal,
    st.sampled_from(["AAPL", "MSFT"]),
    TIMES,
    st.sampled_from(list(Signal)),
    st.one_of(st.none(), st.sampled_from(list(Reason))),
    st.one_of(st.none(), st.floats(0, 1)),
    ZONES,
    ZONES,
    st.one_of(st.none(), st.floats(0, 100)),
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 10**10)),
    st.one_of(st.none(), st.integers(1, 10**13)),
    st.sampled_from(["ok", "degraded"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(SIGNALS, max_size=20))
def test_write_signal_rows_is_signal_row(signals: list[AgentSignal]) -> None:
    ours = io.StringIO()
    write_signal_rows(ours, signals)
    theirs = io.StringIO()
    writer = csv.writer(theirs, lineterminator="\n")
    writer.writerow(SIGNAL_COLUMNS)
    writer.writerows(signal_row(s) for s in signals)
    assert ours.getvalue() == theirs.getvalue()
