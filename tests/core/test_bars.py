"""Bar validation (SPEC §3) and per-symbol time order."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from core.events import Bar, BarSequenceGuard

GOOD: dict[str, Any] = dict(
    symbol="ACME", time_ns=1_000, open=100, high=120, low=90, close=110, volume=5
)


def _bar(**changes: Any) -> Bar:
    return Bar(**{**GOOD, **changes})


def test_good_bar_builds() -> None:
    bar = _bar()
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (100, 120, 90, 110, 5)
    assert _bar(open=90, high=90, low=90, close=90).high == 90  # a flat bar is valid
    assert _bar(volume=0).volume == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"low": 0, "open": 0, "close": 0}, "low"),  # 0 < low
        ({"low": -5}, "low"),
        ({"low": 101}, "low"),  # low ≤ open
        ({"low": 105, "open": 110, "close": 104}, "low"),  # low ≤ close
        ({"high": 105}, "high"),  # close ≤ high
        ({"high": 100, "open": 101, "close": 95}, "high"),  # open ≤ high
        ({"volume": -1}, "volume"),
        ({"volume": 2**63}, "volume"),
        ({"symbol": ""}, "symbol"),
        ({"open": 100.0}, "open"),  # floats never carry money
        ({"close": "110"}, "close"),
        ({"volume": 5.0}, "volume"),
        ({"time_ns": 1.5}, "time_ns"),
        ({"high": True}, "high"),
        ({"vwap": 121}, "vwap"),
        ({"vwap": 89}, "vwap"),
        ({"trades": -1}, "trades"),
    ],
)
def test_each_rule_is_rejected_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as info:
        _bar(**changes)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}=")
    assert info.value.value == changes[field]


prices = st.integers(1, 10**6)


@settings(max_examples=300, deadline=None)
@given(o=prices, h=prices, low=prices, c=prices)
def test_validity_is_exactly_the_spec_inequality(o: int, h: int, low: int, c: int) -> None:
    valid = 0 < low <= min(o, c) <= max(o, c) <= h
    try:
        Bar("X", 1, o, h, low, c, 1)
    except BadInput as exc:
        assert not valid
        assert exc.field in ("low", "high")
    else:
        assert valid


def test_sequence_guard() -> None:
    guard = BarSequenceGuard()
    guard.accept(_bar(time_ns=10))
    guard.accept(_bar(symbol="OTHER", time_ns=5))  # other symbols have their own clock
    for when in (10, 9):
        with pytest.raises(BadInput) as info:
            guard.accept(_bar(time_ns=when))
        assert info.value.field == "time"
        assert info.value.value == when
    # the rejected bars changed nothing
    assert guard.last_time("ACME") == 10
    guard.check(_bar(time_ns=11))  # check() alone does not advance
    assert guard.last_time("ACME") == 10
    guard.accept(_bar(time_ns=11))
    assert guard.last_time("ACME") == 11
    assert guard.last_time("OTHER") == 5
    assert guard.last_time("NONE") is None


# Regression (was a bug, found by this suite): core/errors.py BadInput.__init__ formats the
# value with !r; for an int of more than 4300 digits (e.g. a CSV price of 1e5000, accepted by
# price_from_decimal) repr() raises ValueError (int max str digits), so Bar validation crashes
# instead of rejecting the bar
def test_huge_int_value_is_rejected_not_crashing() -> None:
    with pytest.raises(BadInput) as info:
        _bar(high=10**5000)
    assert info.value.field == "high"
