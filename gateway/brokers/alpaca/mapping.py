"""Alpaca's wire ↔ core terms: pure functions, no I/O.

Kept apart from the REST and stream plumbing so that a mapping rule (a price,
an order status, a deposit's sign) is read, changed and tested without a
client in sight (``tests/gateway/test_alpaca_mapping.py``).

Alpaca's wire carries some prices as JSON floats; they are turned into
``Decimal`` through their shortest ``repr`` (exact for every price Alpaca can
quote) and then into nano-units. Every value that cannot be mapped raises
``BadInput`` naming the field.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import msgpack
from alpaca.data.models import Bar as AlpacaBar
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.models import Order, Position, TradeUpdate
from pydantic import ValidationError

from core.commands import CashFlow, Fill, OrderUpdate, OrdStatus, Side, TimeInForce
from core.errors import BadInput
from core.events import Bar
from core.money import price_from_decimal, price_to_decimal, quantity_from_decimal
from gateway.brokers.base import BrokerOrder, TradeEvent

log = logging.getLogger("gateway.alpaca")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NANO = Decimal("1e-9")

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

TIF = {
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
    return (moment - EPOCH) // timedelta(microseconds=1) * 1000


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
        raise BadInput("bar", short(raw), f"is not a bar: {first_error(exc)}") from None
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
        raise BadInput("trade_update", short(raw), "has no data object")
    try:
        model = TradeUpdate(**raw["data"])
    except (ValidationError, TypeError) as exc:
        raise BadInput(
            "trade_update", short(raw), f"is not a trade update: {first_error(exc)}"
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
        raise BadInput("activity", short(raw), "is not an object")
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


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}"
    return str(exc)
