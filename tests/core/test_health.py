"""Feed health (SPEC §4.6): schedules, gap/stale classification, staleness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.agent import PySymbolAgent, SymbolAgent
from core.events import Bar
from core.health import DAY_NS, AlwaysOpen, Health, HealthMonitor, SessionSchedule
from core.instruments import CENT, Instrument
from sim.calendar import schedule_for
from sim.timefmt import parse_time

MIN = 60 * 10**9


def t(text: str) -> int:
    return parse_time(text)


@pytest.fixture(scope="module")
def xnys() -> SessionSchedule:
    schedule = schedule_for("XNYS", t("2024-11-20"), t("2024-12-06"))
    assert isinstance(schedule, SessionSchedule)
    return schedule


# ---------------------------------------------------------- AlwaysOpen


@settings(max_examples=300, deadline=None)
@given(prev=st.integers(0, 10**6), spacing=st.integers(1, 5000), period=st.integers(1, 700))
def test_always_open_counts_expected_slots_strictly_between(
    prev: int, spacing: int, period: int
) -> None:
    cur = prev + spacing
    expected = sum(1 for k in range(1, spacing + 1) if prev + k * period < cur)
    assert AlwaysOpen().missing_between(prev, cur, period) == expected


def test_always_open_examples() -> None:
    s = AlwaysOpen()
    assert s.missing_between(0, MIN, MIN) == 0
    assert s.missing_between(0, 2 * MIN, MIN) == 1
    assert s.missing_between(0, 3 * MIN, MIN) == 2
    assert s.missing_between(0, MIN + 1, MIN) == 1


# ------------------------------------------------------ SessionSchedule

sessions_st = st.lists(
    st.tuples(st.integers(0, 40), st.integers(1, 30)),
    min_size=1,
    max_size=6,
    unique_by=lambda x: x[0],
)


@settings(max_examples=300, deadline=None)
@given(
    raw=sessions_st,
    prev=st.integers(0, 2000),
    spacing=st.integers(1, 800),
    period=st.integers(1, 40),
)
def test_session_schedule_intraday_matches_enumeration(
    raw: list, prev: int, spacing: int, period: int
) -> None:
    """Expected bars are open + k·period < close in each session (non-overlapping here)."""
    sessions = []
    for start, length in sorted(raw):
        open_ns = start * 50
        sessions.append((open_ns, open_ns + length))
    cur = prev + spacing
    slots = [o + k * period for o, c in sessions for k in range(c - o) if o + k * period < c]
    expected = sum(1 for s in slots if prev < s < cur)
    assert SessionSchedule(sessions).missing_between(prev, cur, period) == expected


def test_session_schedule_rejects_inverted_session() -> None:
    with pytest.raises(ValueError):
        SessionSchedule([(10, 10)])


def test_xnys_thanksgiving_is_not_a_gap_for_daily_bars(xnys: SessionSchedule) -> None:
    assert xnys.missing_between(t("2024-11-27"), t("2024-11-29"), DAY_NS) == 0
    assert xnys.missing_between(t("2024-11-26"), t("2024-11-29"), DAY_NS) == 1  # the 27th
    assert xnys.missing_between(t("2024-11-22"), t("2024-11-25"), DAY_NS) == 0  # weekend
    assert xnys.missing_between(t("2024-11-25"), t("2024-11-29"), DAY_NS) == 2


def test_xnys_minute_bars_across_holiday_and_early_close(xnys: SessionSchedule) -> None:
    # last minute of the 27th, then the first of the 29th: Thanksgiving is closed
    assert xnys.missing_between(t("2024-11-27T20:59Z"), t("2024-11-29T14:30Z"), MIN) == 0
    # the 29th closes at 18:00 UTC (13:00 ET): 17:59 is its last minute bar
    assert xnys.missing_between(t("2024-11-29T17:59Z"), t("2024-12-02T14:30Z"), MIN) == 0
    assert xnys.missing_between(t("2024-11-29T17:58Z"), t("2024-12-02T14:30Z"), MIN) == 1
    assert xnys.missing_between(t("2024-11-29T17:57Z"), t("2024-12-02T14:30Z"), MIN) == 2
    # a normal day closes at 21:00 UTC: 17:59 → next open misses 18:00..20:59
    assert xnys.missing_between(t("2024-11-27T17:59Z"), t("2024-11-29T14:30Z"), MIN) == 180
    # missing the first bar of a session
    assert xnys.missing_between(t("2024-11-27T20:59Z"), t("2024-11-29T14:31Z"), MIN) == 1


# --------------------------------------------------------- HealthMonitor


def _observe_all(monitor: HealthMonitor, times: list[int]) -> list[Health]:
    out = []
    last = None
    for when in times:
        out.append(monitor.observe(last, when))
        last = when
    return out


def test_monitor_classifies_gaps_and_stale_on_24_7() -> None:
    monitor = HealthMonitor()
    times = [0, MIN, 2 * MIN, 4 * MIN, 7 * MIN, 8 * MIN]
    assert _observe_all(monitor, times) == [
        Health.OK,
        Health.OK,
        Health.OK,
        Health.GAP,  # 3 missing
        Health.STALE,  # 5 and 6 missing
        Health.OK,
    ]
    assert monitor.gaps == 1
    assert monitor.stale_events == 1
    assert monitor.period_ns == MIN


def test_monitor_learns_the_shortest_period() -> None:
    monitor = HealthMonitor()
    # starts with a 2-minute spacing, then minute bars reveal the real period
    assert _observe_all(monitor, [0, 2 * MIN, 3 * MIN, 5 * MIN]) == [
        Health.OK,
        Health.OK,
        Health.OK,
        Health.GAP,
    ]
    assert monitor.period_ns == MIN


def test_monitor_on_xnys_early_close(xnys: SessionSchedule) -> None:
    monitor = HealthMonitor(xnys)
    times = [
        t("2024-11-29T17:56Z"),
        t("2024-11-29T17:57Z"),
        t("2024-12-02T14:30Z"),  # 17:58 and 17:59 missing: stale
        t("2024-12-02T14:31Z"),
    ]
    assert _observe_all(monitor, times) == [Health.OK, Health.OK, Health.STALE, Health.OK]
    monitor = HealthMonitor(xnys)
    times = [t("2024-11-27T20:58Z"), t("2024-11-27T20:59Z"), t("2024-11-29T14:30Z")]
    assert _observe_all(monitor, times) == [Health.OK, Health.OK, Health.OK]


def test_is_stale_counts_two_expected_periods(xnys: SessionSchedule) -> None:
    monitor = HealthMonitor()
    _observe_all(monitor, [0, MIN])
    assert not monitor.is_stale(MIN, MIN + 30 * 10**9)
    assert not monitor.is_stale(MIN, 2 * MIN)  # one bar due
    assert monitor.is_stale(MIN, 3 * MIN)  # two bars due
    assert not HealthMonitor().is_stale(None, 10**15)

    nyse = HealthMonitor(xnys)
    last = t("2024-11-27T20:59Z")
    _observe_all(nyse, [t("2024-11-27T20:58Z"), last])
    assert not nyse.is_stale(last, t("2024-11-28T16:00Z"))  # Thanksgiving: closed
    assert not nyse.is_stale(last, t("2024-11-29T14:30Z"))  # one bar due
    assert nyse.is_stale(last, t("2024-11-29T14:31Z"))


@pytest.mark.parametrize("cls", [SymbolAgent, PySymbolAgent], ids=["compiled", "pure"])
def test_agent_is_stale_and_health_field(cls: type, xnys: SessionSchedule) -> None:
    agent = cls(Instrument("ACME", tick=CENT), schedule=xnys)
    price = 10 * 10**9
    healths = []
    for when in ("2024-11-29T17:56Z", "2024-11-29T17:57Z", "2024-11-29T17:59Z"):
        bar = Bar("ACME", t(when), price, price, price, price, 10)
        healths.append(agent.on_bar(bar).health)
    assert healths == ["ok", "ok", "gap"]
    assert not agent.is_stale(t("2024-11-30T12:00Z"))  # weekend after the early close
    assert not agent.is_stale(t("2024-12-02T14:30Z"))
    assert agent.is_stale(t("2024-12-02T14:31Z"))
