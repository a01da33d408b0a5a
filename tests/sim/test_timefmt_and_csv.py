"""Timestamps and the bars CSV reader, in process."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from core.events import Bar
from sim.bars_csv import BadRow, read_bars, write_bars
from sim.timefmt import format_time, parse_time

INT64_MAX = 2**63 - 1
ANY_NS = st.one_of(
    st.integers(-INT64_MAX, INT64_MAX),  # 1677..2262, everything a Bar accepts
    st.integers(0, 4 * 10**18 // 1000).map(lambda us: us * 1000),  # microsecond-aligned
)


@settings(max_examples=400, deadline=None)
@given(ns=ANY_NS)
def test_iso_round_trip_is_exact(ns: int) -> None:
    text = format_time(ns)
    assert text.endswith("Z") and "T" in text
    assert parse_time(text) == ns
    # the same instant written with an explicit offset, and with a comma
    assert parse_time(text[:-1] + "+00:00") == ns
    assert parse_time(text.replace(".", ",")) == ns


def test_fraction_with_offset_and_before_1970() -> None:
    assert parse_time("2024-03-05T09:30:00.5-05:00") == 1_709_649_000_500_000_000
    assert parse_time("1969-12-31T23:59:59.5Z") == -500_000_000
    assert parse_time("2024-03-05T14:30:00.000000001Z") == 1_709_649_000_000_000_001
    with pytest.raises(BadInput) as info:
        parse_time("2024-03-05T14:30:00.1234567891Z")
    assert info.value.field == "time"


@settings(max_examples=300, deadline=None)
@given(ns=st.integers(0, 4 * 10**18))
def test_epoch_seconds_are_exact_to_the_nanosecond(ns: int) -> None:
    seconds, nanos = divmod(ns, 10**9)
    assert parse_time(f"{seconds}.{nanos:09d}") == ns
    assert parse_time(str(seconds)) == seconds * 10**9


# Regression (was a bug, found by this suite): sim/timefmt.py parse_time uses
# datetime.fromisoformat, which keeps only microseconds: '2024-03-05T14:30:00.123456789Z' parses
# to ...123456000, so format_time's own nanosecond output does not round-trip (the module
# promises 'exactly to the nanosecond')
def test_iso_round_trip_to_the_nanosecond() -> None:
    ns = 1_709_649_000_123_456_789
    assert format_time(ns) == "2024-03-05T14:30:00.123456789Z"
    assert parse_time(format_time(ns)) == ns


def test_time_formats() -> None:
    assert parse_time("2024-03-05T14:30:00Z") == 1_709_649_000 * 10**9
    assert parse_time("2024-03-05 14:30:00") == 1_709_649_000 * 10**9  # naive is UTC
    assert parse_time("2024-03-05T09:30:00-05:00") == 1_709_649_000 * 10**9
    assert parse_time(" 1709649000 ") == 1_709_649_000 * 10**9
    assert format_time(1_709_649_000 * 10**9) == "2024-03-05T14:30:00Z"
    assert format_time(1_709_649_000_500_000_000) == "2024-03-05T14:30:00.5Z"


@pytest.mark.parametrize(
    "bad", ["", "   ", "yesterday", "2024-13-01", "1.2.3", "1709649000.0000000001"]
)
def test_bad_times_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(BadInput) as info:
        parse_time(bad, "when")
    assert info.value.field == "when"
    assert info.value.value == bad


def _bars(n: int) -> list[Bar]:
    return [
        Bar("ACME" if i % 2 else "BETA", (i + 1) * 10**9, 10**10, 11 * 10**9, 9 * 10**9, 10**10, i)
        for i in range(n)
    ]


def test_write_then_read_bars_round_trips() -> None:
    bars = _bars(10)
    buffer = io.StringIO()
    write_bars(buffer, bars)
    loaded = read_bars(io.StringIO(buffer.getvalue()))
    assert loaded.bars == bars
    assert loaded.rejected == []


def test_read_bars_strict_and_skipping() -> None:
    text = (
        "time,symbol,open,high,low,close,volume\n"
        "1,ACME,10,11,9,10,5\n"
        "2,ACME,10,11,9,10,5,EXTRA\n"  # line 3: too many fields
        "2,ACME,10,9,9,10,5\n"  # line 4: high below open
        "3,ACME,10,11,9,10,5\n"
    )
    with pytest.raises(BadRow) as info:
        read_bars(io.StringIO(text))
    assert info.value.line == 3
    assert info.value.field == "row"
    loaded = read_bars(io.StringIO(text), skip_bad=True)
    assert [b.time_ns for b in loaded.bars] == [10**9, 3 * 10**9]
    assert [(r.line, r.field) for r in loaded.rejected] == [(3, "row"), (4, "high")]
    assert str(loaded.rejected[1]).startswith("line 4: high=")


def test_missing_columns_are_named() -> None:
    with pytest.raises(BadRow) as info:
        read_bars(io.StringIO("time,symbol,open,high,low\n"))
    assert info.value.line == 1
    assert "close" in str(info.value) and "volume" in str(info.value)


@given(ANY_NS)
@settings(max_examples=2000)
def test_format_time_is_the_strftime_text(time_ns: int) -> None:
    """The cached-date formatter prints exactly what datetime.strftime printed."""
    from datetime import UTC, datetime

    seconds, nanos = divmod(time_ns, 10**9)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    assert format_time(time_ns) == text + "Z"
