"""Wilder ATR and granularity (SPEC §4.1) against an exact Fraction reference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.atr import WILDER_PERIOD, WilderATR, granularity_ticks
from tests.core.reference import brute_atr, brute_granularity_ticks

hlc = st.tuples(st.integers(1, 10**12), st.integers(0, 10**10), st.integers(0, 100)).map(
    lambda t: (t[0] + t[1], t[0], t[0] + t[1] * t[2] // 100)
)


@settings(max_examples=200, deadline=None)
@given(bars=st.lists(hlc, max_size=60))
def test_atr_matches_fraction_reference_at_every_step(bars: list) -> None:
    atr = WilderATR()
    for t, (high, low, close) in enumerate(bars, start=1):
        got = atr.update(high, low, close)
        expected = brute_atr(bars[:t])
        assert got == expected == atr.value
        assert (got is None) == (t < WILDER_PERIOD)


def test_wilder_period_is_fourteen() -> None:
    assert WILDER_PERIOD == 14


def test_seed_is_mean_of_first_fourteen_true_ranges() -> None:
    atr = WilderATR()
    # 13 bars of range 10, then one of range 17: mean 10.5 -> half even -> 10
    for _ in range(13):
        assert atr.update(110, 100, 105) is None
    assert atr.update(113, 96, 105) == 10  # 147/14 = 10.5 -> 10
    # next: (13·10 + 24)/14 = 11 exactly
    assert atr.update(129, 105, 120) == 11
    # gap up: TR uses the previous close: |H − C| = 150 − 120 = 30
    assert atr.update(150, 145, 148) == round((13 * 11 + 30) / 14)


def test_half_even_on_odd_quotient() -> None:
    """13 bars of range 11 and one of 11+7: 161/14 = 11.5 -> 12 (odd rounds up)."""
    atr = WilderATR()
    for _ in range(13):
        atr.update(111, 100, 105)
    assert atr.update(116, 98, 105) == 12


@settings(max_examples=300, deadline=None)
@given(atr=st.integers(0, 10**13), tick=st.integers(1, 10**8))
def test_granularity_rounds_half_up_with_one_tick_minimum(atr: int, tick: int) -> None:
    assert granularity_ticks(atr, tick) == brute_granularity_ticks(atr, tick)


def test_granularity_examples() -> None:
    cent = 10**7
    assert granularity_ticks(0, cent) == 1  # flat market: still one tick
    assert granularity_ticks(cent // 2 - 1, cent) == 1
    assert granularity_ticks(cent // 2, cent) == 1  # 0.5 -> 1 (half up; also the minimum)
    assert granularity_ticks(5 * cent // 2, cent) == 3  # 2.5 -> 3, not 2
    assert granularity_ticks(7 * cent // 2, cent) == 4  # 3.5 -> 4
    assert granularity_ticks(3 * cent - 1, cent) == 3
