"""What a SymbolAgent says about a bar (SPEC §4.5)."""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple


class Signal(str, Enum):
    ENTER_LONG = "ENTER_LONG"
    ENTER_SHORT = "ENTER_SHORT"
    EXIT_LONG = "EXIT_LONG"
    EXIT_SHORT = "EXIT_SHORT"
    HOLD = "HOLD"


class Reason(str, Enum):
    LEVEL = "level"
    STOP = "stop"


class Zone(NamedTuple):
    """A bucket ``[low, high)`` in nano-units."""

    low: int
    high: int


class AgentSignal(NamedTuple):
    """The agent's verdict on one bar, from state built on earlier bars only.

    A NamedTuple rather than a frozen dataclass: just as immutable, and five
    times cheaper to build, which matters at one per bar per symbol.

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
