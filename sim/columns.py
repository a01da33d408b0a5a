"""Bars and the agents' verdicts as columns: the simulator's bulk data format.

Why columns: a run of 30 symbols over five years of minutes is ~15 million
bars. As Python objects (``Bar``, ``AgentSignal``) that is ~2.8 KB a bar and
does not fit in memory; as int64/float64 columns it is ~100 bytes a bar, and
compiled loops (the agents' batch route) and vectorised writers can work on it
without building an object per row.

``BarColumns`` holds bars in feed order (time, then symbol order), prices in
nano-units. ``SignalColumns`` is aligned with it row for row: row ``i`` is the
agent's verdict on bar ``i``. Optional values use sentinels so the columns stay
plain numeric arrays: ``NO_PRICE`` (-1) for prices and counts, NaN for floats,
``NO_CODE`` (-1) for an absent reason.

Both convert to and from the object forms exactly (tests hold them to that),
so the event-at-a-time path and the batch path can be compared row by row.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.events import Bar
from core.signals import AgentSignal, Reason, Signal, Zone

NO_PRICE = -1
"""Sentinel for an absent price or count (every real price is > 0)."""
NO_CODE = -1
"""Sentinel for an absent reason code."""

SIGNAL_CODES: tuple[Signal, ...] = (
    Signal.HOLD,
    Signal.ENTER_LONG,
    Signal.ENTER_SHORT,
    Signal.EXIT_LONG,
    Signal.EXIT_SHORT,
)
"""``signal`` column code → Signal; HOLD is 0 so a zeroed column means 'quiet'."""
REASON_CODES: tuple[Reason, ...] = (Reason.LEVEL, Reason.STOP)
HEALTH_CODES: tuple[str, ...] = ("ok", "gap", "stale")
"""``health`` column code → the agent's health text; ok is 0."""

_SIGNAL_INDEX = {s: i for i, s in enumerate(SIGNAL_CODES)}
_REASON_INDEX = {r: i for i, r in enumerate(REASON_CODES)}
_HEALTH_INDEX = {h: i for i, h in enumerate(HEALTH_CODES)}

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
I32 = NDArray[np.int32]
I8 = NDArray[np.int8]
B1 = NDArray[np.bool_]


def _opt(value: int | None) -> int:
    return NO_PRICE if value is None else value


def _back(value: int) -> int | None:
    return None if value == NO_PRICE else int(value)


@dataclass(frozen=True)
class BarColumns:
    """Bars as columns, in feed order; ``sym`` indexes ``symbols``."""

    symbols: tuple[str, ...]
    sym: I32
    time_ns: I64
    open: I64
    high: I64
    low: I64
    close: I64
    volume: I64
    vwap: I64  # NO_PRICE where the bar has none
    trades: I64  # NO_PRICE where the bar has none

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])

    def bar(self, i: int) -> Bar:
        """Row ``i`` as a validated ``Bar`` (the event-at-a-time path's input)."""
        return Bar(
            self.symbols[int(self.sym[i])],
            int(self.time_ns[i]),
            int(self.open[i]),
            int(self.high[i]),
            int(self.low[i]),
            int(self.close[i]),
            int(self.volume[i]),
            _back(int(self.vwap[i])),
            _back(int(self.trades[i])),
        )

    def bars(self) -> Iterator[Bar]:
        """Every row as a ``Bar``, in order (compatibility with object-based callers)."""
        for i in range(len(self)):
            yield self.bar(i)

    def take(self, rows: I64 | B1) -> BarColumns:
        """The rows selected by an index array or a boolean mask, in order."""
        return BarColumns(
            self.symbols,
            self.sym[rows],
            self.time_ns[rows],
            self.open[rows],
            self.high[rows],
            self.low[rows],
            self.close[rows],
            self.volume[rows],
            self.vwap[rows],
            self.trades[rows],
        )

    @classmethod
    def from_bars(cls, bars: Iterable[Bar], symbols: Sequence[str] | None = None) -> BarColumns:
        """Columns of ``bars`` in the order given; ``symbols`` fixes the index order
        (default: order of first appearance)."""
        rows = list(bars)
        names = list(dict.fromkeys(b.symbol for b in rows)) if symbols is None else list(symbols)
        index = {s: i for i, s in enumerate(names)}
        n = len(rows)

        def column(values: Iterable[int]) -> I64:
            return np.fromiter(values, dtype=np.int64, count=n)

        return cls(
            tuple(names),
            np.fromiter((index[b.symbol] for b in rows), dtype=np.int32, count=n),
            column(b.time_ns for b in rows),
            column(b.open for b in rows),
            column(b.high for b in rows),
            column(b.low for b in rows),
            column(b.close for b in rows),
            column(b.volume for b in rows),
            column(_opt(b.vwap) for b in rows),
            column(_opt(b.trades) for b in rows),
        )


@dataclass(frozen=True)
class SignalColumns:
    """The agents' verdicts as columns (row ``i`` judges bar ``i`` of its BarColumns).

    Codes: ``signal`` indexes ``SIGNAL_CODES``, ``reason`` ``REASON_CODES``
    (``NO_CODE`` = none), ``health`` ``HEALTH_CODES``. Zones, granularity and
    stop are nano-units or ``NO_PRICE``; conviction and percentile are NaN
    when absent.
    """

    symbols: tuple[str, ...]
    sym: I32
    time_ns: I64
    signal: I8
    reason: I8
    conviction: F64
    support_low: I64
    support_high: I64
    resistance_low: I64
    resistance_high: I64
    volume_percentile: F64
    spike: B1
    granularity: I64
    stop: I64
    health: I8

    def __len__(self) -> int:
        return int(self.time_ns.shape[0])

    @classmethod
    def empty(cls, symbols: Sequence[str], n: int) -> SignalColumns:
        """``n`` rows to be filled in place (all HOLD, nothing known, health ok)."""
        return cls(
            tuple(symbols),
            np.zeros(n, dtype=np.int32),
            np.zeros(n, dtype=np.int64),
            np.zeros(n, dtype=np.int8),
            np.full(n, NO_CODE, dtype=np.int8),
            np.full(n, np.nan, dtype=np.float64),
            np.full(n, NO_PRICE, dtype=np.int64),
            np.full(n, NO_PRICE, dtype=np.int64),
            np.full(n, NO_PRICE, dtype=np.int64),
            np.full(n, NO_PRICE, dtype=np.int64),
            np.full(n, np.nan, dtype=np.float64),
            np.zeros(n, dtype=np.bool_),
            np.full(n, NO_PRICE, dtype=np.int64),
            np.full(n, NO_PRICE, dtype=np.int64),
            np.zeros(n, dtype=np.int8),
        )

    def put(self, i: int, signal: AgentSignal) -> None:
        """Write one verdict into row ``i`` (the event-at-a-time path's way in)."""
        self.sym[i] = self.symbols.index(signal.symbol)
        self.time_ns[i] = signal.time_ns
        self.signal[i] = _SIGNAL_INDEX[signal.signal]
        self.reason[i] = NO_CODE if signal.reason is None else _REASON_INDEX[signal.reason]
        self.conviction[i] = np.nan if signal.conviction is None else signal.conviction
        support, resistance = signal.support, signal.resistance
        self.support_low[i] = NO_PRICE if support is None else support.low
        self.support_high[i] = NO_PRICE if support is None else support.high
        self.resistance_low[i] = NO_PRICE if resistance is None else resistance.low
        self.resistance_high[i] = NO_PRICE if resistance is None else resistance.high
        percentile = signal.volume_percentile
        self.volume_percentile[i] = np.nan if percentile is None else percentile
        self.spike[i] = signal.spike
        self.granularity[i] = _opt(signal.granularity)
        self.stop[i] = _opt(signal.stop)
        self.health[i] = _HEALTH_INDEX[signal.health]

    def signal_at(self, i: int) -> AgentSignal:
        """Row ``i`` as the ``AgentSignal`` the agent returned."""
        reason = int(self.reason[i])
        conviction = float(self.conviction[i])
        percentile = float(self.volume_percentile[i])
        s_low, r_low = int(self.support_low[i]), int(self.resistance_low[i])
        return AgentSignal(
            self.symbols[int(self.sym[i])],
            int(self.time_ns[i]),
            SIGNAL_CODES[int(self.signal[i])],
            None if reason == NO_CODE else REASON_CODES[reason],
            None if conviction != conviction else conviction,
            None if s_low == NO_PRICE else Zone(s_low, int(self.support_high[i])),
            None if r_low == NO_PRICE else Zone(r_low, int(self.resistance_high[i])),
            None if percentile != percentile else percentile,
            bool(self.spike[i]),
            _back(int(self.granularity[i])),
            _back(int(self.stop[i])),
            HEALTH_CODES[int(self.health[i])],
        )

    def signals(self) -> Iterator[AgentSignal]:
        for i in range(len(self)):
            yield self.signal_at(i)

    def take(self, rows: I64 | B1) -> SignalColumns:
        """The rows selected by an index array or a boolean mask, in order."""
        return SignalColumns(
            self.symbols,
            *(
                getattr(self, name)[rows]
                for name in (
                    "sym",
                    "time_ns",
                    "signal",
                    "reason",
                    "conviction",
                    "support_low",
                    "support_high",
                    "resistance_low",
                    "resistance_high",
                    "volume_percentile",
                    "spike",
                    "granularity",
                    "stop",
                    "health",
                )
            ),
        )

    @classmethod
    def from_signals(cls, signals: Sequence[AgentSignal], symbols: Sequence[str]) -> SignalColumns:
        columns = cls.empty(symbols, len(signals))
        for i, signal in enumerate(signals):
            columns.put(i, signal)
        return columns
