"""IB ↔ core mapping: prices, quantities and times off the wire; orders, order
states, executions and trading hours in both directions. Pure functions.

Prices cross the wire as decimal text and reach us as floats; they are turned
into ``Decimal`` through their shortest ``repr`` and quantized to nano-units.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ib_async import Fill as IbFill
from ib_async import LimitOrder, MarketOrder, Order, StopOrder, TagValue, Trade

from core.commands import Fill, OrderType, Side, SubmitOrder
from core.errors import BadInput
from core.money import price_from_decimal
from gateway.brokers.base import BrokerOrder, MarketClock, NotFound, RejectedRequest, TradeEvent

log = logging.getLogger("gateway.ibkr")

NS = 10**9
NANO = Decimal("1e-9")
MINUTE_NS = 60 * NS
DIRECT_ROUTES = frozenset({"IEX", "ARCA", "NYSE", "ISLAND", "BATS", "EDGX", "IBKRATS"})
"""Venue names (SubmitOrder.venue) that are IB exchange codes: sent as directed orders."""

_OPEN_WORDS = {
    "PendingSubmit": "accepted",
    "ApiPending": "accepted",
    "PreSubmitted": "new",
    "Submitted": "new",
    "PendingCancel": "pending_cancel",
    "ValidationError": "new",
}
OPEN_STATUSES = frozenset({"accepted", "new", "partially_filled", "pending_cancel"})
_TIF = {"day": "DAY", "ioc": "IOC", "gtc": "GTC"}
_PRIORITIES = {"urgent": "Urgent", "normal": "Normal", "patient": "Patient"}


# ------------------------------------------------------------- conversions


def to_price(value: object, field_name: str) -> int:
    """An IB float (or decimal text) price → positive nano-units; ``BadInput`` otherwise."""
    if value is None or isinstance(value, bool):
        raise BadInput(field_name, value, "is missing")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise BadInput(field_name, value, "is not a number") from None
    if not number.is_finite():
        raise BadInput(field_name, value, "is not finite")
    if number >= Decimal("1e300"):
        raise BadInput(field_name, value, "is IB's 'unset' value")
    price = price_from_decimal(number.quantize(NANO, rounding=ROUND_HALF_EVEN), field_name)
    if price <= 0:
        raise BadInput(field_name, value, "must be positive")
    return price


def to_money(value: object, field_name: str) -> int:
    """An account value (text, may be zero or negative) → nano-units."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadInput(field_name, value, "is not a number") from None
    if not number.is_finite():
        raise BadInput(field_name, value, "is not finite")
    return price_from_decimal(number.quantize(NANO, rounding=ROUND_HALF_EVEN), field_name)


def to_whole(value: object, field_name: str, *, positive: bool = False) -> int:
    """A share count IB sends as a float/Decimal → int; fractions are refused."""
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise BadInput(field_name, value, "is not a number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise BadInput(field_name, value, "is not a whole number of shares")
    whole = int(number)
    if positive and whole <= 0:
        raise BadInput(field_name, value, "must be positive")
    return whole


def to_ns(moment: object, field_name: str) -> int:
    if not isinstance(moment, datetime):
        raise BadInput(field_name, moment, "is not a time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


def order_ref(trade: Trade) -> str:
    """The broker client id of an IB order: its ``orderRef``, or ``ib:<permId>`` for
    orders someone else placed without one (the runtime reports those as foreign)."""
    ref = trade.order.orderRef
    return ref if ref else f"ib:{trade.order.permId or trade.order.orderId}"


def ib_order(
    command: SubmitOrder,
    broker_client_id: str,
    account: str,
    *,
    use_algos: bool = True,
    algo_end: str = "",
) -> Order:
    """A core child order → an IB ``Order`` (not yet placed)."""
    action = "BUY" if command.side is Side.BUY else "SELL"
    if command.quantity <= 0:
        raise RejectedRequest(None, f"quantity {command.quantity} must be positive")
    if command.order_type is OrderType.MARKET:
        order: Order = MarketOrder(action, command.quantity)
    elif command.order_type is OrderType.LIMIT and command.limit_price is not None:
        limit = Decimal(command.limit_price) * NANO
        order = LimitOrder(action, command.quantity, float(limit.normalize()))
    elif command.order_type is OrderType.STOP and command.stop_price is not None:
        # A protective stop resting at IB: STP with the trigger in auxPrice.
        stop = Decimal(command.stop_price) * NANO
        order = StopOrder(action, command.quantity, float(stop.normalize()))
    else:
        raise RejectedRequest(None, f"order type {command.order_type.value} is not sent to IBKR")
    order.tif = _TIF[command.time_in_force.value]
    order.orderRef = broker_client_id
    order.account = account
    order.transmit = True
    if command.min_quantity:
        order.minQty = command.min_quantity
    if use_algos and command.algo:
        strategy, params = algo_params(command.algo, command.order_type, algo_end)
        if strategy:
            order.algoStrategy = strategy
            order.algoParams = [TagValue(tag, value) for tag, value in params]
    return order


def algo_params(
    algo: str, order_type: OrderType, end_time: str = ""
) -> tuple[str, list[tuple[str, str]]]:
    """The engine's algorithm name → IB ``algoStrategy`` and its parameters ("" = none).

    ``adaptive[:urgent|normal|patient]`` → Adaptive; ``vwap`` / ``twap`` → IB's own
    with the child bounded to ``end_time`` (the engine already slices the parent,
    so IB must not stretch a child over the rest of the day).
    """
    name, _, option = algo.lower().partition(":")
    if name == "adaptive":
        default = "Urgent" if order_type is OrderType.MARKET else "Normal"
        priority = _PRIORITIES.get(option, default) if option else default
        if option and option not in _PRIORITIES:
            raise BadInput("algo", algo, "adaptive priority must be urgent, normal or patient")
        return "Adaptive", [("adaptivePriority", priority)]
    if name == "vwap":
        return "Vwap", [
            ("maxPctVol", "0.1"),
            ("startTime", ""),
            ("endTime", end_time),
            ("allowPastEndTime", "1"),
            ("noTakeLiq", "0"),
        ]
    if name == "twap":
        return "Twap", [
            ("strategyType", "Marketable"),
            ("startTime", ""),
            ("endTime", end_time),
            ("allowPastEndTime", "1"),
        ]
    return "", []


def ib_status_word(trade: Trade) -> str:
    """IB's order status → the status words the runtime reconciles with."""
    status = trade.orderStatus.status
    filled = trade.orderStatus.filled
    if status == "Filled":
        return "filled"
    if status in ("Cancelled", "ApiCancelled"):
        return "rejected" if was_rejected(trade) else "canceled"
    if status == "Inactive":
        return "rejected"
    word = _OPEN_WORDS.get(status, "new")
    if word == "new" and filled > 0:
        return "partially_filled"
    return word


def was_rejected(trade: Trade) -> bool:
    """Cancelled before IB ever acknowledged it, or by an order-rejection error (201)."""
    if any(entry.errorCode == 201 for entry in trade.log):
        return True
    return not trade.order.permId and not trade.fills


def broker_order(trade: Trade) -> BrokerOrder:
    """``ib_async`` ``Trade`` → ``BrokerOrder``; filled quantity and notional from its
    executions when they account for it, else from IB's average price."""
    executed = 0
    notional = 0
    for fill in trade.fills:
        shares = to_whole(fill.execution.shares, "execution.shares", positive=True)
        executed += shares
        notional += shares * to_price(fill.execution.price, "execution.price")
    stated = to_whole(trade.orderStatus.filled, "orderStatus.filled")
    completed = trade.order.filledQuantity
    if isinstance(completed, float | int | Decimal) and 0 < completed < 1e300:
        stated = max(stated, to_whole(completed, "completedOrder.filledQuantity"))
    filled = max(executed, stated)
    if filled > executed and trade.orderStatus.avgFillPrice > 0:
        notional = filled * to_price(trade.orderStatus.avgFillPrice, "orderStatus.avgFillPrice")
    status = ib_status_word(trade)
    if status == "new" and filled > 0:
        status = "partially_filled"
    action = trade.order.action
    return BrokerOrder(
        broker_client_id=order_ref(trade),
        broker_order_id=str(trade.order.permId or trade.orderStatus.permId or ""),
        symbol=trade.contract.symbol,
        side="buy" if action == "BUY" else "sell" if action == "SELL" else action.lower(),
        quantity=to_whole(trade.order.totalQuantity, "order.totalQuantity"),
        filled=filled,
        filled_notional=notional,
        status=status,
        open=status in OPEN_STATUSES,
    )


def fill_event(trade: Trade | None, fill: IbFill, fee: int) -> TradeEvent:
    """One ``execDetails`` (+ its commission) → a ``Fill`` keyed by the broker client id."""
    ex = fill.execution
    if not ex.execId:
        raise BadInput("execution.execId", ex.execId, "is missing")
    ref = ex.orderRef or (order_ref(trade) if trade is not None else "")
    if not ref:
        ref = f"ib:{ex.permId or ex.orderId}"
    side = {"BOT": Side.BUY, "SLD": Side.SELL}.get(ex.side)
    if side is None:
        raise BadInput("execution.side", ex.side, "is not BOT or SLD")
    quantity = to_whole(ex.shares, "execution.shares", positive=True)
    price = to_price(ex.price, "execution.price")
    cum = to_whole(ex.cumQty, "execution.cumQty", positive=True)
    if cum < quantity:
        raise BadInput("execution.cumQty", ex.cumQty, f"is below this execution's {quantity}")
    symbol = fill.contract.symbol if fill.contract is not None else ""
    if not symbol:
        raise BadInput("execution.contract.symbol", symbol, "is missing")
    total = trade.order.totalQuantity if trade is not None else None
    event = "fill" if total is not None and cum >= total else "partial_fill"
    core_fill = Fill(
        time_ns=to_ns(ex.time, "execution.time"),
        client_order_id=ref,
        exec_id=ex.execId,
        symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        venue="ibkr",
        fee=fee,
    )
    return TradeEvent(ref, event, core_fill, None, cum)


def commission_fee(fill: IbFill) -> int:
    report = fill.commissionReport
    if report is None or not report.execId:
        return 0
    value = report.commission
    if value is None or value >= 1e300:
        return 0
    return to_money(repr(float(value)), "commissionReport.commission")


# -------------------------------------------------------------------- clock


def parse_liquid_hours(text: str, zone: str) -> list[tuple[int, int]]:
    """IB ``liquidHours`` (``20240104:0930-20240104:1600;20240105:CLOSED``) → sessions (ns)."""
    try:
        tz = ZoneInfo(zone or "US/Eastern")
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput("contractDetails.timeZoneId", zone, "is not a known time zone") from None
    sessions = []
    for part in text.split(";"):
        part = part.strip()
        if not part or part.endswith(":CLOSED"):
            continue
        try:
            first, second = part.split("-")
            opened = datetime.strptime(first, "%Y%m%d:%H%M").replace(tzinfo=tz)
            closed = datetime.strptime(second, "%Y%m%d:%H%M").replace(tzinfo=tz)
        except ValueError:
            raise BadInput("contractDetails.liquidHours", part, "is not D:HHMM-D:HHMM") from None
        if closed <= opened:
            raise BadInput("contractDetails.liquidHours", part, "closes before it opens")
        sessions.append((to_ns(opened, "liquidHours"), to_ns(closed, "liquidHours")))
    return sorted(sessions)


def market_clock(now_ns: int, sessions: Sequence[tuple[int, int]]) -> MarketClock:
    if not sessions:
        raise BadInput("contractDetails.liquidHours", "", "names no session")
    is_open = any(o <= now_ns < c for o, c in sessions)
    later = [s for s in sessions if s[0] > now_ns]
    current = [s for s in sessions if s[0] <= now_ns < s[1]]
    if not later:
        raise BadInput("contractDetails.liquidHours", now_ns, "names no future session")
    next_close = current[0][1] if current else later[0][1]
    return MarketClock(now_ns, is_open, later[0][0], next_close)


def error_code(trade: Trade) -> int | None:
    codes = [e.errorCode for e in trade.log if e.errorCode]
    return codes[-1] if codes else None


def error_text(trade: Trade) -> str:
    texts = [e.message for e in trade.log if e.errorCode]
    return texts[-1] if texts else trade.orderStatus.status


def algo_end(market_now_ns: int, horizon_ns: int) -> str:
    """IB algo ``endTime``: ``horizon_ns`` after the last known market time ("" if none)."""
    if not market_now_ns:
        return ""
    moment = datetime.fromtimestamp((market_now_ns + horizon_ns) // NS, tz=ZoneInfo("US/Eastern"))
    return moment.strftime("%H:%M:%S US/Eastern")


def find_trade(trades: Iterable[Trade], broker_client_id: str) -> Trade | None:
    """The trade carrying this broker client id in ``orderRef``: the live one if any,
    else the latest (a replace re-sends the same IB order under a new ref)."""
    found = [t for t in trades if order_ref(t) == broker_client_id]
    if not found:
        return None
    live = [t for t in found if not t.isDone()]
    return (live or found)[-1]


def working_trade(trades: Iterable[Trade], broker_client_id: str) -> Trade:
    """The trade of an order that can still be cancelled or modified; ``NotFound``
    if TWS does not know the id, ``RejectedRequest`` if the order is done."""
    trade = find_trade(trades, broker_client_id)
    if trade is None:
        raise NotFound(None, f"order {broker_client_id} is not known to TWS")
    if trade.isDone():
        raise RejectedRequest(None, f"order is already {trade.orderStatus.status}")
    return trade
