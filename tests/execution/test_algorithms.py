import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.execution.algorithms import (
    Adaptive,
    Iceberg,
    Pov,
    Progress,
    is_schedule,
    split_lots,
    twap_schedule,
    vwap_schedule,
)
from core.execution.cost_model import ac_holdings, ac_kappa

MIN = 60 * 10**9
lots_st = st.integers(1, 500)
lot_st = st.sampled_from([1, 10, 100])


def slices(schedule):
    previous, out = 0, []
    for _, total in schedule:
        out.append(total - previous)
        previous = total
    return out


@settings(max_examples=200, deadline=None)
@given(lots=lots_st, lot=lot_st, weights=st.lists(st.integers(0, 10_000), min_size=1, max_size=60))
def test_split_lots_is_exact_whole_lots_and_within_a_lot_of_proportional(lots, lot, weights):
    parts = split_lots(lots * lot, weights, lot)
    assert sum(parts) == lots * lot
    assert all(p % lot == 0 and p >= 0 for p in parts)
    total = sum(weights) or len(weights)
    effective = weights if sum(weights) else [1] * len(weights)
    for part, w in zip(parts, effective, strict=True):
        assert abs(part - lots * lot * w / total) < lot + 1e-9


def test_split_lots_refuses_a_broken_lot():
    with pytest.raises(ValueError, match="whole number of lots"):
        split_lots(150, [1, 1], 100)


@settings(max_examples=150, deadline=None)
@given(lots=lots_st, lot=lot_st, bars=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_twap_equal_slices_with_seeded_jitter_inside_each_interval(lots, lot, bars, seed):
    start = 1_000 * MIN
    schedule = twap_schedule(lots * lot, lot, start, MIN, bars, np.random.default_rng(seed))
    parts = slices(schedule)
    assert schedule[-1][1] == lots * lot and sum(parts) == lots * lot
    assert all(p % lot == 0 for p in parts)
    assert max(parts) - min(parts) <= lot
    for k, (t, _) in enumerate(schedule):
        assert start + k * MIN <= t < start + (k + 1) * MIN
    again = twap_schedule(lots * lot, lot, start, MIN, bars, np.random.default_rng(seed))
    assert again == schedule


@settings(max_examples=150, deadline=None)
@given(lots=lots_st, lot=lot_st, weights=st.lists(st.integers(1, 100_000), min_size=1, max_size=60))
def test_vwap_slices_follow_the_profile(lots, lot, weights):
    schedule = vwap_schedule(lots * lot, lot, 0, MIN, weights)
    parts = slices(schedule)
    assert sum(parts) == lots * lot and all(p % lot == 0 for p in parts)
    for part, w in zip(parts, weights, strict=True):
        assert abs(part - lots * lot * w / sum(weights)) < lot


def test_vwap_u_shape_example():
    parts = slices(vwap_schedule(1000, 10, 0, MIN, [4, 1, 1, 4]))
    assert parts == [400, 100, 100, 400]


@settings(max_examples=150, deadline=None)
@given(lots=st.integers(1, 5000), lot=lot_st, bars=st.integers(1, 80), kappa=st.floats(0, 3))
def test_is_schedule_matches_the_almgren_chriss_closed_form(lots, lot, bars, kappa):
    schedule = is_schedule(lots * lot, lot, 0, MIN, bars, kappa)
    parts = slices(schedule)
    assert sum(parts) == lots * lot and all(p >= 0 and p % lot == 0 for p in parts)
    holdings = [lots * lot - total for _, total in schedule]
    for j, held in enumerate(holdings, start=1):
        if kappa * bars < 1e-9:
            exact = lots * lot * (bars - j) / bars
        else:
            exact = lots * lot * math.sinh(kappa * (bars - j)) / math.sinh(kappa * bars)
        assert abs(held - exact) <= lot / 2 + 1e-6 * lots * lot


def test_is_front_loads_and_tends_to_twap_as_risk_aversion_vanishes():
    eager = slices(is_schedule(10_000, 1, 0, MIN, 10, 0.5))
    assert eager == sorted(eager, reverse=True) and eager[0] > eager[-1]
    sigma, eta = 0.5, 1e-4
    previous = None
    for lam in (1e-2, 1e-4, 1e-6, 1e-9, 0.0):
        kappa = ac_kappa(lam, sigma, eta)
        path = ac_holdings(10_000, 10, kappa)
        gap = max(abs(h - 10_000 * (10 - j) / 10) for j, h in enumerate(path))
        if previous is not None:
            assert gap <= previous + 1e-9
        previous = gap
    assert previous == 0.0
    assert slices(is_schedule(10_000, 1, 0, MIN, 10, ac_kappa(1e-12, sigma, eta))) == [1000] * 10


def test_kappa_closed_form():
    lam, sigma, eta = 2e-6, 0.3, 5e-5
    kappa = ac_kappa(lam, sigma, eta)
    assert math.isclose(math.cosh(kappa), 1 + lam * sigma**2 / eta / 2)


@settings(max_examples=150, deadline=None)
@given(
    lots=st.integers(1, 400),
    lot=lot_st,
    rate=st.floats(0.01, 0.5),
    volumes=st.lists(st.integers(0, 50_000), min_size=1, max_size=80),
    fill_fraction=st.lists(st.floats(0, 1), min_size=80, max_size=80),
)
def test_pov_never_exceeds_its_rate_by_more_than_one_lot(lots, lot, rate, volumes, fill_fraction):
    pov = Pov(lots * lot, lot, rate, 0)
    progress = Progress(lots * lot)
    market = 0
    rho = pov.rate_num / pov.rate_den
    for k, volume in enumerate(volumes):
        pov.on_market_volume(volume)
        market += volume
        child = min(pov.allowance(0, progress) - progress.released, progress.unreleased)
        child = child // lot * lot
        if child > 0:
            progress.working += child
        # the child fills (partially) during the bar
        done = int(progress.working * fill_fraction[k]) // lot * lot
        progress.working -= done
        progress.filled += done
        # cumulative participation of everything released so far
        assert progress.released <= rho / (1 - rho) * market + lot
        if progress.filled:
            assert progress.filled / (progress.filled + market) <= rho + lot / (
                progress.filled + market
            )
    assert progress.released <= lots * lot


@settings(max_examples=150, deadline=None)
@given(
    lots=st.integers(1, 400),
    display_lots=st.integers(1, 50),
    lot=lot_st,
    fills=st.lists(st.integers(0, 100), max_size=120),
)
def test_iceberg_never_shows_more_than_its_display(lots, display_lots, lot, fills):
    quantity, display = lots * lot, min(lots, display_lots) * lot
    iceberg = Iceberg(quantity, display, 0)
    progress = Progress(quantity)
    for f in fills:
        child = min(iceberg.allowance(0, progress) - progress.released, progress.unreleased)
        if child > 0:
            progress.working += child // lot * lot
        assert progress.working <= display
        done = min(progress.working, f * lot)
        progress.working -= done
        progress.filled += done
    assert progress.filled <= quantity


@settings(max_examples=100, deadline=None)
@given(
    lots=st.integers(1, 400),
    lot=lot_st,
    bars=st.integers(1, 30),
    ratios=st.lists(st.floats(0, 4), min_size=30, max_size=30),
)
def test_adaptive_releases_exactly_the_parent_by_the_last_interval(lots, lot, bars, ratios):
    adaptive = Adaptive(lots * lot, lot, 0, MIN, bars)
    progress = Progress(lots * lot)
    previous = 0
    for k in range(bars):
        adaptive.set_ratio(ratios[k])
        allowed = adaptive.allowance(k * MIN, progress)
        assert (allowed >= previous and allowed % lot == 0) or allowed == lots * lot
        previous = allowed
    assert adaptive.allowance(bars * MIN, progress) == lots * lot


def test_adaptive_trades_faster_and_crosses_further_when_volatile():
    calm = Adaptive(1000, 1, 0, MIN, 10)
    calm.set_ratio(0.5)
    wild = Adaptive(1000, 1, 0, MIN, 10)
    wild.set_ratio(2.0)
    progress = Progress(1000)
    assert calm.allowance(0, progress) == 50 and wild.allowance(0, progress) == 200
    # issue 12 #2: calm rests at the last price (maker), volatile crosses by round(r) − 1
    assert calm.offset_ticks() == 0 and wild.offset_ticks() == 1
    assert calm.passive and not wild.passive


@pytest.mark.parametrize("lot", [1, 100])
def test_pov_and_iceberg_release_exactly_the_parent_when_everything_fills(lot):
    quantity = 37 * lot
    pov, iceberg = Pov(quantity, lot, 0.2, 0), Iceberg(quantity, 5 * lot, 0)
    for algo in (pov, iceberg):
        progress = Progress(quantity)
        for _ in range(1_000):
            algo.on_market_volume(10 * lot)
            child = min(algo.allowance(0, progress) - progress.released, progress.unreleased)
            child = child // lot * lot
            progress.filled += max(0, child)  # every child fills at once
        assert progress.filled == quantity


@settings(max_examples=150, deadline=None)
@given(
    quantity=st.integers(1, 5_000),
    lot=st.sampled_from([10, 100]),
    bars=st.integers(1, 40),
    kappa=st.floats(0, 2),
    seed=st.integers(0, 100),
)
def test_odd_quantities_close_exactly_with_the_odd_lot_last(quantity, lot, bars, kappa, seed):
    """Exits must close any position, lots or not: only the last slice may be odd."""
    schedules = [
        twap_schedule(quantity, lot, 0, MIN, bars, np.random.default_rng(seed)),
        vwap_schedule(quantity, lot, 0, MIN, list(range(1, bars + 1))),
        is_schedule(quantity, lot, 0, MIN, bars, kappa),
        Adaptive(quantity, lot, 0, MIN, bars).schedule,
    ]
    for schedule in schedules:
        parts = slices(schedule)
        assert sum(parts) == quantity and schedule[-1][1] == quantity
        assert all(p % lot == 0 for p in parts[:-1])
        assert parts[-1] % lot == quantity % lot
    pov = Pov(quantity, lot, 0.5, 0)
    pov.on_market_volume(10 * quantity)
    assert pov.allowance(0, Progress(quantity)) == quantity
