"""Compiled SymbolAgent against PySymbolAgent on arbitrary inputs.

Wider than the brute-force comparison in test_agent.py: prices off the tick
grid, odd ticks, irregular times on an exchange calendar, and a portfolio
that overrides the position at random between bars.
"""

from __future__ import annotations

import pytest
from core._agent import SymbolAgent as CompiledAgent
from hypothesis import given, settings
from hypothesis import strategies as st

import core.agent
from core.errors import BadInput
from core.events import Bar
from core.health import SessionSchedule
from core.instruments import Instrument
from core.sr import PyTravelProfile
from core.volume import PyVolumeTracker
from sim.calendar import schedule_for
from sim.timefmt import parse_time

MIN = 60 * 10**9
START = parse_time("2024-11-25T14:30:00Z")
_SCHEDULE: SessionSchedule | None = None


def nyse() -> SessionSchedule:
    global _SCHEDULE
    if _SCHEDULE is None:
        schedule = schedule_for("XNYS", START, START + 20 * 86_400 * 10**9)
        assert isinstance(schedule, SessionSchedule)
        _SCHEDULE = schedule
    return _SCHEDULE


def pure_agent(*args: object, **kwargs: object) -> core.agent.PySymbolAgent:
    """PySymbolAgent over the pure profile and tracker, without monkeypatching."""
    saved = core.agent.TravelProfile, core.agent.VolumeTracker
    core.agent.TravelProfile, core.agent.VolumeTracker = PyTravelProfile, PyVolumeTracker
    try:
        agent = core.agent.PySymbolAgent(*args, **kwargs)
    finally:
        core.agent.TravelProfile, core.agent.VolumeTracker = saved
    assert isinstance(agent.profile, PyTravelProfile)
    return agent


event = st.tuples(
    st.integers(-400, 400),  # centre move, in units of tick/7 (off-grid prices)
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(0, 100),
    st.one_of(st.integers(0, 500), st.integers(10**6, 10**12)),
    st.sampled_from([1, 1, 1, 1, 2, 3, 7, 60 * 24]),  # minutes to the next bar
    st.sampled_from([None, None, None, None, None, (1, -5), (-1, 5), (0, 0)]),  # overrides
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(event, min_size=1, max_size=80),
    tick=st.sampled_from([1, 7, 10**5, 10**7, 3 * 10**6]),
    self_tracking=st.booleans(),
    calendar=st.booleans(),
    probes=st.lists(st.integers(0, 5 * 24 * 60), max_size=4),
)
def test_compiled_agent_equals_pure_agent(
    events: list, tick: int, self_tracking: bool, calendar: bool, probes: list
) -> None:
    instrument = Instrument("ODD", tick=tick)
    schedule = nyse() if calendar else None
    compiled = CompiledAgent(instrument, self_tracking=self_tracking, schedule=schedule)
    pure = pure_agent(instrument, self_tracking=self_tracking, schedule=schedule)
    unit = max(1, tick // 7)
    centre = 2000 * tick
    t = START
    prev_close = None
    for move, up, down, pct, volume, minutes, override in events:
        centre = max((down + 1) * unit, centre + move * unit)
        low, high = centre - down * unit, centre + up * unit
        close = low + (high - low) * pct // 100
        o = close if prev_close is None else min(max(prev_close, low), high)
        bar = Bar("ODD", t, o, high, low, close, volume)
        if override is not None:
            direction, offset = override
            stop = None if direction == 0 else close + offset * tick * 10
            compiled.set_position(direction, stop)
            pure.set_position(direction, stop)
        got, want = compiled.on_bar(bar), pure.on_bar(bar)
        assert got == want, bar
        assert compiled.position == pure.position
        t += minutes * MIN
        prev_close = close
    assert compiled.atr == pure.atr
    assert compiled.granularity == pure.granularity
    assert compiled.bars_seen == pure.bars_seen == len(events)
    assert compiled.health.gaps == pure.health.gaps
    assert compiled.health.stale_events == pure.health.stale_events
    for minutes in probes:
        now = t + minutes * MIN
        assert compiled.is_stale(now) == pure.is_stale(now)


@pytest.mark.parametrize("twin", ["compiled", "pure"])
# Regression (was a bug, found by this suite): core/events.py Bar accepts any int time_ns, but
# core/_agent.pyx on_bar (`cdef int64_t time_ns = bar.time_ns`) raises OverflowError for times
# from 2262-04-11 (2**63 ns) on, while PySymbolAgent accepts them: the twins disagree and
# neither rejects the bar with BadInput
def test_time_beyond_int64_is_rejected_as_bad_input(twin: str) -> None:
    instrument = Instrument("FAR")
    agent = CompiledAgent(instrument) if twin == "compiled" else pure_agent(instrument)
    agent.on_bar(Bar("FAR", START, 10**10, 10**10, 10**10, 10**10, 1))
    with pytest.raises(BadInput) as info:
        agent.on_bar(Bar("FAR", 2**63, 10**10, 10**10, 10**10, 10**10, 1))
    assert info.value.field in ("time", "time_ns")


# Regression (was a bug, found by this suite): reachable through valid Bars (volume < 2**63):
# after Σv² passes 2**126 the compiled VolumeTracker's sum of squares overflows
# (core/_volume.pyx add, `self._big_sum_sq += volume * volume` in int64), so the compiled agent
# reports spike=True where the SPEC (and PySymbolAgent) say False
def test_agents_agree_on_huge_volumes() -> None:
    instrument = Instrument("BIG")
    compiled, pure = CompiledAgent(instrument), pure_agent(instrument)
    volumes = [2**62] * 4 + [2**62 + 2**61] * 5
    for i, volume in enumerate(volumes):
        bar = Bar("BIG", START + i * MIN, 10**10, 10**10, 10**10, 10**10, volume)
        assert compiled.on_bar(bar) == pure.on_bar(bar), i


class _DuckBar:
    """Not a Bar: the compiled agent must read it through getattr, and agree."""

    def __init__(self, bar: Bar) -> None:
        for name in ("symbol", "time_ns", "open", "high", "low", "close", "volume"):
            setattr(self, name, getattr(bar, name))


@given(st.lists(event, min_size=1, max_size=80))
@settings(max_examples=60, deadline=None)
def test_signals_built_in_place_are_true_namedtuples(events: list[tuple[int, ...]]) -> None:
    """_agent.pyx fills AgentSignal and Zone directly and reuses unchanged zones:
    the results must still be exactly the pure twin's values and types, whether
    the bar is a Bar (slot reads) or any object with the fields (getattr)."""
    from core.signals import AgentSignal, Zone

    instrument = Instrument("T")
    compiled, duck, pure = (
        CompiledAgent(instrument),
        CompiledAgent(instrument),
        pure_agent(instrument),
    )
    price, time_ns = 10_000 * instrument.tick, START
    for move, up, down, _, volume, minutes, _ in events:
        close = max(instrument.tick, price + move * instrument.tick)
        bar = Bar(
            "T",
            time_ns,
            price,
            max(price, close) + up,
            max(1, min(price, close) - down),
            close,
            volume,
        )
        got, via_duck, want = compiled.on_bar(bar), duck.on_bar(_DuckBar(bar)), pure.on_bar(bar)
        assert got == want == via_duck
        assert type(got) is AgentSignal and type(via_duck) is AgentSignal
        assert got._asdict() == want._asdict() and hash(got) == hash(want)
        for zone in (got.support, got.resistance):
            assert zone is None or (type(zone) is Zone and zone.high > zone.low)
        assert [type(v) for v in got] == [type(v) for v in want]
        price, time_ns = close, time_ns + minutes * MIN
