"""Feed health per symbol: gaps and staleness (SPEC §4.6).

Whether a missing bar *should* have existed depends on the trading session,
so the monitor asks an injected ``Schedule``. The shells build schedules from
the exchange calendar (holidays and early closes included); the core only
does arithmetic on the session boundaries it is given.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from enum import Enum
from typing import Protocol

DAY_NS = 86_400 * 10**9


class Health(str, Enum):
    OK = "ok"
    GAP = "gap"  # exactly one expected bar is missing before this one
    STALE = "stale"  # two or more expected bars were missing: the feed went stale


class Schedule(Protocol):
    def missing_between(self, prev_ns: int, cur_ns: int, period_ns: int) -> int:
        """Expected bar start times strictly between two bars' start times."""
        ...


class AlwaysOpen:
    """24/7 markets (crypto): every period is a trading period."""

    def missing_between(self, prev_ns: int, cur_ns: int, period_ns: int) -> int:
        return max(0, -(-(cur_ns - prev_ns) // period_ns) - 1)


class SessionSchedule:
    """Trading sessions as sorted ``(open_ns, close_ns)`` pairs.

    Intraday bars are expected at ``open + k·period`` inside each session;
    daily bars once per session (matched by calendar date, since daily bars
    are often stamped at midnight rather than at the open).
    """

    def __init__(self, sessions: Sequence[tuple[int, int]]) -> None:
        pairs = sorted(sessions)
        for open_ns, close_ns in pairs:
            if close_ns <= open_ns:
                raise ValueError(f"session closes before it opens: {open_ns}..{close_ns}")
        self._opens = [o for o, _ in pairs]
        self._closes = [c for _, c in pairs]
        self._days = [o // DAY_NS for o in self._opens]

    def _slots_after(self, index: int, after_ns: int, period_ns: int) -> int:
        """Slots of session ``index`` strictly later than ``after_ns``."""
        open_ns, close_ns = self._opens[index], self._closes[index]
        total = -(-(close_ns - open_ns) // period_ns)
        if after_ns < open_ns:
            return total
        return max(0, total - ((after_ns - open_ns) // period_ns + 1))

    def session_at(self, time_ns: int) -> tuple[int, int] | None:
        """The (open, close) of the session trading at ``time_ns``, else None."""
        index = bisect_right(self._opens, time_ns) - 1
        if index >= 0 and time_ns < self._closes[index]:
            return self._opens[index], self._closes[index]
        return None

    def overlapping(self, start_ns: int, end_ns: int) -> tuple[int, int] | None:
        """The first session trading inside ``[start, end)`` (a daily bar's session)."""
        index = max(0, bisect_right(self._opens, start_ns) - 1)
        while index < len(self._opens) and self._opens[index] < end_ns:
            if self._closes[index] > start_ns:
                return self._opens[index], self._closes[index]
            index += 1
        return None

    def missing_between(self, prev_ns: int, cur_ns: int, period_ns: int) -> int:
        if period_ns >= DAY_NS:
            first = bisect_right(self._days, prev_ns // DAY_NS)
            last = bisect_left(self._days, cur_ns // DAY_NS)
            return max(0, last - first)
        missing = 0
        index = max(0, bisect_right(self._opens, prev_ns) - 1)
        while index < len(self._opens) and self._opens[index] < cur_ns:
            missing += self._slots_after(index, prev_ns, period_ns)
            missing -= self._slots_after(index, cur_ns - 1, period_ns)
            index += 1
        return missing


class HealthMonitor:
    """Classifies each arriving bar and answers "is this feed stale now?".

    The bar period is learned from the data (the shortest spacing seen so
    far), so one monitor serves minute and daily bars without a setting. The
    owner (the agent) keeps the last bar's time and passes it in, so the
    common case, a bar exactly one period after the last, costs nothing.
    """

    __slots__ = ("_period", "_schedule", "gaps", "stale_events")

    def __init__(self, schedule: Schedule | None = None) -> None:
        self._schedule: Schedule = schedule if schedule is not None else AlwaysOpen()
        self._period: int | None = None
        self.gaps = 0
        self.stale_events = 0

    @property
    def period_ns(self) -> int | None:
        return self._period

    def restore(self, period_ns: int | None, gaps: int, stale_events: int) -> None:
        """Take back what a snapshot recorded (``core.snapshot``): the learned
        period and the counts; the schedule is the owner's to supply."""
        self._period = period_ns
        self.gaps = gaps
        self.stale_events = stale_events

    def observe(self, last_ns: int | None, time_ns: int) -> Health:
        """Health of a bar at ``time_ns`` whose predecessor was at ``last_ns``."""
        if last_ns is None:
            return Health.OK
        spacing = time_ns - last_ns
        if spacing == self._period:  # the common case: the very next bar
            return Health.OK
        if self._period is None or spacing < self._period:
            self._period = spacing
        missing = self._schedule.missing_between(last_ns, time_ns, self._period)
        if missing == 0:
            return Health.OK
        if missing == 1:
            self.gaps += 1
            return Health.GAP
        self.stale_events += 1
        return Health.STALE

    def is_stale(self, last_ns: int | None, now_ns: int) -> bool:
        """No bar for two expected bar periods: the slots after the last bar
        up to ``now`` hold at least two that should have arrived."""
        if last_ns is None or self._period is None:
            return False
        return self._schedule.missing_between(last_ns, now_ns + 1, self._period) >= 2
