"""SymbolAgent (SPEC §4.5): scenarios, no look-ahead, and a from-scratch
re-implementation of the whole decision, under both twins (``make_agent``)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from core.events import Bar
from core.instruments import CENT, Instrument
from core.money import price_from_decimal
from core.signals import AgentSignal, Reason, Signal, Zone
from tests.conftest import AgentFactory
from tests.core.reference import RawBar, Verdict, brute_agent

D = 10**9  # one dollar in nano-units
MINUTE = 60 * 10**9
T0 = 1_700_000_000 * 10**9
SYM = "ACME"
INSTRUMENT = Instrument(SYM, tick=CENT)

# (low, high, close) in dollars. Every true range is exactly $1, so the ATR
# after bar 14 is $1 and g = 100 ticks: buckets are whole dollars. Counts:
# [9,10) 1, [10,11) 5, [11,12) 6, [12,13) 2, and [13,14) 0 (the all-time high
# 13 lies in it). The last close 11.5 sits in [11,12): support is [9,10)
# (score −1 beats −5), resistance [13,14) (0 beats −2).
WARMUP = [
    (10, 11, 11), (11, 12, 11), (10, 11, 11), (11, 12, 11), (10, 11, 10),
    (9, 10, 10), (10, 11, 11), (11, 12, 12), (12, 13, 12), (11, 12, 12),
    (12, 13, 12), (11, 12, 11), (10, 11, 11), (11, 12, "11.5"),
]  # fmt: skip
SUPPORT = Zone(9 * D, 10 * D)
RESISTANCE = Zone(13 * D, 14 * D)
QUIET, LOUD = 100, 1000  # LOUD is a spike against fourteen 100s


def px(value: object) -> int:
    return price_from_decimal(Decimal(str(value)))


def mk(
    i: int, o: object, h: object, low: object, c: object, v: int, *, t: int | None = None
) -> Bar:
    return Bar(SYM, T0 + i * MINUTE if t is None else t, px(o), px(h), px(low), px(c), v)


def warm(make_agent: AgentFactory, **kwargs: object) -> object:
    agent = make_agent(INSTRUMENT, **kwargs)
    for i, (low, high, close) in enumerate(WARMUP):
        sig = agent.on_bar(mk(i, low, high, low, close, QUIET))
        assert sig.signal is Signal.HOLD
    return agent


def after_warmup(i: int = len(WARMUP)) -> int:
    return T0 + i * MINUTE


# Bars evaluated right after the warm-up (index 14, one minute later).
BOUNCE = ("11", "11.2", "9.8", "10.5")  # low < 10 ≤ close: bounce off support
REJECT = ("12.5", "13.2", "12.4", "12.9")  # high > 13 ≥ close: rejected at resistance
BOTH = ("11", "13.5", "9.5", "11")  # both at once
NEUTRAL = ("11.3", "11.6", "11.2", "11.4")


def bar14(ohlc: tuple, volume: int, i: int = len(WARMUP)) -> Bar:
    return mk(i, *ohlc, volume)


# ----------------------------------------------------------------- warm-up


def test_warm_up_has_no_granularity_and_holds(make_agent: AgentFactory) -> None:
    agent = make_agent(INSTRUMENT)
    for i, (low, high, close) in enumerate(WARMUP):
        # loud bounces during warm-up would be entries if levels existed
        sig = agent.on_bar(mk(i, low, high, low, close, LOUD if i >= 2 else QUIET))
        assert sig.signal is Signal.HOLD
        assert sig.reason is None and sig.conviction is None and sig.stop is None
        assert sig.granularity is None
        assert sig.support is None and sig.resistance is None
    assert agent.granularity == D
    assert agent.atr == D
    assert agent.bars_seen == 14


def test_first_signal_bar_sees_the_designed_levels(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    sig = agent.on_bar(bar14(NEUTRAL, QUIET))
    assert sig.signal is Signal.HOLD
    assert sig.support == SUPPORT
    assert sig.resistance == RESISTANCE
    assert sig.granularity == D
    assert sig.volume_percentile == 0.5
    assert sig.spike is False
    assert sig.symbol == SYM and sig.time_ns == after_warmup()
    assert sig.health == "ok"


def test_volume_fields_during_warm_up(make_agent: AgentFactory) -> None:
    agent = make_agent(INSTRUMENT)
    first = agent.on_bar(mk(0, 10, 11, 10, 11, 100))
    assert first.volume_percentile is None and first.spike is False
    second = agent.on_bar(mk(1, 10, 11, 10, 11, 50))
    assert second.volume_percentile == 0.0
    third = agent.on_bar(mk(2, 10, 11, 10, 11, 100))
    assert third.volume_percentile == 0.75  # (1 less + ½·1 equal) / 2
    fourth = agent.on_bar(mk(3, 10, 11, 10, 11, 10**6))
    assert fourth.spike is True and fourth.signal is Signal.HOLD  # spike, but warm-up


# ----------------------------------------------------------------- entries


def test_enter_long_on_loud_bounce(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    sig = agent.on_bar(bar14(BOUNCE, LOUD))
    assert sig.signal is Signal.ENTER_LONG
    assert sig.reason is Reason.LEVEL
    assert sig.stop == SUPPORT.low - CENT == px("8.99")
    assert sig.spike is True
    assert sig.volume_percentile == 1.0
    assert sig.conviction == sig.volume_percentile
    assert agent.position == (1, px("8.99"))


def test_enter_short_on_loud_rejection(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    sig = agent.on_bar(bar14(REJECT, LOUD))
    assert sig.signal is Signal.ENTER_SHORT
    assert sig.reason is Reason.LEVEL
    assert sig.stop == RESISTANCE.high == 14 * D
    assert sig.conviction == 1.0
    assert agent.position == (-1, 14 * D)


@pytest.mark.parametrize("ohlc", [BOUNCE, REJECT], ids=["bounce", "reject"])
def test_no_entry_without_a_volume_spike(make_agent: AgentFactory, ohlc: tuple) -> None:
    agent = warm(make_agent)
    sig = agent.on_bar(bar14(ohlc, QUIET))
    assert sig.signal is Signal.HOLD and sig.spike is False
    assert sig.conviction is None
    assert agent.position == (0, None)


def test_close_exactly_at_the_zone_edge_counts(make_agent: AgentFactory) -> None:
    """ENTER_LONG needs close ≥ sₕ (equal is a bounce); ENTER_SHORT close ≤ rₗ."""
    agent = warm(make_agent)
    assert agent.on_bar(bar14(("10", "11", "9.9", "10"), LOUD)).signal is Signal.ENTER_LONG
    agent = warm(make_agent)
    assert agent.on_bar(bar14(("13", "13.1", "12", "13"), LOUD)).signal is Signal.ENTER_SHORT
    # low == sₕ is not below the zone's top: no bounce
    agent = warm(make_agent)
    assert agent.on_bar(bar14(("10", "11", "10", "10.5"), LOUD)).signal is Signal.HOLD


def test_hold_when_both_entries_hold(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    sig = agent.on_bar(bar14(BOTH, LOUD))
    assert sig.signal is Signal.HOLD
    assert sig.spike is True
    assert sig.reason is None and sig.stop is None and sig.conviction is None
    assert agent.position == (0, None)


def test_not_self_tracking_signals_but_keeps_position(make_agent: AgentFactory) -> None:
    agent = warm(make_agent, self_tracking=False)
    first = agent.on_bar(bar14(BOUNCE, LOUD))
    assert first.signal is Signal.ENTER_LONG
    assert agent.position == (0, None)  # only set_position moves it
    agent.set_position(1, first.stop)
    assert agent.position == (1, first.stop)
    agent.set_position(0, 123)
    assert agent.position == (0, None)  # flat carries no stop


def test_no_pyramiding(make_agent: AgentFactory) -> None:
    agent = warm(make_agent, self_tracking=False)
    agent.set_position(1, 5 * D)
    assert agent.on_bar(bar14(BOUNCE, LOUD)).signal is Signal.HOLD
    agent = warm(make_agent, self_tracking=False)
    agent.set_position(-1, 50 * D)
    assert agent.on_bar(bar14(REJECT, LOUD)).signal is Signal.HOLD


# ------------------------------------------------------------------- exits


def test_exit_long_at_resistance(make_agent: AgentFactory) -> None:
    agent = warm(make_agent, self_tracking=False)
    agent.set_position(1, 5 * D)
    sig = agent.on_bar(bar14(REJECT, QUIET))  # exits need no spike
    assert sig.signal is Signal.EXIT_LONG
    assert sig.reason is Reason.LEVEL
    assert sig.stop == 5 * D  # the stop of the position it closes
    assert sig.conviction == sig.volume_percentile
    assert agent.position == (1, 5 * D)  # not self-tracking


def test_exit_long_on_stop(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    agent.set_position(1, px("10.5"))
    sig = agent.on_bar(bar14(("11", "11.2", "10.5", "11"), QUIET))  # low == stop
    assert sig.signal is Signal.EXIT_LONG
    assert sig.reason is Reason.STOP
    assert sig.stop == px("10.5")
    assert agent.position == (0, None)


def test_stop_takes_precedence_over_level_exit(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    agent.set_position(1, px("12.5"))
    sig = agent.on_bar(bar14(REJECT, LOUD))  # stop hit AND resistance rejection
    assert (sig.signal, sig.reason, sig.stop) == (Signal.EXIT_LONG, Reason.STOP, px("12.5"))


def test_exit_short_at_support(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    agent.set_position(-1, 20 * D)
    sig = agent.on_bar(bar14(BOUNCE, QUIET))
    assert (sig.signal, sig.reason, sig.stop) == (Signal.EXIT_SHORT, Reason.LEVEL, 20 * D)
    assert agent.position == (0, None)


def test_exit_short_on_stop(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    agent.set_position(-1, px("11.2"))
    sig = agent.on_bar(bar14(("11", "11.2", "10.9", "11.1"), QUIET))  # high == stop
    assert (sig.signal, sig.reason, sig.stop) == (Signal.EXIT_SHORT, Reason.STOP, px("11.2"))
    assert agent.position == (0, None)


def test_no_reentry_in_the_exit_bar(make_agent: AgentFactory) -> None:
    """A loud rejection stops a long out; it must not also open the short."""
    agent = warm(make_agent)
    agent.set_position(1, px("12.5"))
    sig = agent.on_bar(bar14(REJECT, LOUD))
    assert sig.signal is Signal.EXIT_LONG
    assert agent.position == (0, None)


def test_entry_then_stop_out_self_tracking(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    assert agent.on_bar(bar14(BOUNCE, LOUD)).signal is Signal.ENTER_LONG
    # next bar trades through 8.99
    sig = agent.on_bar(mk(15, "10", "10", "8.9", "9", QUIET))
    assert (sig.signal, sig.reason, sig.stop) == (Signal.EXIT_LONG, Reason.STOP, px("8.99"))
    assert agent.position == (0, None)


# ------------------------------------------------------------------ health


def test_stale_symbol_opens_nothing_but_gap_does(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    stale = agent.on_bar(mk(0, *BOUNCE, LOUD, t=after_warmup() + 3 * MINUTE))  # 3 missed
    assert stale.health == "stale"
    assert stale.signal is Signal.HOLD and stale.spike is True
    agent = warm(make_agent)
    gap = agent.on_bar(mk(0, *BOUNCE, LOUD, t=after_warmup() + MINUTE))  # 1 missed
    assert gap.health == "gap"
    assert gap.signal is Signal.ENTER_LONG


def test_stale_symbol_still_exits(make_agent: AgentFactory) -> None:
    agent = warm(make_agent)
    agent.set_position(1, px("10.5"))
    sig = agent.on_bar(mk(0, "11", "11.2", "10.4", "11", QUIET, t=after_warmup() + 5 * MINUTE))
    assert sig.health == "stale"
    assert (sig.signal, sig.reason) == (Signal.EXIT_LONG, Reason.STOP)


# -------------------------------------------------------------- bad input


def test_rejects_wrong_symbol_and_old_time_without_changing_state(
    make_agent: AgentFactory,
) -> None:
    agent = warm(make_agent)
    reference = warm(make_agent)
    last = after_warmup() - MINUTE
    bad_bars = [
        (Bar("OTHER", after_warmup(), 11 * D, 11 * D, 11 * D, 11 * D, 5), "symbol", "OTHER"),
        (mk(0, *BOUNCE, LOUD, t=last), "time", last),
        (mk(0, *BOUNCE, LOUD, t=last - 1), "time", last - 1),
    ]
    for bar, field, value in bad_bars:
        with pytest.raises(BadInput) as info:
            agent.on_bar(bar)
        assert info.value.field == field
        assert info.value.value == value
    assert agent.bars_seen == 14
    assert agent.on_bar(bar14(BOUNCE, LOUD)) == reference.on_bar(bar14(BOUNCE, LOUD))


def test_set_position_validation(make_agent: AgentFactory) -> None:
    agent = make_agent(INSTRUMENT)
    with pytest.raises(BadInput) as info:
        agent.set_position(2, 5)
    assert info.value.field == "direction"
    with pytest.raises(BadInput) as info:
        agent.set_position(1, None)
    assert info.value.field == "stop"
    assert agent.position == (0, None)


# ------------------------------------------------- random bars: properties

step = st.tuples(
    st.integers(-30, 30),  # drift of the bar's centre, ticks
    st.integers(0, 25),  # ticks above the centre
    st.integers(0, 25),  # ticks below the centre
    st.integers(0, 100),  # where the close sits in [low, high], %
    st.one_of(st.integers(1, 200), st.integers(1000, 5000)),  # quiet or loud volume
    st.sampled_from([1, 1, 1, 1, 1, 2, 3]),  # minutes since the previous bar
)


def build_bars(
    steps: list, start_ns: int = T0, centre: int = 1000, prev_close: int | None = None
) -> list[Bar]:
    """Valid bars in cents from hypothesis draws: open at the last close, clamped."""
    bars = []
    t = start_ns
    for drift, up, down, close_pct, volume, minutes in steps:
        centre = max(down + 1, centre + drift)
        low, high = centre - down, centre + up
        close = low + (high - low) * close_pct // 100
        o = close if prev_close is None else min(max(prev_close, low), high)
        t += minutes * MINUTE
        bars.append(Bar(SYM, t, o * CENT, high * CENT, low * CENT, close * CENT, volume))
        prev_close = close
    return bars


def run(make_agent: AgentFactory, bars: list[Bar], **kwargs: object) -> list[AgentSignal]:
    agent = make_agent(INSTRUMENT, **kwargs)
    return [agent.on_bar(bar) for bar in bars]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    head=st.lists(step, min_size=1, max_size=45),
    tail_a=st.lists(step, max_size=15),
    tail_b=st.lists(step, min_size=1, max_size=15),
)
def test_no_look_ahead(make_agent: AgentFactory, head: list, tail_a: list, tail_b: list) -> None:
    """Signals for bars 1..t do not depend on anything after bar t."""
    prefix = build_bars(head)
    last = prefix[-1]
    tail1 = build_bars(tail_a, last.time_ns, last.close // CENT, last.close // CENT)
    tail2 = build_bars(tail_b, last.time_ns, 10 * last.close // CENT, last.close // CENT)
    first = run(make_agent, prefix + tail1)
    second = run(make_agent, prefix + tail2)
    alone = run(make_agent, prefix)
    assert first[: len(prefix)] == second[: len(prefix)] == alone


def verdict_of(sig: AgentSignal) -> Verdict:
    return Verdict(
        sig.signal.value,
        None if sig.reason is None else sig.reason.value,
        None if sig.support is None else tuple(sig.support),
        None if sig.resistance is None else tuple(sig.resistance),
        sig.volume_percentile,
        sig.spike,
        sig.granularity,
        sig.stop,
        sig.health,
    )


def assert_matches_brute_force(signals: list[AgentSignal], bars: list[Bar]) -> list[Verdict]:
    raw = [RawBar(b.time_ns, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    expected = brute_agent(raw, CENT)
    for t, (sig, want) in enumerate(zip(signals, expected, strict=True)):
        assert verdict_of(sig) == want, f"bar {t}: {bars[t]}"
        assert sig.conviction == (None if want.signal == "HOLD" else want.percentile)
        assert sig.symbol == SYM and sig.time_ns == bars[t].time_ns
    return expected


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(step, min_size=15, max_size=60))
def test_agent_equals_from_scratch_spec_decision(make_agent: AgentFactory, steps: list) -> None:
    bars = build_bars(steps)
    assert_matches_brute_force(run(make_agent, bars), bars)


def range_bound_bars(seed: int, n: int) -> list[Bar]:
    """A mean-reverting market with heavy volume at the range's edges."""
    rng = np.random.default_rng(seed)
    steps = []
    centre = mid = 1000
    for _ in range(n):
        drift = int(rng.normal(0, 12)) + (mid - centre) // 8
        centre += drift
        edge = abs(centre - mid) > 40
        loud = edge and rng.random() < 0.7
        volume = int(rng.integers(2000, 6000)) if loud else int(rng.integers(50, 300))
        minutes = 1 if rng.random() < 0.97 else int(rng.integers(2, 5))
        up, down, pct = (int(x) for x in rng.integers(0, [30, 30, 101]))
        steps.append((drift, up, down, pct, volume, minutes))
    return build_bars(steps)


def test_agent_equals_from_scratch_on_range_bound_markets(make_agent: AgentFactory) -> None:
    """Long deterministic runs; also proves the comparison saw every kind of signal."""
    seen: set[tuple[str, str | None]] = set()
    for seed in (2, 3, 4, 5, 7):  # seeds that between them produce every kind
        bars = range_bound_bars(seed, 160)
        for verdict in assert_matches_brute_force(run(make_agent, bars), bars):
            seen.add((verdict.signal, verdict.reason))
    for kind in [
        ("ENTER_LONG", "level"),
        ("ENTER_SHORT", "level"),
        ("EXIT_LONG", "level"),
        ("EXIT_SHORT", "level"),
        ("HOLD", None),
    ]:
        assert kind in seen, f"{kind} never occurred: {sorted(seen, key=str)}"
    assert ("EXIT_LONG", "stop") in seen or ("EXIT_SHORT", "stop") in seen


# Regression (was a bug, found by this suite): core/agent.py _absorb (and core/_agent.pyx
# _absorb) record travel (floor(low/tick), ceil(high/tick)) even when low == high; an off-tick
# doji (low == high == 10.005 at tick 0.01) is counted as travelling [10.00, 10.01), but SPEC
# §4.2 says only bars with low < high travel
def test_off_tick_doji_does_not_travel(make_agent: AgentFactory) -> None:
    agent = make_agent(INSTRUMENT)
    agent.on_bar(mk(0, "9", "11", "9", "10", 100))  # travels [9, 11)
    agent.on_bar(mk(1, "10.005", "10.005", "10.005", "10.005", 100))  # no travel
    assert agent.profile.travelled == 1
    assert agent.profile.count(1000, 1) == 1  # [10.00, 10.01): only the first bar
