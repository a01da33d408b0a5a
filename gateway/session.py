"""Market time for the shell, and the exchange sessions it trades in.

``CalendarSchedule`` (the core's one calendar adapter, ``core/calendar.py``,
re-exported here) satisfies the core's ``Schedule`` protocol by asking
exchange-calendars (holidays and early closes included) for whole years on
demand, so its answers never depend on *when* the gateway was started: a
replay after a crash sees exactly the sessions the original run saw.

``MarketTime`` is the gateway's live clock. The engine must follow the
*market's* time, which for a simulated session (``python -m standins --speed``) runs
faster than the wall clock: it is anchored at each reading of the broker's
``/v2/clock`` and at each bar, and extrapolated in between at the rate the
readings show. It never moves backwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.calendar import EXCHANGE, CalendarSchedule

__all__ = ["EXCHANGE", "CalendarSchedule", "EngineClock", "MarketTime"]

_NS = 10**9


class MarketTime:
    """Market time: anchored at broker clock readings and bar ends, extrapolated
    between readings at the observed market-seconds-per-wall-second rate."""

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, max_ahead_ns: int = 60 * _NS
    ) -> None:
        """``max_ahead_ns``: extrapolation never runs more than one bar period past
        the last reading, so a misjudged rate (a burst of late bars) cannot carry
        market time, and with it timers and the stale-entry rule, far ahead."""
        self._monotonic = monotonic
        self._max_ahead = max_ahead_ns
        self._anchor_ns = 0
        self._anchor_wall = 0.0
        self._rate = 1.0
        self._floor = 0
        self._last_reading: tuple[int, float] | None = None

    @property
    def rate(self) -> float:
        return self._rate

    def observe_clock(self, market_ns: int) -> None:
        wall = self._monotonic()
        if self._last_reading is not None:
            prev_ns, prev_wall = self._last_reading
            elapsed = wall - prev_wall
            if elapsed >= 0.2 and market_ns >= prev_ns:
                observed = (market_ns - prev_ns) / _NS / elapsed
                # Bounded so one odd reading (a jump over a night) cannot make
                # timers fire far ahead; the next reading re-anchors anyway.
                self._rate = min(max(observed, 0.0), 3600.0)
        self._last_reading = (market_ns, wall)
        self._anchor_ns, self._anchor_wall = market_ns, wall
        self.observe_floor(market_ns)

    def observe_floor(self, market_ns: int) -> None:
        """Market time is at least this (a bar that has ended, a fill's time)."""
        if market_ns > self._floor:
            self._floor = market_ns

    def now_ns(self) -> int:
        wall = self._monotonic()
        ahead = min(int((wall - self._anchor_wall) * self._rate * _NS), self._max_ahead)
        estimate = self._anchor_ns + ahead
        if self._anchor_ns == 0:
            estimate = 0
        now = max(self._floor, estimate)
        self._floor = now
        return now

    def wall_seconds_for(self, market_ns: int) -> float:
        """Wall seconds that ``market_ns`` of market time take at the current rate."""
        return market_ns / _NS / self._rate if self._rate > 0 else float("inf")


class EngineClock:
    """The clock injected into the engine: set by the shell to the journaled
    market time of the event being handled, so a replay sees the same times."""

    __slots__ = ("_now",)

    def __init__(self) -> None:
        self._now = 0

    def set(self, now_ns: int) -> None:
        if now_ns > self._now:
            self._now = now_ns

    def now_ns(self) -> int:
        return self._now
