"""Wall time to simulated market time: the session plays ``speed`` times faster than life.

market_ns = anchor + (monotonic elapsed × speed). Closed periods (nights,
weekends) would take hours even when accelerated, so once the market has been
closed for ``overnight_s`` real seconds the clock jumps to the next open: a
whole trading week runs in minutes and the gateway still sees a close, a closed
clock, and an open. A pure object: the caller passes the monotonic reading, so
tests can drive it without sleeping.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

_NS = 10**9


@dataclass(frozen=True, slots=True)
class ClockReading:
    """What ``/v2/clock`` answers, in nanoseconds since the epoch (UTC)."""

    now_ns: int
    is_open: bool
    next_open_ns: int
    next_close_ns: int


class SimClock:
    def __init__(
        self,
        start_ns: int,
        speed: float,
        calendar: tuple[tuple[int, int], ...],
        start_monotonic: float,
        overnight_s: float = 2.0,
    ) -> None:
        if speed <= 0:
            raise ValueError(f"speed {speed} must be positive")
        self._speed_ns = speed * _NS  # market nanoseconds per real second
        self._opens = [o for o, _ in calendar]
        self._closes = [c for _, c in calendar]
        self._overnight = overnight_s
        self._anchor_wall = start_monotonic
        self._anchor_market = start_ns
        self._start = start_ns  # closed time before the start is not "waited" (pre-open lead)
        self._last = start_ns
        self._held: int | None = None  # market time frozen here until release()

    def hold(self, monotonic: float) -> None:
        """Stop market time where it is (``python -m standins --hold``)."""
        if self._held is None:
            self._held = self.now(monotonic)

    def release(self, monotonic: float) -> None:
        """Let market time run again from where it was held."""
        if self._held is not None:
            self._anchor_wall, self._anchor_market = monotonic, self._held
            self._held = None

    @property
    def held(self) -> bool:
        return self._held is not None

    def now(self, monotonic: float) -> int:
        """Market time at this monotonic reading; never goes backwards."""
        market = self._at(monotonic)
        while True:
            i = bisect_right(self._opens, market) - 1
            if i < 0 or market < self._closes[i] or i + 1 >= len(self._opens):
                break
            close = self._closes[i]
            if close < self._start:  # the pre-open lead: played in full, never skipped
                break
            closed_real = (market - close) / self._speed_ns
            if closed_real < self._overnight:
                break
            reached_close = self._anchor_wall + (close - self._anchor_market) / self._speed_ns
            self._anchor_wall = reached_close + self._overnight
            self._anchor_market = self._opens[i + 1]
            market = self._at(monotonic)
        self._last = max(self._last, market)
        return self._last

    def _at(self, monotonic: float) -> int:
        if self._held is not None:
            return self._held
        return self._anchor_market + int((monotonic - self._anchor_wall) * self._speed_ns)

    def reading(self, monotonic: float) -> ClockReading:
        now = self.now(monotonic)
        i = bisect_right(self._opens, now) - 1
        is_open = i >= 0 and now < self._closes[i]
        later = i + 1
        if later < len(self._opens):
            next_open = self._opens[later]
        else:  # past the calendar: a day after the last open, like the next weekday
            next_open = self._opens[-1] + 86_400 * _NS * max(
                1, (now - self._opens[-1]) // (86_400 * _NS) + 1
            )
        if is_open:
            next_close = self._closes[i]
        elif later < len(self._closes):
            next_close = self._closes[later]
        else:
            next_close = next_open + (self._closes[-1] - self._opens[-1])
        return ClockReading(now, is_open, next_open, next_close)

    def real_seconds_until(self, market_ns: int, monotonic: float) -> float:
        """How long until the clock reaches ``market_ns`` (ignoring a jump on the way)."""
        return max(0.0, (market_ns - self.now(monotonic)) / self._speed_ns)
