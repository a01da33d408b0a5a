"""Exchange sessions (holidays, early closes) and the gateway's market clock."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.session import CalendarSchedule, EngineClock, MarketTime

NS = 10**9
MINUTE = 60 * NS


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS


def test_regular_session_holiday_and_early_close() -> None:
    cal = CalendarSchedule()
    assert cal.session_at(ns("2024-07-02 15:00")) == (
        ns("2024-07-02 13:30"),
        ns("2024-07-02 20:00"),
    )
    # 3 July 2024: early close at 13:00 New York (17:00 UTC)
    assert cal.session_at(ns("2024-07-03 16:59")) == (
        ns("2024-07-03 13:30"),
        ns("2024-07-03 17:00"),
    )
    assert cal.session_at(ns("2024-07-03 17:30")) is None
    assert cal.session_at(ns("2024-07-04 15:00")) is None  # Independence Day
    assert cal.next_close(ns("2024-07-03 18:00")) == ns("2024-07-05 20:00")
    assert cal.previous_open(ns("2024-07-05 15:00")) == ns("2024-07-03 13:30")
    assert cal.session_at(ns("2024-07-06 15:00")) is None  # Saturday


def test_missing_bars_follow_the_calendar() -> None:
    cal = CalendarSchedule()
    # Last bar of the early-close day to the first of the next session: nothing missing.
    assert cal.missing_between(ns("2024-07-03 16:59"), ns("2024-07-05 13:30"), MINUTE) == 0
    # Two minutes skipped inside a session: two missing.
    assert cal.missing_between(ns("2024-07-05 14:00"), ns("2024-07-05 14:03"), MINUTE) == 2


def test_market_time_follows_readings_at_the_observed_rate() -> None:
    wall = [100.0]
    mt = MarketTime(monotonic=lambda: wall[0])
    start = ns("2024-01-02 14:30")
    mt.observe_clock(start)
    wall[0] += 1.0
    mt.observe_clock(start + 240 * NS)  # the simulated session runs 240x
    assert mt.rate == 240.0
    wall[0] += 0.125
    assert mt.now_ns() == start + 270 * NS
    wall[0] += 10.0  # no reading for a long time: at most one period ahead
    assert mt.now_ns() == start + 240 * NS + MINUTE
    mt.observe_clock(start)  # a reading from the past never moves time back
    assert mt.now_ns() >= start + 240 * NS + MINUTE
    assert mt.wall_seconds_for(MINUTE) > 0


def test_engine_clock_never_moves_back() -> None:
    clock = EngineClock()
    clock.set(5)
    clock.set(3)
    assert clock.now_ns() == 5
