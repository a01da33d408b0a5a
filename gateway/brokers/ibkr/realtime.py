"""Live minute bars from TWS: 5-second real-time bars, aggregated.

A minute is emitted once its 12th bar (second :55) arrives; a minute with a
missing 5-second bar is dropped and counted (``incomplete_minutes``): the
runtime sees the gap and backfills it. Kept apart from orders and
executions: what happens here only ever reaches the runtime as a bar or as
bad input, through the broker's one delivery queue (``enqueue``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ib_async import IB, Contract

from core.errors import BadInput
from gateway.brokers.ibkr.mapping import NS, to_ns, to_price, to_whole
from gateway.brokers.ibkr.pacing import MinuteAggregator


class MarketTime:
    """The latest market time TWS has shown (a bar's end, ``currentTime``), in ns;
    0 before any. Shared by the live bars, the clock and the order requests."""

    def __init__(self) -> None:
        self.ns = 0

    def saw(self, time_ns: int) -> None:
        self.ns = max(self.ns, time_ns)


class RealtimeBars:
    """The real-time bar subscriptions of one connection."""

    def __init__(
        self,
        ib: IB,
        volume_multiplier: int,
        enqueue: Callable[[str, Any], None],
        saw_time: Callable[[int], None],
    ) -> None:
        self.ib = ib
        self._volume_multiplier = volume_multiplier
        self._enqueue = enqueue
        self._saw_time = saw_time  # the market time a bar's end proves (ns)
        self._realtime: dict[str, Any] = {}
        self._aggregators: dict[str, MinuteAggregator] = {}
        self.incomplete_minutes = 0

    def subscribe(self, contracts: Mapping[str, Contract], symbols: Sequence[str]) -> None:
        """(Re)subscribe every wanted symbol; an old subscription's handler is dropped."""
        for symbol, contract in contracts.items():
            if symbol not in symbols:
                continue
            old = self._realtime.pop(symbol, None)
            if old is not None:
                old.updateEvent.clear()
            bars = self.ib.reqRealTimeBars(contract, 5, "TRADES", False)
            bars.updateEvent += self._handler(symbol)
            self._realtime[symbol] = bars
            self._aggregators[symbol] = MinuteAggregator(symbol, self._volume_multiplier)

    def cancel(self) -> None:
        """Cancel the subscriptions at TWS (they are made again by ``subscribe``)."""
        for bars in list(self._realtime.values()):
            with contextlib.suppress(Exception):
                self.ib.cancelRealTimeBars(bars)

    def stop(self) -> None:
        """No more bars: handlers dropped, subscriptions cancelled and forgotten."""
        for bars in list(self._realtime.values()):
            bars.updateEvent.clear()
            with contextlib.suppress(Exception):
                self.ib.cancelRealTimeBars(bars)
        self._realtime.clear()

    def _handler(self, symbol: str) -> Callable[[Any, bool], None]:
        def handle(bars: Any, has_new: bool) -> None:
            if not has_new or not bars:
                return
            row = bars[-1]
            aggregator = self._aggregators[symbol]
            try:
                time_s = to_ns(row.time, "realtimeBar.time") // NS
                bar = aggregator.add(
                    time_s,
                    to_price(row.open_, "realtimeBar.open"),
                    to_price(row.high, "realtimeBar.high"),
                    to_price(row.low, "realtimeBar.low"),
                    to_price(row.close, "realtimeBar.close"),
                    to_whole(row.volume, "realtimeBar.volume"),
                    max(0, int(row.count)),
                )
                self._saw_time((time_s + 5) * NS)
            except (BadInput, ValueError) as exc:
                aggregator.parts = {}
                error = exc if isinstance(exc, BadInput) else BadInput("bar", symbol, str(exc))
                self._enqueue("bad", ("bar", error))
                return
            self.incomplete_minutes = sum(a.incomplete for a in self._aggregators.values())
            if bar is not None:
                self._enqueue("bar", bar)

        return handle
