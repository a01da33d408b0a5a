"""Test doubles: a scripted agent honouring SymbolAgent's engine-facing API."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import BadInput
from core.events import Bar
from core.instruments import Instrument
from core.signals import AgentSignal, Reason, Signal

Script = Callable[["ScriptedAgent", Bar], tuple[Signal, Reason | None, int | None]]


def hold(_agent: ScriptedAgent, _bar: Bar) -> tuple[Signal, Reason | None, int | None]:
    return Signal.HOLD, None, None


class ScriptedAgent:
    """Emits what ``script`` says; position changes only through set_position.

    ATR is a plain running mean of bar ranges (enough for the cost model),
    available after ``warmup`` bars like the real agent's 14.
    """

    def __init__(self, instrument: Instrument, script: Script = hold, warmup: int = 3) -> None:
        self.instrument = instrument
        self.script = script
        self.warmup = warmup
        self.direction = 0
        self.stop: int | None = None
        self.bars_seen = 0
        self.set_calls: list[tuple[int, int | None]] = []
        self._last: int | None = None
        self._range_sum = 0

    @property
    def atr(self) -> int | None:
        if self.bars_seen < self.warmup:
            return None
        return max(1, self._range_sum // self.bars_seen)

    @property
    def granularity(self) -> int | None:
        return self.atr

    def set_position(self, direction: int, stop: int | None) -> None:
        if direction not in (-1, 0, 1):
            raise BadInput("direction", direction, "must be -1, 0 or 1")
        if direction != 0 and stop is None:
            raise BadInput("stop", stop, "an open position needs a stop")
        self.direction = direction
        self.stop = stop
        self.set_calls.append((direction, stop))

    def on_bar(self, bar: Bar) -> AgentSignal:
        if self._last is not None and bar.time_ns <= self._last:
            raise BadInput("time", bar.time_ns, "is not later than the previous bar")
        signal, reason, stop = self.script(self, bar)
        self._last = bar.time_ns
        self.bars_seen += 1
        self._range_sum += bar.high - bar.low
        return AgentSignal(
            symbol=bar.symbol,
            time_ns=bar.time_ns,
            signal=signal,
            reason=reason,
            conviction=None,
            support=None,
            resistance=None,
            volume_percentile=None,
            spike=False,
            granularity=self.atr,
            stop=stop,
        )
