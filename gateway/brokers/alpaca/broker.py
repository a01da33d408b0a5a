"""Alpaca through ``alpaca-py``: the ``Broker`` that ties the mapping, REST calls
and streams of this package together.

Each concern is a module of its own (as NautilusTrader splits its adapters):
``mapping`` (wire ↔ core, pure), ``rest`` (thread pool, back-off, transport
failures), ``streams`` (the websockets' raw handlers); this module only says
which Alpaca endpoint answers which ``Broker`` question.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar, cast

from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus
from alpaca.trading.models import Clock, Order, Position, TradeAccount
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopOrderRequest,
)

from core.commands import CashFlow, OrderType, ReplaceOrder, SubmitOrder
from core.errors import BadInput
from core.events import Bar
from core.money import price_from_decimal
from gateway.brokers.alpaca.mapping import (
    ACTIVITIES_PAGE,
    CASH_ACTIVITY_TYPES,
    EPOCH,
    TIF,
    bar_from_raw,
    cash_flow_from_raw,
    decimal_text,
    order_from_model,
    position_quantity,
    short,
    to_decimal,
    to_ns,
)
from gateway.brokers.alpaca.rest import RestCalls, tune_client
from gateway.brokers.alpaca.streams import ReportingTradingStream, handlers, ws_open
from gateway.brokers.base import (
    Account,
    BrokerOrder,
    Connection,
    MarketClock,
    NotFound,
    RejectedRequest,
    StreamLinks,
    StreamSinks,
)
from gateway.config import AlpacaConfig

log = logging.getLogger("gateway.alpaca")
_T = TypeVar("_T")


class AlpacaBroker:
    """The ``Broker`` of an Alpaca account: orders, positions and bars by REST,
    bars and trade updates by websocket (``streams``), deposits by account
    activities; REST under ``RestCalls``' shared back-off."""

    name = "alpaca"

    def __init__(
        self,
        config: AlpacaConfig,
        paper: bool,
        symbols: Sequence[str],
        *,
        max_retries: int = 8,
        max_backoff: float = 4.0,
    ) -> None:
        key, secret = config.api_key.reveal(), config.secret_key.reveal()
        self._config = config
        self._paper = paper
        self._symbols = list(symbols)
        self._rest = RestCalls(max_retries, max_backoff)
        self.bad_bars: list[BadInput] = []  # unreadable bars of the last ``bars`` call
        self.bad_activities: list[BadInput] = []  # ... of the last ``cash_flows`` call
        self._trading = TradingClient(key, secret, paper=paper, url_override=config.rest_url)
        self._data_rest = StockHistoricalDataClient(
            key, secret, url_override=config.data_url, raw_data=True
        )
        tune_client(self._trading)
        tune_client(self._data_rest)
        feed = DataFeed.SIP if config.feed == "sip" else DataFeed.IEX
        self._feed = feed
        self._data_stream = StockDataStream(
            key, secret, raw_data=True, feed=feed, url_override=config.data_ws_url
        )
        self._trade_stream: ReportingTradingStream | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def rate_limited(self) -> int:
        """The 429 replies waited out so far (``CountsRateLimits``)."""
        return self._rest.rate_limited

    def connections(self) -> tuple[Connection, ...]:
        """The two websockets and the 429 count (``ConnectionReporting``)."""
        links = StreamLinks(
            ws_open(self._data_stream), ws_open(self._trade_stream), self.rate_limited
        )
        return (Connection(self.name, links),)

    async def _call(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        """One REST call through the shared back-off (``RestCalls.call``)."""
        return await self._rest.call(what, fn, *args)

    async def account(self) -> Account:
        # alpaca-py types its replies Model | RawData; without raw_data they are models.
        acct = cast(TradeAccount, await self._call("account", self._trading.get_account))
        return Account(
            equity=price_from_decimal(to_decimal(acct.equity, "account.equity"), "account.equity"),
            cash=price_from_decimal(to_decimal(acct.cash, "account.cash"), "account.cash"),
            buying_power=price_from_decimal(
                to_decimal(acct.buying_power, "account.buying_power"), "account.buying_power"
            ),
            status=str(getattr(acct.status, "value", acct.status)),
        )

    async def clock(self) -> MarketClock:
        clock = cast(Clock, await self._call("clock", self._trading.get_clock))
        return MarketClock(
            time_ns=to_ns(clock.timestamp, "clock.timestamp"),
            is_open=bool(clock.is_open),
            next_open_ns=to_ns(clock.next_open, "clock.next_open"),
            next_close_ns=to_ns(clock.next_close, "clock.next_close"),
        )

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder:
        common: dict[str, Any] = {
            "symbol": command.symbol,
            "qty": command.quantity,
            "side": OrderSide(command.side.value),
            "time_in_force": TIF[command.time_in_force],
            "client_order_id": broker_client_id,
        }
        if command.order_type is OrderType.MARKET:
            request: Any = MarketOrderRequest(**common)
        elif command.order_type is OrderType.LIMIT and command.limit_price is not None:
            request = LimitOrderRequest(
                **common, limit_price=float(decimal_text(command.limit_price))
            )
        elif command.order_type is OrderType.STOP and command.stop_price is not None:
            # A protective stop resting at Alpaca: a market order once traded through.
            request = StopOrderRequest(**common, stop_price=float(decimal_text(command.stop_price)))
        else:
            raise RejectedRequest(None, f"order type {command.order_type.value} is not on Alpaca")
        order = await self._call("submit", self._trading.submit_order, request)
        return order_from_model(cast(Order, order))

    async def _by_client_id(self, broker_client_id: str) -> Order:
        found = await self._call("order", self._trading.get_order_by_client_id, broker_client_id)
        return cast(Order, found)

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        try:
            return order_from_model(await self._by_client_id(broker_client_id))
        except NotFound:
            return None

    async def cancel(self, broker_client_id: str) -> None:
        order = await self._by_client_id(broker_client_id)
        await self._call("cancel", self._trading.cancel_order_by_id, str(order.id))

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        order = await self._by_client_id(broker_client_id)
        request = ReplaceOrderRequest(
            qty=command.quantity,
            limit_price=None
            if command.limit_price is None
            else float(decimal_text(command.limit_price)),
            stop_price=None
            if command.stop_price is None
            else float(decimal_text(command.stop_price)),
            client_order_id=new_broker_client_id,
        )
        new = await self._call("replace", self._trading.replace_order_by_id, str(order.id), request)
        return order_from_model(cast(Order, new))

    async def open_orders(self) -> list[BrokerOrder]:
        orders = await self._call(
            "orders",
            self._trading.get_orders,
            GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500),
        )
        return [order_from_model(o) for o in cast(list[Order], orders)]

    async def positions(self) -> dict[str, int]:
        positions = cast(
            list[Position], await self._call("positions", self._trading.get_all_positions)
        )
        return {p.symbol: position_quantity(p) for p in positions if position_quantity(p)}

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        """Minute bars with start in [start_ns, end_ns), all symbols, sorted by time.
        Malformed rows are skipped with a logged ``BadInput`` (counted by the caller
        through ``bad_bars``)."""
        if end_ns <= start_ns:
            return []
        request = StockBarsRequest(
            symbol_or_symbols=list(symbols),
            timeframe=TimeFrame.Minute,
            start=EPOCH + timedelta(microseconds=start_ns // 1000),
            end=EPOCH + timedelta(microseconds=(end_ns - 1) // 1000),
            feed=self._feed,
        )
        raw = await self._call("bars", self._data_rest.get_stock_bars, request)
        bars: list[Bar] = []
        self.bad_bars = []
        for symbol, rows in (cast(dict[str, Any], raw) or {}).items():  # raw_data=True
            for row in rows or []:
                try:
                    bar = bar_from_raw(symbol, row)
                except BadInput as exc:
                    self.bad_bars.append(exc)
                    continue
                if start_ns <= bar.time_ns < end_ns:
                    bars.append(bar)
        bars.sort(
            key=lambda b: (
                b.time_ns,
                self._symbols.index(b.symbol) if b.symbol in self._symbols else 0,
            )
        )
        return bars

    async def cash_flows(self, after_ns: int) -> list[CashFlow]:
        """Deposits and withdrawals made after ``after_ns`` (oldest first).

        alpaca-py's ``TradingClient`` has no account-activities method (only the
        Broker API client does), so this is its generic ``get`` on
        ``/v2/account/activities`` with ``activity_types=CSD,CSW``, ascending,
        paged by ``page_token`` (the last id of the previous page). Rows that
        cannot be trusted are kept in ``bad_activities`` (the caller counts
        them) and skipped; the others are returned whether or not they were
        seen before: the runtime deduplicates by id.
        """
        after = (EPOCH + timedelta(microseconds=after_ns // 1000)).isoformat()
        params: dict[str, Any] = {
            "activity_types": ",".join(CASH_ACTIVITY_TYPES),
            "direction": "asc",
            "page_size": ACTIVITIES_PAGE,
            "after": after.replace("+00:00", "Z"),
        }
        flows: list[CashFlow] = []
        self.bad_activities = []
        seen: set[str] = set()
        while True:
            page = await self._call(
                "activities", self._trading.get, "/account/activities", dict(params)
            )
            if not isinstance(page, list):
                raise BadInput("alpaca.activities", short(page), "is not a list")
            for row in page:
                try:
                    flow = cash_flow_from_raw(row)
                except BadInput as exc:
                    self.bad_activities.append(exc)
                    continue
                if flow is not None and flow.flow_id not in seen:
                    seen.add(flow.flow_id)
                    flows.append(flow)
            last = page[-1].get("id") if page and isinstance(page[-1], dict) else None
            if len(page) < ACTIVITIES_PAGE or not isinstance(last, str) or last in params.values():
                return flows
            params["page_token"] = last

    # ---------------------------------------------------------- streams
    handlers = staticmethod(handlers)
    """The raw-message handlers given to alpaca-py's streams (``streams.handlers``)."""

    async def stream(self, sinks: StreamSinks) -> None:
        """Start both streams as tasks in this loop (subscriptions first: alpaca-py
        blocks on a subscribe made while its stream is running)."""
        bar_handler, trade_handler = handlers(sinks.on_bar, sinks.on_trade, sinks.on_bad)
        self._data_stream.subscribe_bars(bar_handler, *self._symbols)
        self._trade_stream = ReportingTradingStream(
            self._config.api_key.reveal(),
            self._config.secret_key.reveal(),
            paper=self._paper,
            raw_data=True,
            url_override=self._config.trading_ws_url,
            on_connected=sinks.on_trading_connected,
        )
        self._trade_stream.subscribe_trade_updates(trade_handler)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._data_stream._run_forever(), name="alpaca-data"),
            loop.create_task(self._trade_stream._run_forever(), name="alpaca-trading"),
        ]

    async def restart_data_stream(self, reason: str) -> None:
        """Drop the market-data socket; alpaca-py reconnects with back-off and
        resubscribes (its subscriptions survive in the stream object)."""
        ws = self._data_stream._ws
        log.warning("market-data stream: %s; reconnecting", reason)
        if ws is not None:
            # Drop the TCP connection at once: a polite close handshake with a
            # peer that has gone quiet can itself hang for the close timeout.
            ws.fail_connection()

    async def close(self) -> None:
        for stream in (self._data_stream, self._trade_stream):
            if stream is not None:
                try:
                    await stream.stop_ws()
                except Exception as exc:  # a stream that never started
                    log.debug("stream stop: %s", exc)
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, 1.5)
            except (TimeoutError, asyncio.CancelledError, Exception):
                task.cancel()
        self._rest.shutdown()

    async def stop_market_data(self) -> None:
        """Stop bars only (shutdown: no new decisions while orders are settled)."""
        with contextlib.suppress(Exception):
            await self._data_stream.stop_ws()
