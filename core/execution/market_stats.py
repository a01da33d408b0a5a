"""What the execution layer learns about a symbol from its own bars.

ADV, the intraday volume profile, the typical bar volume and its dispersion,
the bar period and the ATR regime all come from *every* bar the engine has
seen for the symbol — no external reference data, no fitted constants. The
update is O(1) per bar because it runs on the hot path of every bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.events import Bar
from core.health import SessionSchedule

NS_PER_MINUTE = 60 * 10**9
NS_PER_DAY = 86_400 * 10**9
MINUTES_PER_DAY = 1_440
DEFAULT_BAR_PERIOD_NS = NS_PER_MINUTE
"""SPEC §12 streams 1-minute bars; used until two bars reveal the real period."""


@dataclass(slots=True)
class SymbolMarket:
    """Running statistics of one symbol's bars (and its ATR as the agent reports it)."""

    symbol: str
    bars: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    period_ns: int = 0  # smallest positive spacing between consecutive bars
    last_close: int | None = None
    last_mean: int | None = None  # last bar (O+H+L+C)/4: the reference of realised impact
    volume_sum: int = 0
    volume_sq_sum: int = 0
    days: set[int] = field(default_factory=set)
    profile: list[int] = field(default_factory=lambda: [0] * MINUTES_PER_DAY)
    bars_per_day_max: int = 0
    _day: int | None = None
    _bars_today: int = 0
    atr_n: int = 0
    atr_mean: float = 0.0
    atr_m2: float = 0.0
    atr_now: int | None = None
    schedule: SessionSchedule | None = None
    _session: tuple[int, int] = (0, 0)  # the session of the last bar (open, close)

    def session(self, time_ns: int) -> tuple[int, int] | None:
        """(open, close) of the session at ``time_ns``: the calendar's, else the UTC day."""
        current = self._session
        if current[0] <= time_ns < current[1]:
            return current
        if self.schedule is None:
            start = time_ns - time_ns % NS_PER_DAY
            return start, start + NS_PER_DAY
        return self.schedule.session_at(time_ns)

    def on_bar(self, bar: Bar) -> None:
        t = bar.time_ns
        if self.last_ns is not None:
            gap = t - self.last_ns
            if gap > 0 and (self.period_ns == 0 or gap < self.period_ns):
                self.period_ns = gap
        else:
            self.first_ns = t
        self.last_ns = t
        self.last_close = bar.close
        self.last_mean = (bar.open + bar.high + bar.low + bar.close) // 4
        v = bar.volume
        self.bars += 1
        self.volume_sum += v
        self.volume_sq_sum += v * v
        day = t // NS_PER_DAY
        if day != self._day:
            self._day = day
            self.days.add(day)
            self._bars_today = 0
        self._bars_today += 1
        if self._bars_today > self.bars_per_day_max:
            self.bars_per_day_max = self._bars_today
        session = self.session(t)
        if session is not None:
            self._session = session
            self.profile[((t - session[0]) // NS_PER_MINUTE) % MINUTES_PER_DAY] += v

    def on_atr(self, atr: int | None) -> None:
        """Welford update of the ATR history (a statistic: floats are fine)."""
        self.atr_now = atr
        if atr is None:
            return
        self.atr_n += 1
        delta = atr - self.atr_mean
        self.atr_mean += delta / self.atr_n
        self.atr_m2 += delta * (atr - self.atr_mean)

    # ------------------------------------------------------------- queries
    @property
    def bar_period_ns(self) -> int:
        return self.period_ns or DEFAULT_BAR_PERIOD_NS

    @property
    def mean_bar_volume(self) -> float:
        return self.volume_sum / self.bars if self.bars else 0.0

    @property
    def bar_volume_cv(self) -> float:
        """Coefficient of variation of bar volume (population σ / mean)."""
        if self.bars < 2 or self.volume_sum == 0:
            return 0.0
        n, s, q = self.bars, self.volume_sum, self.volume_sq_sum
        variance = max(0, n * q - s * s) / (n * n)
        return math.sqrt(variance) / (s / n)

    @property
    def adv(self) -> float:
        """Average daily volume over the UTC days the symbol has traded."""
        return self.volume_sum / len(self.days) if self.days else 0.0

    @property
    def bars_per_day(self) -> int:
        """The most bars seen in one UTC day: the longest horizon worth planning."""
        return max(1, self.bars_per_day_max)

    @property
    def has_full_day(self) -> bool:
        """A full day of history: the bars span at least 24 hours."""
        return (
            self.first_ns is not None
            and self.last_ns is not None
            and self.last_ns - self.first_ns >= NS_PER_DAY
        )

    def bars_left_today(self, start_ns: int, period_ns: int) -> int | None:
        """Bars from ``start_ns`` to the close of the session it falls in.

        With a calendar, today's close is known exactly (early closes too).
        Without one, it is learned from the profile (the last minute of the
        UTC day with volume in the history). None without a full day of
        history, outside any session, or when nothing ever traded later.
        """
        if not self.has_full_day:
            return None
        session = self.session(start_ns)
        if session is None:
            return None
        if self.schedule is not None:
            return max(0, -(-(session[1] - start_ns) // max(1, period_ns)))
        first = ((start_ns - session[0]) // NS_PER_MINUTE) % MINUTES_PER_DAY
        profile = self.profile
        last = MINUTES_PER_DAY - 1
        while last >= first and profile[last] == 0:
            last -= 1
        if last < first:
            return None
        minutes = max(1, period_ns // NS_PER_MINUTE)
        return (last - first) // minutes + 1

    def profile_weights(self, start_ns: int, period_ns: int, slices: int) -> list[int]:
        """Historical volume of each slice ``[start + k·period, start + (k+1)·period)``.

        Sums the per-minute-of-day profile over the minutes each slice covers;
        all zeros (or no full day yet) means "no profile" and callers go uniform.
        """
        if not self.has_full_day:
            return [1] * slices
        session = self.session(start_ns)
        if session is None:
            return [1] * slices
        opened = session[0]
        minutes = max(1, period_ns // NS_PER_MINUTE)
        profile = self.profile
        if minutes == 1 and period_ns == NS_PER_MINUTE:  # the common case: 1-minute bars
            first = (start_ns - opened) // NS_PER_MINUTE
            weights = [profile[(first + k) % MINUTES_PER_DAY] for k in range(slices)]
            return weights if sum(weights) else [1] * slices
        weights = []
        for k in range(slices):
            first = ((start_ns + k * period_ns - opened) // NS_PER_MINUTE) % MINUTES_PER_DAY
            weights.append(sum(self.profile[(first + m) % MINUTES_PER_DAY] for m in range(minutes)))
        if sum(weights) == 0:
            return [1] * slices
        return weights

    def atr_zscore(self) -> float | None:
        """How far today's ATR is from the symbol's own ATR history, in σ."""
        if self.atr_now is None or self.atr_n < 2:
            return None
        sigma = math.sqrt(self.atr_m2 / self.atr_n)
        if sigma == 0.0:
            return 0.0
        return (self.atr_now - self.atr_mean) / sigma

    def atr_ratio(self) -> float:
        """Current ATR relative to its historical mean (1.0 when unknown)."""
        if self.atr_now is None or self.atr_mean <= 0.0:
            return 1.0
        return self.atr_now / self.atr_mean
