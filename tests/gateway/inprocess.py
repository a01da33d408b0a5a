"""An in-process broker for runtime tests: the stand-in's own order book
(``standins.broker``) behind the ``Broker`` protocol, its JSON parsed by the real
Alpaca adapter functions. Time, bars and connectivity are driven by the test."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from alpaca.trading.models import Order

from core.commands import ReplaceOrder, SubmitOrder
from core.events import Bar
from gateway.brokers.alpaca import order_from_model, trade_event_from_raw
from gateway.brokers.base import (
    Account,
    BrokerOrder,
    MarketClock,
    NotFound,
    RejectedRequest,
    StreamSinks,
    TradeEvent,
)
from standins.broker import ApiError
from standins.broker import Broker as Book
from standins.market import MINUTE_NS, SessionMarket


class InProcessBroker:
    name = "inproc"

    def __init__(self, market: SessionMarket) -> None:
        self.book = Book(market=market, seed=1)
        self.now = market.live_start_ns
        self.published: list[Bar] = []
        self.connected = True
        self.lost_events = 0
        self.bad_bars: list[Exception] = []
        self._on_bar: Callable[[Bar], Awaitable[None]] | None = None
        self._on_trade: Callable[[TradeEvent], Awaitable[None]] | None = None

    # ------------------------------------------------------------ driving
    async def publish(self, bar: Bar) -> None:
        self.now = max(self.now, bar.time_ns + MINUTE_NS)
        self.published.append(bar)
        events = self.book.on_bar(bar)
        if self.connected and self._on_bar is not None:
            await self._on_bar(bar)
        await self._deliver(events)

    async def _deliver(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            if not self.connected or self._on_trade is None:
                self.lost_events += 1
                continue
            await self._on_trade(trade_event_from_raw({"stream": "trade_updates", "data": event}))

    def disconnect(self) -> None:
        self.connected = False
        self._on_bar = self._on_trade = None

    # ------------------------------------------------------------ protocol
    async def account(self) -> Account:
        return Account(self.book.equity(), self.book.cash, self.book.buying_power(), "ACTIVE")

    async def clock(self) -> MarketClock:
        return MarketClock(self.now, True, self.now + 86_400 * 10**9, self.now + 3600 * 10**9)

    def _order(self, raw: dict[str, Any]) -> BrokerOrder:
        return order_from_model(Order(**raw))

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder:
        body = {
            "symbol": command.symbol,
            "qty": str(command.quantity),
            "side": command.side.value,
            "type": command.order_type.value,
            "time_in_force": command.time_in_force.value,
            "client_order_id": broker_client_id,
        }
        try:
            answer, events = self.book.submit(self.now, body)
        except ApiError as exc:
            raise RejectedRequest(exc.status, str(exc)) from None
        await self._deliver(events)
        return self._order(answer)

    async def cancel(self, broker_client_id: str) -> None:
        try:
            order = self.book.find_by_client_id(broker_client_id)
            events = self.book.cancel(self.now, order.id)
        except ApiError as exc:
            raise RejectedRequest(exc.status, str(exc)) from None
        await self._deliver(events)

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        raise RejectedRequest(422, "replace not used by market orders")

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        try:
            return self._order(self.book.order_json(self.book.find_by_client_id(broker_client_id)))
        except ApiError:
            return None

    async def open_orders(self) -> list[BrokerOrder]:
        return [self._order(o) for o in self.book.list_orders({"status": "open", "limit": "500"})]

    async def positions(self) -> dict[str, int]:
        return {p["symbol"]: int(p["qty"]) for p in self.book.positions_json()}

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        return [b for b in self.published if start_ns <= b.time_ns < end_ns and b.symbol in symbols]

    async def stream(self, sinks: StreamSinks) -> None:
        self.connected = True
        self._on_bar, self._on_trade = sinks.on_bar, sinks.on_trade

    async def restart_data_stream(self, reason: str) -> None:
        return None

    async def close(self) -> None:
        self.disconnect()


__all__ = ["InProcessBroker", "NotFound"]
