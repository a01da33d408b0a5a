import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.execution.cost_model import (
    BETA,
    ETA,
    SLICE_PARTICIPATION,
    Algo,
    CostInputs,
    Urgency,
    choose_algorithm,
    min_bars,
    optimal_horizon,
    temporary_impact,
    uniform_cost,
)


def inputs(**kw) -> CostInputs:
    base = dict(
        quantity=50_000.0,
        price=100.0,
        sigma=0.001,
        bar_volume=20_000.0,
        half_spread=0.00005,
        risk_aversion=0.0,
        max_bars=390,
    )
    base.update(kw)
    return CostInputs(**base)


def choose(i: CostInputs, urgency=Urgency.NORMAL, **kw):
    args = dict(algos_allowed=True, has_profile=True, volume_cv=0.5, atr_zscore=0.0)
    args.update(kw)
    return choose_algorithm(i, urgency=urgency, **args)


def test_impact_is_the_square_root_law():
    assert temporary_impact(0.1, 0.02) == pytest.approx(ETA * 0.02 * 0.1**BETA)
    assert temporary_impact(0.0, 0.02) == 0.0


def test_uniform_cost_closed_form_variance():
    i = inputs(risk_aversion=1e-6)
    c = uniform_cost(i, 4)
    x, sp = 50_000.0, 0.1
    assert c.variance == pytest.approx(sp**2 * (x**2) * (0.75**2 + 0.5**2 + 0.25**2))
    assert c.objective == pytest.approx(c.expected + 1e-6 * c.variance)
    assert uniform_cost(i, 1).variance == 0.0


def test_without_risk_aversion_the_longest_horizon_wins_and_with_it_shorter():
    assert optimal_horizon(inputs()).bars == 390
    averse = optimal_horizon(inputs(risk_aversion=1e-5))
    assert 1 < averse.bars < 390
    # the most risk-averse plan is the shortest that keeps to a quarter of a bar
    assert optimal_horizon(inputs(risk_aversion=1.0)).bars == min_bars(inputs()) == 10
    assert optimal_horizon(inputs(quantity=5_000.0, risk_aversion=1.0)).bars == 1


def test_no_plan_takes_more_than_a_quarter_of_a_bar():
    """Issue 12 #5: one-bar MARKET parents of several bars' volume filled 59%."""
    for quantity in (4_000.0, 5_000.0, 5_001.0, 50_000.0, 130_771.0):
        for lam in (0.0, 1e-5, 1.0):
            plan = optimal_horizon(inputs(quantity=quantity, risk_aversion=lam))
            assert plan.participation <= SLICE_PARTICIPATION
    assert choose(inputs(quantity=5_001.0, risk_aversion=1.0)).algo is not Algo.MARKET


def test_retail_and_stops_are_market():
    assert choose(inputs(), algos_allowed=False).algo is Algo.MARKET
    assert choose(inputs(), Urgency.HIGH).algo is Algo.MARKET


def test_small_orders_go_immediately():
    # 100 shares of 20,000 a bar: slicing saves Y·σ·√ρ·(1−1/√2) ≈ $0.10 of
    # impact against λ·(σP)²·X²/4 of timing risk for two bars ($2.50 at λ=0.1)
    assert choose(inputs(quantity=100.0, risk_aversion=1e-1)).algo is Algo.MARKET
    assert choose(inputs(quantity=5_000.0, risk_aversion=1e-3)).algo is Algo.MARKET


def test_risk_averse_large_order_gets_the_is_trajectory():
    choice = choose(inputs(risk_aversion=1e-5))
    assert choice.algo is Algo.IS and choice.kappa * choice.bars > 1


def test_near_linear_plans_are_vwap_with_a_profile_and_twap_without():
    i = inputs(risk_aversion=1e-9)
    assert choose(i).algo is Algo.VWAP
    assert choose(i, has_profile=False).algo is Algo.TWAP


def test_erratic_volume_gets_pov_with_a_capped_rate():
    choice = choose(inputs(risk_aversion=1e-9), volume_cv=1.5)
    assert choice.algo is Algo.POV and 0 < choice.rate <= 0.5


def test_volatility_regime_break_gets_adaptive():
    assert choose(inputs(risk_aversion=1e-9), atr_zscore=2.5).algo is Algo.ADAPTIVE
    assert choose(inputs(risk_aversion=1e-9), atr_zscore=-2.5).algo is Algo.ADAPTIVE
    assert choose(inputs(risk_aversion=1e-9), atr_zscore=1.9).algo is Algo.VWAP


def test_passive_order_bigger_than_a_bar_gets_an_iceberg():
    assert choose(inputs(), Urgency.LOW).algo is Algo.ICEBERG
    assert choose(inputs(quantity=5_000.0), Urgency.LOW).algo is not Algo.ICEBERG


def test_model_impact_reported_at_the_plans_participation():
    choice = choose(inputs(risk_aversion=1e-5))
    rate = 50_000 / choice.bars / 20_000
    assert choice.impact_bps == pytest.approx(ETA * 0.001 * rate**BETA * 1e4)
    assert math.isfinite(choice.expected_cost_bps)


@settings(max_examples=100, deadline=None)
@given(
    quantity=st.floats(1, 1e6),
    sigma=st.floats(0, 0.05),
    volume=st.floats(0, 1e6),
    lam=st.sampled_from([0.0, 1e-9, 1e-7, 1e-5, 1e-3]),
    max_bars=st.integers(1, 200),
)
def test_fast_horizon_scan_agrees_with_the_reference_cost(quantity, sigma, volume, lam, max_bars):
    i = inputs(
        quantity=quantity, sigma=sigma, bar_volume=volume, risk_aversion=lam, max_bars=max_bars
    )
    fast = optimal_horizon(i)
    brute = min(range(min_bars(i), max_bars + 1), key=lambda n: (uniform_cost(i, n).objective, n))
    assert fast.objective == pytest.approx(uniform_cost(i, brute).objective, rel=1e-9)
