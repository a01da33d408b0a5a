"""What a SymbolAgent says about a bar (SPEC §4.5)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Signal(str, Enum):
    ENTER_LONG = "ENTER_LONG"
    ENTER_SHORT = "ENTER_SHORT"
    EXIT_LONG = "EXIT_LONG"
    EXIT_SHORT = "EXIT_SHORT"
    HOLD = "HOLD"


class Reason(str, Enum):
    LEVEL = "level"
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class Zone:
    """A bucket ``[low, high)`` in nano-units."""

    low: int
    high: int


@dataclass(frozen=True, slots=True)
class AgentSignal:
    """The agent's verdict on one bar, from state built on earlier bars only.

    Prices are nano-units; ``granularity`` is in nano-units too (ticks × tick).
    ``reason`` is None for HOLD; ``stop`` is the stop of the position the
    signal opens (entries) or of the position it closes (exits).
    """

    symbol: str
    time_ns: int
    signal: Signal
    reason: Reason | None
    conviction: float | None
    support: Zone | None
    resistance: Zone | None
    volume_percentile: float | None
    spike: bool
    granularity: int | None
    stop: int | None
    health: str = "ok"
