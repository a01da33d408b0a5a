"""Issue 12 #5 and #6: the cost model in daily units, the profile in session minutes.

Both failed on the code the issue was filed against: the impact fit was fed
per-bar volatility (√390 times too small on minute bars), and the intraday
profile was keyed by UTC minute (an hour off after a DST change).
"""

from __future__ import annotations

import math

import pytest

from core.events import Bar
from core.execution.cost_model import (
    BETA,
    ETA,
    Algo,
    CostInputs,
    Urgency,
    choose_algorithm,
    uniform_cost,
)
from core.execution.market_stats import SymbolMarket
from core.health import SessionSchedule
from sim.calendar import exchange_sessions

D = 10**9
MIN = 60 * D


def _inputs(**kw: object) -> CostInputs:
    base: dict[str, object] = dict(
        quantity=60_000.0,
        price=100.0,
        sigma=0.0008,  # a minute bar's σ
        bar_volume=30_000.0,
        half_spread=0.00005,
        risk_aversion=1.0 / 50_000.0,
        max_bars=390,
        day_bars=390,
    )
    base.update(kw)
    return CostInputs(**base)  # type: ignore[arg-type]


def test_impact_is_the_square_root_law_in_daily_units() -> None:
    """Y·σ_day·√(q/V_day): σ_day = σ·√b and V_day = b·v̄, so b cancels.

    The earlier fix scaled σ to a day but kept the slice's participation of a
    *bar*, charging a one-minute slice √390 times the square-root law (the
    model's impact came out ~4× what the simulated tape charged, issue 12 #5).
    """
    inputs = _inputs()
    assert inputs.daily_sigma == pytest.approx(0.0008 * math.sqrt(390))
    assert inputs.daily_volume == pytest.approx(30_000 * 390)
    one_bar = uniform_cost(inputs, 1)
    daily_units = ETA * inputs.daily_sigma * (60_000 / inputs.daily_volume) ** BETA
    assert inputs.slice_impact(60_000) == pytest.approx(daily_units)
    assert one_bar.expected == pytest.approx(60_000 * 100 * (0.00005 + daily_units))
    # per-bar units give the same number: the bars per day cancel
    assert daily_units == pytest.approx(ETA * 0.0008 * (60_000 / 30_000) ** BETA)
    # and so the same bar-level order costs the same whatever the bars per day
    assert uniform_cost(_inputs(day_bars=1), 1).expected == pytest.approx(one_bar.expected)
    assert _inputs(day_bars=1).daily_sigma == 0.0008


def test_an_order_of_two_bars_volume_is_not_one_market_order() -> None:
    """The 130,771-share MARKET parent of issue 12: large against a bar → sliced."""
    choice = choose_algorithm(
        _inputs(),
        urgency=Urgency.NORMAL,
        algos_allowed=True,
        has_profile=True,
        volume_cv=0.5,
        atr_zscore=0.0,
    )
    assert choice.algo is not Algo.MARKET and choice.bars > 4


def _bar(t: int, volume: int) -> Bar:
    return Bar("AAA", t, 10 * D, 11 * D, 9 * D, 10 * D, volume)


def _day(market: SymbolMarket, session: tuple[int, int]) -> None:
    """A session of minute bars whose volume is 1000 + the minute since the open."""
    open_ns, close_ns = session
    for k in range((close_ns - open_ns) // MIN):
        market.on_bar(_bar(open_ns + k * MIN, 1_000 + k))


def _ns(day: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()) * D


SESSIONS = exchange_sessions("XNYS", _ns("2024-03-01"), _ns("2024-12-06"))


def _on(day: str) -> tuple[int, int]:
    """The XNYS session that opens on ``day`` (UTC date)."""
    start = _ns(day)
    return next(s for s in SESSIONS if start <= s[0] < start + 86_400 * D)


def test_profile_is_keyed_by_minutes_since_the_open_across_dst() -> None:
    market = SymbolMarket("AAA", schedule=SessionSchedule(SESSIONS))
    march_8, march_11 = _on("2024-03-08"), _on("2024-03-11")
    assert march_8[0] % (86_400 * D) != march_11[0] % (86_400 * D)  # the clock change
    _day(market, _on("2024-03-07"))
    _day(market, march_8)
    # 19:00 UTC on 2024-03-11 is an hour before the 20:00 UTC close
    nineteen = _ns("2024-03-11") + 19 * 60 * MIN
    assert market.bars_left_today(nineteen, MIN) == 60
    # the first three minutes of trading weigh as the first three did on the 8th
    assert market.profile_weights(march_11[0], MIN, 3) == [2_000, 2_002, 2_004]


def test_an_early_close_ends_the_plan_at_that_close() -> None:
    market = SymbolMarket("AAA", schedule=SessionSchedule(SESSIONS))
    full, black_friday = _on("2024-11-26"), _on("2024-11-29")
    assert black_friday[1] - black_friday[0] == 210 * MIN  # 13:00 New York
    _day(market, _on("2024-11-25"))
    _day(market, full)
    assert market.bars_left_today(black_friday[0] + 200 * MIN, MIN) == 10
