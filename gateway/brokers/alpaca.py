"""Alpaca through ``alpaca-py``: REST for orders/positions/account/clock/bars,
websockets for minute bars and trade updates, mapped to core types.

alpaca-py's REST clients are synchronous (``requests``), so every call runs in
a worker thread (``asyncio.to_thread``) and never stalls the event loop. Its
streams normally own their loop (``run()`` calls ``asyncio.run``); here their
``_run_forever()`` coroutines run as tasks inside the gateway's loop, which is
the documented way to run several streams together (alpaca-py issue #476).

HTTP 429 is not left to alpaca-py's fixed 3 s retry: the clients are built to
surface it, and ``_call`` backs off exponentially with jitter (or by the
``Retry-After`` header when the server sends one). Streams are read raw
(``raw_data=True``) so a malformed message is ours to reject with a clear
``BadInput`` instead of dying inside the library's parser.

Alpaca's wire carries some prices as JSON floats; they are turned into
``Decimal`` through their shortest ``repr`` (exact for every price Alpaca can
quote) and then into nano-units.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, TypeVar, cast

import msgpack
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.models import Bar as AlpacaBar
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.models import Clock, Order, Position, TradeAccount, TradeUpdate
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopOrderRequest,
)
from alpaca.trading.stream import TradingStream
from pydantic import ValidationError

from core.commands import (
    CashFlow,
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.errors import BadInput
from core.events import Bar
from core.money import price_from_decimal, price_to_decimal, quantity_from_decimal
from gateway.brokers.base import (
    Account,
    BrokerOrder,
    MarketClock,
    NotFound,
    RejectedRequest,
    TradeEvent,
)
from gateway.config import AlpacaConfig

log = logging.getLogger("gateway.alpaca")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NANO = Decimal("1e-9")
_FIRST_DELAY = 0.25
REST_TIMEOUT_S = 15.0
"""Longest wait for one REST reply before it counts as a transport error and is
retried with back-off (Alpaca answers in well under a second)."""
_T = TypeVar("_T")

OPEN_STATUSES = frozenset(
    {
        "new",
        "accepted",
        "pending_new",
        "partially_filled",
        "pending_cancel",
        "pending_replace",
        "accepted_for_bidding",
        "held",
        "calculated",
        "done_for_day",
        "stopped",
        "suspended",
    }
)

_TIF = {
    TimeInForce.DAY: AlpacaTif.DAY,
    TimeInForce.IOC: AlpacaTif.IOC,
    TimeInForce.GTC: AlpacaTif.GTC,
}

_STATUS_EVENTS = {
    "new": OrdStatus.NEW,
    "canceled": OrdStatus.CANCELED,
    "expired": OrdStatus.EXPIRED,
    "rejected": OrdStatus.REJECTED,
}
"""Trade-update events that are a plain status change of the order itself.
``fill``/``partial_fill`` become ``Fill`` events; ``replaced`` and the
``order_*_rejected`` events answer *our requests* and are resolved by the
runtime, which knows which request id is pending."""


# ------------------------------------------------------------- conversions


def to_decimal(value: object, field: str) -> Decimal:
    if value is None or isinstance(value, bool):
        raise BadInput(field, value, "is missing")
    try:
        if isinstance(value, float):
            number = Decimal(repr(value))
        elif isinstance(value, int | str | Decimal):
            number = Decimal(value)
        else:
            raise BadInput(field, value, "is not a number")
    except InvalidOperation:
        raise BadInput(field, value, "is not a number") from None
    if not number.is_finite():
        raise BadInput(field, value, "is not finite")
    return number


def to_price(value: object, field: str) -> int:
    number = to_decimal(value, field)
    if isinstance(value, float):
        # A JSON float carries binary noise past the 9th decimal (0.1 + 0.2); the
        # nearest nano-unit is the price meant. Decimal strings must be exact.
        number = number.quantize(_NANO, rounding=ROUND_HALF_EVEN)
    price = price_from_decimal(number, field)
    if price <= 0:
        raise BadInput(field, value, "must be positive")
    return price


def to_quantity(value: object, field: str, decimals: int = 0) -> int:
    return quantity_from_decimal(to_decimal(value, field), decimals, field)


def to_ns(moment: object, field: str) -> int:
    if isinstance(moment, msgpack.Timestamp):
        return int(moment.to_unix_nano())
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            raise BadInput(field, moment, "is not an ISO-8601 time") from None
    if not isinstance(moment, datetime):
        raise BadInput(field, moment, "is not a time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def decimal_text(price: int) -> str:
    return str(price_to_decimal(price).normalize())


def bar_from_model(bar: AlpacaBar) -> Bar:
    """alpaca-py ``Bar`` → core ``Bar`` (start time, nano-unit prices)."""
    return Bar(
        symbol=bar.symbol,
        time_ns=to_ns(bar.timestamp, "bar.t"),
        open=to_price(bar.open, "bar.o"),
        high=to_price(bar.high, "bar.h"),
        low=to_price(bar.low, "bar.l"),
        close=to_price(bar.close, "bar.c"),
        volume=to_quantity(bar.volume, "bar.v"),
        vwap=None,  # Alpaca's vwap is a rounded float: kept out of the exact core
        trades=None if bar.trade_count is None else to_quantity(bar.trade_count, "bar.n"),
    )


def bar_from_raw(symbol: object, raw: dict[str, Any]) -> Bar:
    """One raw bar message/row (stream or REST) → core ``Bar``; ``BadInput`` if malformed."""
    if not isinstance(raw, dict):
        raise BadInput("bar", raw, "is not an object")
    if not isinstance(symbol, str) or not symbol:
        raise BadInput("bar.S", symbol, "is not a symbol")
    data = dict(raw)
    data.setdefault("n", None)  # optional on some feeds; the core does not need them
    data.setdefault("vw", None)
    if "t" in data:
        data["t"] = datetime.fromtimestamp(0, UTC) + timedelta(
            microseconds=to_ns(data["t"], "bar.t") // 1000
        )
    try:
        model = AlpacaBar(symbol, data)
    except (ValidationError, KeyError, TypeError) as exc:
        raise BadInput("bar", _short(raw), f"is not a bar: {_first_error(exc)}") from None
    return bar_from_model(model)


def order_from_model(order: Order) -> BrokerOrder:
    filled = to_quantity(order.filled_qty or 0, "order.filled_qty")
    notional = 0
    if filled and order.filled_avg_price is not None:
        notional = filled * to_price(order.filled_avg_price, "order.filled_avg_price")
    status = order.status.value if hasattr(order.status, "value") else str(order.status)
    side = order.side.value if order.side is not None else ""
    return BrokerOrder(
        broker_client_id=order.client_order_id,
        broker_order_id=str(order.id),
        symbol=order.symbol or "",
        side=side,
        quantity=to_quantity(order.qty or 0, "order.qty"),
        filled=filled,
        filled_notional=notional,
        status=status,
        open=status in OPEN_STATUSES,
        replaced_by=None if order.replaced_by is None else str(order.replaced_by),
    )


def trade_event_from_model(update: TradeUpdate) -> TradeEvent:
    """alpaca-py ``TradeUpdate`` → a ``Fill`` and/or ``OrderUpdate`` keyed by the
    broker client id (the runtime maps it to the engine's id)."""
    order = update.order
    event = update.event.value if hasattr(update.event, "value") else str(update.event)
    client_id = order.client_order_id
    time_ns = to_ns(update.timestamp, "trade_update.timestamp")
    cum = to_quantity(order.filled_qty or 0, "trade_update.order.filled_qty")
    fill = None
    status_update = None
    if event in ("fill", "partial_fill"):
        if update.execution_id is None:
            raise BadInput("trade_update.execution_id", None, f"is missing on a {event}")
        if order.side is None:
            raise BadInput("trade_update.order.side", None, "is missing on a fill")
        fill = Fill(
            time_ns=time_ns,
            client_order_id=client_id,
            exec_id=str(update.execution_id),
            symbol=order.symbol or "",
            side=Side(order.side.value),
            quantity=to_quantity(update.qty, "trade_update.qty"),
            price=to_price(update.price, "trade_update.price"),
            venue="alpaca",
        )
        if fill.quantity <= 0:
            raise BadInput("trade_update.qty", update.qty, "must be positive on a fill")
    elif event in _STATUS_EVENTS:
        status_update = OrderUpdate(time_ns, client_id, _STATUS_EVENTS[event], event)
    return TradeEvent(client_id, event, fill, status_update, cum)


def trade_event_from_raw(raw: object) -> TradeEvent:
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
        raise BadInput("trade_update", _short(raw), "has no data object")
    try:
        model = TradeUpdate(**raw["data"])
    except (ValidationError, TypeError) as exc:
        raise BadInput(
            "trade_update", _short(raw), f"is not a trade update: {_first_error(exc)}"
        ) from None
    return trade_event_from_model(model)


CASH_ACTIVITY_TYPES = ("CSD", "CSW")
"""Alpaca's activity types for cash deposits (CSD) and withdrawals (CSW)."""
ACTIVITIES_PAGE = 100
"""Alpaca's maximum ``page_size`` for account activities without ``date``."""
_APPLIED_STATUSES = (None, "executed")
"""An activity's ``status`` that means the money moved (``canceled`` did not;
``correct`` is a correction, reported separately as its own activity)."""


def cash_flow_from_raw(raw: object) -> CashFlow | None:
    """One ``GET /v2/account/activities`` row (CSD/CSW) → ``CashFlow``.

    None for an activity whose money did not move (status ``canceled``...).
    ``BadInput`` when the row cannot be trusted: no id, an unknown type, an
    amount that is not a number or whose sign contradicts the type (a deposit
    that takes money out is a broker bug, not something to book). The time is
    the activity's date at midnight UTC; the runtime stamps its own clock.
    """
    if not isinstance(raw, dict):
        raise BadInput("activity", _short(raw), "is not an object")
    flow_id = raw.get("id")
    if not isinstance(flow_id, str) or not flow_id:
        raise BadInput("activity.id", flow_id, "is missing")
    kind = raw.get("activity_type")
    if kind not in CASH_ACTIVITY_TYPES:
        raise BadInput("activity.activity_type", kind, "is not CSD or CSW")
    status = raw.get("status")
    if status not in _APPLIED_STATUSES:
        log.info("cash activity %s has status %r: not booked", flow_id, status)
        return None
    value = raw.get("net_amount")
    number = to_decimal(value, "activity.net_amount")
    if isinstance(value, float):
        number = number.quantize(_NANO, rounding=ROUND_HALF_EVEN)
    amount = price_from_decimal(number, "activity.net_amount")
    if amount == 0 or (amount > 0) != (kind == "CSD"):
        raise BadInput("activity.net_amount", value, f"has the wrong sign for a {kind} ({flow_id})")
    when = raw.get("date")
    time_ns = 0
    if isinstance(when, str) and when:
        time_ns = to_ns(when[:10] + "T00:00:00+00:00", "activity.date")
    description = raw.get("description")
    reason = (
        kind if not isinstance(description, str) or not description else (f"{kind} {description}")
    )
    return CashFlow(time_ns=time_ns, flow_id=flow_id, amount=amount, reason=reason[:200])


def position_quantity(position: Position) -> int:
    qty = to_quantity(position.qty, f"position.{position.symbol}.qty")
    side = getattr(position.side, "value", position.side)
    if side == "short" and qty > 0:
        qty = -qty
    return qty


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}"
    return str(exc)


# ----------------------------------------------------------------- streams


class _TradingStream(TradingStream):
    """TradingStream that tells us each time it (re)connects, so the runtime can
    fetch by REST whatever happened while it was away."""

    def __init__(self, *args: Any, on_connected: Callable[[], Awaitable[None]], **kw: Any):
        super().__init__(*args, **kw)
        self._on_connected = on_connected

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self._notifying = asyncio.ensure_future(self._on_connected())  # held: not GC-ed


# ------------------------------------------------------------------ broker


class AlpacaBroker:
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
        self._max_retries = max_retries
        self._max_backoff = max_backoff
        self.rate_limited = 0
        self.bad_bars: list[BadInput] = []  # unreadable bars of the last ``bars`` call
        self.bad_activities: list[BadInput] = []  # ... of the last ``cash_flows`` call
        self._delay = _FIRST_DELAY
        self._not_before = 0.0
        self._trading = TradingClient(key, secret, paper=paper, url_override=config.rest_url)
        self._data_rest = StockHistoricalDataClient(
            key, secret, url_override=config.data_url, raw_data=True
        )
        for client in (self._trading, self._data_rest):
            # alpaca-py sleeps a fixed 3 s on 429 inside the worker thread; we want
            # the 429 surfaced so ``_call`` backs off (and counts) itself. These are
            # the constructor's own settings, which these subclasses do not expose.
            client._retry_codes = [504]
            client._retry_wait = 1
            # requests has no default timeout: a reply that never comes would hold
            # a worker thread (and whatever awaits it) forever.
            client._session.request = functools.partial(  # type: ignore[method-assign]
                client._session.request, timeout=REST_TIMEOUT_S
            )
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="alpaca-rest")
        feed = DataFeed.SIP if config.feed == "sip" else DataFeed.IEX
        self._feed = feed
        self._data_stream = StockDataStream(
            key, secret, raw_data=True, feed=feed, url_override=config.data_ws_url
        )
        self._on_connected: Callable[[], Awaitable[None]] | None = None
        self._trade_stream: _TradingStream | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ REST
    async def _call(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking alpaca-py call in a thread; back off on 429 and transport errors.

        The back-off is shared by every caller: once Alpaca says 429, no request
        goes out before the shared "not before" time (``Retry-After`` when given,
        else exponential with jitter, reset by the next success), so a storm is
        met with silence rather than with each task hammering on its own."""
        loop = asyncio.get_running_loop()
        last = "no attempt made"
        for attempt in range(self._max_retries + 1):
            pause = self._not_before - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                result = await loop.run_in_executor(self._pool, functools.partial(fn, *args))
            except APIError as exc:
                status = exc.status_code
                if status == 429 or (status is not None and status >= 500):
                    if status == 429:
                        self.rate_limited += 1
                    last = f"HTTP {status}: {_api_message(exc)}"
                    wait = self._back_off(_retry_after(exc))
                    log.warning(
                        "alpaca %s: HTTP %s, backing off %.2fs (attempt %d)",
                        what,
                        status,
                        wait,
                        attempt + 1,
                        extra={"sv_event": "rate_limited" if status == 429 else "server_error"},
                    )
                    continue
                reason = _api_message(exc)
                if status == 404:
                    raise NotFound(status, reason) from None
                raise RejectedRequest(status, reason) from None
            except ValidationError as exc:
                raise BadInput(f"alpaca.{what}", "reply", _first_error(exc)) from None
            except Exception as exc:  # transport: OSError, requests/urllib3 errors
                if isinstance(exc, OSError | ConnectionError) or type(exc).__module__.startswith(
                    ("requests", "urllib3")
                ):
                    last, retryable = transport_failure(exc)
                    if not retryable:  # a DNS or TLS failure does not mend by waiting
                        raise TransportFailure(f"{what}: {last}") from None
                    wait = self._back_off(None)
                    log.warning("alpaca %s: %s, retrying in %.2fs", what, last, wait)
                    continue
                raise
            self._delay = _FIRST_DELAY
            return result
        raise TransportFailure(f"{what}: {last} (still failing after {self._max_retries} retries)")

    def _back_off(self, retry_after: float | None) -> float:
        wait = retry_after if retry_after is not None else self._delay * (1 + random.random())
        wait = min(wait, self._max_backoff)
        self._delay = min(self._delay * 2, self._max_backoff)
        self._not_before = max(self._not_before, time.monotonic() + wait)
        return wait

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
            "time_in_force": _TIF[command.time_in_force],
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
            start=_EPOCH + timedelta(microseconds=start_ns // 1000),
            end=_EPOCH + timedelta(microseconds=(end_ns - 1) // 1000),
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
        after = (_EPOCH + timedelta(microseconds=after_ns // 1000)).isoformat()
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
                raise BadInput("alpaca.activities", _short(page), "is not a list")
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
    @staticmethod
    def handlers(
        on_bar: Callable[[Bar], Awaitable[None]],
        on_trade: Callable[[TradeEvent], Awaitable[None]],
        on_bad: Callable[[str, Exception], Awaitable[None]],
    ) -> tuple[Callable[[Any], Awaitable[None]], Callable[[Any], Awaitable[None]]]:
        """The raw-message handlers given to alpaca-py's streams: parse, or reject."""

        async def bar_handler(raw: Any) -> None:
            try:
                symbol = raw.get("S") if isinstance(raw, dict) else None
                bar = bar_from_raw(symbol, raw)
            except BadInput as exc:
                await on_bad("bar", exc)
                return
            await on_bar(bar)

        async def trade_handler(raw: Any) -> None:
            try:
                event = trade_event_from_raw(raw)
            except BadInput as exc:
                await on_bad("trade_update", exc)
                return
            await on_trade(event)

        return bar_handler, trade_handler

    async def stream(
        self,
        on_bar: Callable[[Bar], Awaitable[None]],
        on_trade: Callable[[TradeEvent], Awaitable[None]],
        on_bad: Callable[[str, Exception], Awaitable[None]],
        on_trading_connected: Callable[[], Awaitable[None]],
    ) -> None:
        """Start both streams as tasks in this loop (subscriptions first: alpaca-py
        blocks on a subscribe made while its stream is running)."""
        bar_handler, trade_handler = self.handlers(on_bar, on_trade, on_bad)
        self._data_stream.subscribe_bars(bar_handler, *self._symbols)
        self._trade_stream = _TradingStream(
            self._config.api_key.reveal(),
            self._config.secret_key.reveal(),
            paper=self._paper,
            raw_data=True,
            url_override=self._config.trading_ws_url,
            on_connected=on_trading_connected,
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
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def stop_market_data(self) -> None:
        """Stop bars only (shutdown: no new decisions while orders are settled)."""
        with contextlib.suppress(Exception):
            await self._data_stream.stop_ws()


def _retry_after(exc: APIError) -> float | None:
    response = exc.response
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class TransportFailure(RejectedRequest):
    """A request that never got a usable answer: says what failed (DNS, refused,
    TLS, timeout, or the last HTTP status and the body's message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)
        self.args = (reason,)

    def __str__(self) -> str:
        return self.reason


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes/contexts and urllib3's ``reason``, outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen) or len(seen) > 20:
            continue
        seen.append(item)
        reason = getattr(item, "reason", None)
        todo += [reason if isinstance(reason, BaseException) else None]
        todo += [item.__cause__, item.__context__]
        todo += [a for a in getattr(item, "args", ()) if isinstance(a, BaseException)]
    return seen


def transport_failure(exc: BaseException) -> tuple[str, bool]:
    """(what failed, whether a retry can fix it) for a transport exception.

    DNS and TLS failures are configuration problems (a wrong host, a bad
    certificate): retrying only delays the answer. A refused connection, a
    reset or a timeout can be a server restarting or a network blip: retry."""
    import socket
    import ssl

    chain = _chain(exc)
    names = " ".join(type(e).__name__ for e in chain)
    # urllib3 keeps the pool (MaxRetryError) or connection (NewConnectionError) in
    # the instance dict; read it there, not through the deprecated properties.
    pools = [vars(e).get("pool") or vars(e).get("conn") for e in chain]
    pairs = zip(chain, pools, strict=True)
    hosts = [getattr(e, "host", None) or getattr(p, "host", None) for e, p in pairs]
    host = next((h for h in hosts if isinstance(h, str) and h), None)
    where = f" ({host})" if host else ""
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names:
        return f"DNS lookup failed{where}: the host name does not resolve", False
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSLError" in names:
        return f"TLS failed{where}: {chain[-1]}", False
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"connection refused{where}: nothing is listening there", True
    if any(isinstance(e, TimeoutError) for e in chain) or "Timeout" in names:
        return f"timed out{where} waiting for the server", True
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return f"connection reset{where}", True
    return f"{type(exc).__name__}: {exc}", True


def _api_message(exc: APIError) -> str:
    try:
        return str(exc.message)
    except Exception:
        return str(exc)[:200]
