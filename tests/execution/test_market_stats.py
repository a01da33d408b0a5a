import math

import pytest

from core.events import Bar
from core.execution.market_stats import NS_PER_DAY, SymbolMarket

D = 10**9
MIN = 60 * D
T0 = 1_699_920_000 * D  # UTC midnight


def bar(t: int, volume: int) -> Bar:
    return Bar("AAA", t, 10 * D, 11 * D, 9 * D, 10 * D, volume)


def test_period_adv_and_profile_come_from_the_bars():
    m = SymbolMarket("AAA")
    assert m.bar_period_ns == MIN and not m.has_full_day  # default before two bars
    for day in range(2):
        for minute in (0, 1, 2, 5):
            m.on_bar(bar(T0 + day * NS_PER_DAY + minute * MIN, 100 * (minute + 1)))
    assert m.bar_period_ns == MIN
    assert m.adv == pytest.approx((100 + 200 + 300 + 600) * 2 / 2)
    assert m.bars_per_day == 4 and m.has_full_day
    assert m.profile_weights(T0 + 2 * NS_PER_DAY, MIN, 3) == [200, 400, 600]
    assert m.profile_weights(T0 + 2 * NS_PER_DAY, 2 * MIN, 2) == [600, 600]
    # minutes that never traded: no profile there, so uniform
    assert m.profile_weights(T0 + 2 * NS_PER_DAY + 10 * MIN, MIN, 2) == [1, 1]


def test_uniform_until_a_full_day_of_history():
    m = SymbolMarket("AAA")
    m.on_bar(bar(T0, 1_000))
    m.on_bar(bar(T0 + MIN, 1))
    assert m.profile_weights(T0, MIN, 2) == [1, 1]


def test_volume_dispersion_and_atr_regime():
    m = SymbolMarket("AAA")
    for i, v in enumerate([10, 10, 10, 10]):
        m.on_bar(bar(T0 + i * MIN, v))
    assert m.bar_volume_cv == 0.0 and m.mean_bar_volume == 10
    m.on_bar(bar(T0 + 10 * MIN, 1_000))
    assert m.bar_volume_cv > 1.0
    for atr in (100, 100, 102, 98, 100):
        m.on_atr(atr)
    assert abs(m.atr_zscore()) < 1
    m.on_atr(400)
    assert m.atr_zscore() > 2 and m.atr_ratio() > 2
    m.on_atr(None)
    assert m.atr_zscore() is None and m.atr_ratio() == 1.0
    assert math.isfinite(m.atr_mean)


def test_a_plan_never_runs_past_the_learned_session_close():
    m = SymbolMarket("AAA")
    open_minute = 13 * 60 + 30  # 13:30 UTC, a 390-minute session
    for day in range(2):
        for minute in range(390):
            m.on_bar(bar(T0 + day * NS_PER_DAY + (open_minute + minute) * MIN, 1_000))
    today = T0 + 2 * NS_PER_DAY
    assert m.bars_per_day == 390
    assert m.bars_left_today(today + (open_minute + 380) * MIN, MIN) == 10
    assert m.bars_left_today(today + open_minute * MIN, MIN) == 390
    assert m.bars_left_today(today + 21 * 60 * MIN, MIN) is None  # after the close
    assert m.bars_left_today(today + open_minute * MIN, 5 * MIN) == 78
