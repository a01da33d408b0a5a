"""Travel profile (SPEC §4.2–§4.3): both twins against a brute-force recount,
and the compiled twin against the reference on long mixed workloads."""

from __future__ import annotations

import numpy as np
from core._sr import TravelProfile
from hypothesis import given, settings
from hypothesis import strategies as st

from core.sr import PyTravelProfile
from tests.core.reference import brute_levels, travel_count

# Bars in ticks; width 0 gives low == high bars (they only widen the domain).
bars_st = st.tuples(st.integers(1, 400), st.integers(0, 60)).map(lambda t: (t[0], t[0] + t[1]))
g_st = st.one_of(st.integers(1, 40), st.integers(41, 1000))  # up to wider than the domain


def _feed(profiles: list, low: int, high: int) -> None:
    for profile in profiles:
        profile.add_bar(low, high, low, high)


@settings(max_examples=150, deadline=None)
@given(bars=st.lists(bars_st, min_size=1, max_size=40), g=g_st)
def test_every_bucket_score_is_the_brute_force_recount(bars: list, g: int) -> None:
    compiled, pure = TravelProfile(), PyTravelProfile()
    for low, high in bars:
        _feed([compiled, pure], low, high)
    lowest = min(low for low, _ in bars) // g
    highest = max(high for _, high in bars) // g
    # Buckets beyond the domain too: the compiled twin answers those differently.
    for bucket in range(lowest - 2, highest + 3):
        expected = -travel_count(bars, bucket, g)
        assert pure.score(bucket, g) == expected
        assert compiled.score(bucket, g) == expected
    assert pure.travelled == compiled.travelled == sum(1 for lo, hi in bars if lo < hi)


@settings(max_examples=150, deadline=None)
@given(
    bars=st.lists(bars_st, min_size=1, max_size=40),
    g=g_st,
    prices=st.lists(st.integers(1, 480), min_size=1, max_size=6),
)
def test_levels_are_the_brute_force_best_buckets(bars: list, g: int, prices: list) -> None:
    compiled, pure = TravelProfile(), PyTravelProfile()
    for low, high in bars:
        _feed([compiled, pure], low, high)
    for price in prices:
        expected = brute_levels(bars, price, g)
        assert pure.levels(price, g) == expected
        assert compiled.levels(price, g) == expected


def test_levels_without_bars_are_absent() -> None:
    for cls in (TravelProfile, PyTravelProfile):
        assert cls().levels(100, 3) == (None, None)
        assert cls().domain_ticks is None


def test_ties_go_to_the_bucket_nearest_the_price() -> None:
    """All buckets untravelled except the price's own: nearest ones win."""
    for cls in (TravelProfile, PyTravelProfile):
        profile = cls()
        profile.add_bar(10, 10, 10, 10)  # domain low, no travel
        profile.add_bar(90, 90, 90, 90)  # domain high, no travel
        profile.add_bar(50, 51, 50, 51)
        assert profile.levels(50, 1) == (49, 51)
        assert profile.levels(50, 10) == (4, 6)


# Operations: ("add", low, high) | ("levels", price, g) | ("count", bucket, g)
op_st = st.one_of(
    bars_st.map(lambda b: ("add", b[0], b[1])),
    st.tuples(st.just("levels"), st.integers(1, 480), st.sampled_from([1, 2, 3, 5, 8, 13, 40])),
    st.tuples(st.just("count"), st.integers(-1, 200), st.sampled_from([1, 2, 3, 5, 8, 13, 40])),
)


def _run_ops(ops: list, check_brute: bool) -> None:
    compiled, pure = TravelProfile(), PyTravelProfile()
    bars: list[tuple[int, int]] = []
    for kind, a, b in ops:
        if kind == "add":
            _feed([compiled, pure], a, b)
            bars.append((a, b))
        elif kind == "levels":
            got = compiled.levels(a, b)
            assert got == pure.levels(a, b), (kind, a, b, len(bars))
            if check_brute:
                assert got == brute_levels(bars, a, b)
        else:
            got = compiled.count(a, b)
            assert got == pure.count(a, b), (kind, a, b, len(bars))
            if check_brute:
                assert got == travel_count(bars, a, b)
    assert compiled.domain_ticks == pure.domain_ticks
    assert compiled.travelled == pure.travelled


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(op_st, max_size=120))
def test_compiled_equals_reference_on_interleaved_ops(ops: list) -> None:
    _run_ops(ops, check_brute=True)


def _long_workload(seed: int, n_ops: int) -> list:
    """A drifting market with granularities switching back and forth.

    The drift keeps widening the domain (forcing tree rebuilds); the mix of
    long and short runs between uses of one granularity exercises both the
    lazy catch-up (small backlog) and the rebuild-from-history (large backlog).
    """
    rng = np.random.default_rng(seed)
    ops: list = []
    price = 800
    grans = [1, 2, 3, 4, 7, 16, 50]
    g = 3
    for _ in range(n_ops):
        roll = rng.random()
        if roll < 0.65:
            price = max(5, price + int(rng.integers(-12, 14)))
            width = int(rng.integers(0, 25))
            ops.append(("add", max(1, price - width // 2), price + (width - width // 2)))
        else:
            if rng.random() < 0.3:
                g = int(rng.choice(grans))
            if roll < 0.9:
                ops.append(("levels", max(1, price + int(rng.integers(-40, 40))), g))
            else:
                ops.append(("count", (price + int(rng.integers(-60, 60))) // g, g))
    return ops


def test_compiled_equals_reference_on_long_switching_workloads() -> None:
    for seed in (1, 2, 3):
        _run_ops(_long_workload(seed, 2500), check_brute=False)


def test_domain_growth_after_a_tree_exists() -> None:
    """A tree built on a narrow domain must follow the domain outward both ways."""
    compiled, pure = TravelProfile(), PyTravelProfile()
    _feed([compiled, pure], 500, 510)
    assert compiled.levels(505, 2) == pure.levels(505, 2)
    for step in range(1, 160):  # lows stay positive, as for any valid Bar
        _feed([compiled, pure], 500 - 3 * step, 500 - 3 * step + 4)
        _feed([compiled, pure], 510 + 3 * step, 510 + 3 * step + 4)
        for g in (2, 5):
            for price in (500 - 3 * step, 505, 510 + 3 * step + 4):
                assert compiled.levels(price, g) == pure.levels(price, g)
    assert compiled.domain_ticks == pure.domain_ticks == (500 - 3 * 159, 510 + 3 * 159 + 4)


def test_granularity_must_be_positive() -> None:
    compiled = TravelProfile()
    compiled.add_bar(10, 12, 10, 12)
    for bad in (0, -1):
        try:
            compiled.levels(11, bad)
        except ValueError as exc:
            assert "granularity" in str(exc)
        else:
            raise AssertionError(f"levels accepted g={bad}")
