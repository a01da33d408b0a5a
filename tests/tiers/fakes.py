"""A fake ``Broker`` that keeps its orders in a dict: enough to see where the
tiered broker sends each request, without any network."""

from __future__ import annotations

from collections.abc import Sequence

from core.commands import Fill, ReplaceOrder, Side, SubmitOrder
from core.events import Bar
from gateway.brokers.base import (
    Account,
    BrokerOrder,
    MarketClock,
    NotFound,
    RejectedRequest,
    StreamSinks,
    TradeEvent,
)


class FakeBroker:
    def __init__(self, name: str, equity: int = 0) -> None:
        self.name = name
        self.orders: dict[str, BrokerOrder] = {}
        self.calls: list[tuple[str, str]] = []
        self.held: dict[str, int] = {}
        self.equity = equity
        self.down = False  # order() raises: the broker cannot answer right now
        self.closed = False
        self.rate_limited = 0
        self.sinks: StreamSinks | None = None
        self.restarts: list[str] = []
        self.clock_ns = 1_000

    async def account(self) -> Account:
        return Account(self.equity, self.equity // 2, self.equity * 2, "ACTIVE")

    async def clock(self) -> MarketClock:
        return MarketClock(self.clock_ns, True, 0, 0)

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder:
        self.calls.append(("submit", broker_client_id))
        order = BrokerOrder(
            broker_client_id,
            f"{self.name}-{len(self.orders) + 1}",
            command.symbol,
            command.side.value,
            command.quantity,
            0,
            0,
            "new",
            True,
        )
        self.orders[broker_client_id] = order
        return order

    async def cancel(self, broker_client_id: str) -> None:
        self.calls.append(("cancel", broker_client_id))
        if broker_client_id not in self.orders:
            raise NotFound(404, "order not found")

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        self.calls.append(("replace", broker_client_id))
        if broker_client_id not in self.orders:
            raise NotFound(404, "order not found")
        old = self.orders[broker_client_id]
        new = BrokerOrder(
            new_broker_client_id,
            old.broker_order_id + "r",
            old.symbol,
            old.side,
            command.quantity,
            0,
            0,
            "new",
            True,
        )
        self.orders[new_broker_client_id] = new
        return new

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        self.calls.append(("order", broker_client_id))
        if self.down:
            raise RejectedRequest(503, "unavailable")
        return self.orders.get(broker_client_id)

    async def open_orders(self) -> list[BrokerOrder]:
        return [o for o in self.orders.values() if o.open]

    async def positions(self) -> dict[str, int]:
        return dict(self.held)

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        return [Bar(symbols[0], start_ns, 1, 1, 1, 1, 1)]

    async def stream(self, sinks: StreamSinks) -> None:
        self.sinks = sinks

    async def emit_bar(self, bar: Bar) -> None:
        assert self.sinks is not None
        await self.sinks.on_bar(bar)

    async def emit_fill(self, broker_client_id: str, qty: int) -> None:
        assert self.sinks is not None
        fill = Fill(1, broker_client_id, f"{self.name}-x{qty}", "AAPL", Side.BUY, qty, 10**9)
        await self.sinks.on_trade(TradeEvent(broker_client_id, "fill", fill, None, qty))

    async def restart_data_stream(self, reason: str) -> None:
        self.restarts.append(reason)

    async def close(self) -> None:
        self.closed = True
