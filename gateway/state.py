"""What the gateway's parts share: options, counters, the market's time, and the
few facts about inputs and orders that more than one part reads.

One object, handed to every part at wiring, instead of each part reaching into
another's private attributes. Each field says who writes it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gateway.ids import Ids
from gateway.session import CalendarSchedule, EngineClock, MarketTime

MINUTE_NS = 60 * 10**9


@dataclass
class RuntimeOptions:
    status_interval: float = 10.0
    reconcile_interval: float = 3.0
    clock_interval: float = 1.0
    tick: float = 0.05  # timer resolution in wall seconds
    send_alerts_during_catchup: bool = False
    cash_flow_interval: float | None = None  # None: one bar period, within [1 s, 30 s]


@dataclass
class Counters:
    bars: int = 0
    fills: int = 0
    cash_flows: int = 0
    duplicate_executions: int = 0
    duplicate_cash_flows: int = 0
    bad_inputs: int = 0
    rejected_sends: int = 0
    stale_entries_refused: int = 0
    reconciled_fills: int = 0
    discrepancies: int = 0
    reconnects: int = 0
    replayed: int = 0
    alerts: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class LiveState:
    """The shared facts of one gateway process (single-threaded: the event loop)."""

    def __init__(self, symbols: list[str], ids: Ids, options: RuntimeOptions) -> None:
        self.symbols = symbols
        self.ids = ids
        self.options = options
        self.counters = Counters()
        self.market = MarketTime()
        self.calendar = CalendarSchedule()
        self.clock = EngineClock()
        # written by the input pipeline
        self.timers: dict[tuple[int, str], int] = {}  # (due, key) → how many scheduled
        self.last_bar: dict[str, int] = {}  # symbol → start of the last bar processed
        self.booked: dict[str, tuple[int, int]] = {}  # engine id → (qty, notional) booked
        self.decided_on: dict[str, int] = {}  # engine order id → end of the bar it came from
        # written by the stream handlers
        self.last_bar_wall = time.monotonic()  # wall time of the last *live* bar
        # written by the sender and the reconciler
        self.sent_wall: dict[str, float] = {}  # engine id → wall time it reached the broker
        # written by the start/stop sequence
        self.catching_up = False
        self.stopping = False
        self.stop_bars = False

    def alerts_muted(self) -> bool:
        """Telegram stays quiet while catching up (unless asked otherwise)."""
        return self.catching_up and not self.options.send_alerts_during_catchup
