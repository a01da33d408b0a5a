"""Bars from IB: the historical-data pacer and the 5-second → 1-minute aggregator."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.events import Bar
from gateway.brokers.ibkr.mapping import NS

log = logging.getLogger("gateway.ibkr")


# ------------------------------------------------------------------- pacing


@dataclass
class HistoricalPacer:
    """IB's historical-data pacing rules, kept on our side so TWS never has to refuse.

    No more than ``max_requests`` in any ``window_s`` (60 per 10 minutes); an
    identical request (same contract, end, duration, bar size) at least
    ``identical_gap_s`` (15 s) after the last; no more than ``burst`` requests
    for one contract within ``burst_window_s`` (6 per 2 s). ``clock`` is
    injected so tests can drive it without sleeping.
    """

    max_requests: int = 60
    window_s: float = 600.0
    identical_gap_s: float = 15.0
    burst: int = 6
    burst_window_s: float = 2.0
    clock: Callable[[], float] = time.monotonic
    waited_s: float = 0.0
    _sent: deque[float] = field(default_factory=deque)
    _identical: dict[tuple[object, ...], float] = field(default_factory=dict)
    _per_contract: dict[str, deque[float]] = field(default_factory=dict)

    def wait_for(self, key: tuple[object, ...], contract: str) -> float:
        """Seconds until a request ``key`` for ``contract`` may be sent (0 = now)."""
        now = self.clock()
        wait = 0.0
        if len(self._sent) >= self.max_requests:
            wait = max(wait, self._sent[-self.max_requests] + self.window_s - now)
        last = self._identical.get(key)
        if last is not None:
            wait = max(wait, last + self.identical_gap_s - now)
        recent = self._per_contract.get(contract)
        if recent is not None and len(recent) >= self.burst:
            wait = max(wait, recent[-self.burst] + self.burst_window_s - now)
        return max(0.0, wait)

    def record(self, key: tuple[object, ...], contract: str) -> None:
        now = self.clock()
        self._sent.append(now)
        while self._sent and self._sent[0] <= now - self.window_s:
            self._sent.popleft()
        self._identical[key] = now
        recent = self._per_contract.setdefault(contract, deque())
        recent.append(now)
        while recent and recent[0] <= now - self.burst_window_s:
            recent.popleft()
        for stale in [k for k, t in self._identical.items() if t <= now - self.identical_gap_s]:
            del self._identical[stale]

    async def acquire(
        self,
        key: tuple[object, ...],
        contract: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        while True:
            wait = self.wait_for(key, contract)
            if wait <= 0:
                self.record(key, contract)
                return
            self.waited_s += wait
            await sleep(wait)


# ------------------------------------------------------- real-time → minute


@dataclass
class MinuteAggregator:
    """Twelve 5-second real-time bars → one minute bar (start time, exact sums)."""

    symbol: str
    volume_multiplier: int = 1
    minute: int | None = None
    parts: dict[int, tuple[int, int, int, int, int, int]] = field(default_factory=dict)
    incomplete: int = 0

    def add(self, time_s: int, o: int, h: int, low: int, c: int, v: int, n: int) -> Bar | None:
        minute = time_s - time_s % 60
        if self.minute is not None and minute != self.minute:
            if self.parts:
                self.incomplete += 1  # a minute we joined late or lost bars of
            self.parts = {}
        self.minute = minute
        self.parts[time_s % 60] = (o, h, low, c, v, n)
        if time_s % 60 != 55:
            return None
        if len(self.parts) != 12:
            self.incomplete += 1
            self.parts = {}
            return None
        seconds = sorted(self.parts)
        bars = [self.parts[s] for s in seconds]
        self.parts = {}
        return Bar(
            symbol=self.symbol,
            time_ns=minute * NS,
            open=bars[0][0],
            high=max(b[1] for b in bars),
            low=min(b[2] for b in bars),
            close=bars[-1][3],
            volume=sum(b[4] for b in bars) * self.volume_multiplier,
            vwap=None,
            trades=sum(b[5] for b in bars),
        )


# ------------------------------------------------------------------ broker
