"""Core order commands <-> FIX application messages (SPEC §11).

Outbound: ``SubmitOrder`` -> NewOrderSingle (D), ``CancelOrder`` ->
OrderCancelRequest (F), ``ReplaceOrder`` -> OrderCancelReplaceRequest (G).
Inbound: ExecutionReport (8) -> ``Fill`` / ``OrderUpdate``, OrderCancelReject
(9) -> ``OrderUpdate``. Executions are deduplicated by ExecID(17), so a report
resent with PossDup(43)=Y after a reconnect never double-counts a fill.

The mapper remembers each order's static terms (symbol, side, type, venue...)
because F and G must repeat them; it is a pure object, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from core.commands import (
    CancelOrder,
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
from core.money import format_price, price_from_decimal
from fix.framing import FixMessage
from fix.timefmt import format_ns, parse_ns

FixFields = list[tuple[int, object]]

SIDE_TO_FIX = {Side.BUY: b"1", Side.SELL: b"2"}
FIX_TO_SIDE = {b"1": Side.BUY, b"2": Side.SELL, b"5": Side.SELL, b"6": Side.SELL}
TIF_TO_FIX = {TimeInForce.DAY: b"0", TimeInForce.GTC: b"1", TimeInForce.IOC: b"3"}
ORD_TYPE_TO_FIX = {
    OrderType.MARKET: b"1",
    OrderType.LIMIT: b"2",
    OrderType.PEGGED_MIDPOINT: b"P",
    OrderType.STOP: b"3",  # with StopPx(99)
}
MIDPOINT_PEG = b"M"  # ExecInst(18): mid-price peg
AUTOMATED_PRIVATE = b"1"  # HandlInst(21): automated execution, no broker intervention

ORD_STATUS = {
    b"0": OrdStatus.NEW,
    b"1": OrdStatus.PARTIALLY_FILLED,
    b"2": OrdStatus.FILLED,
    b"4": OrdStatus.CANCELED,
    b"5": OrdStatus.REPLACED,
    b"6": OrdStatus.PENDING_CANCEL,
    b"8": OrdStatus.REJECTED,
    b"A": OrdStatus.PENDING_NEW,
    b"C": OrdStatus.EXPIRED,
    b"E": OrdStatus.PENDING_REPLACE,
}
# ExecType(150) values that are status changes rather than executions.
EXEC_TYPE_STATUS = {code: status for code, status in ORD_STATUS.items() if code not in (b"1", b"2")}
TRADE_EXEC_TYPES = frozenset((b"F", b"1", b"2"))  # 4.4 Trade; 4.2 Partial fill / Fill

Event = Fill | OrderUpdate


@dataclass(frozen=True, slots=True)
class _Terms:
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    limit_price: int | None
    time_in_force: TimeInForce
    venue: str | None
    min_quantity: int | None
    stop_price: int | None = None


class OrderMapper:
    """Translates one account's order flow; deduplicates executions by ExecID."""

    def __init__(self, account: str | None = None, known_exec_ids: Iterable[str] = ()) -> None:
        """``known_exec_ids``: ExecIDs already booked (from the fill record), so a
        PossDup resend after a process restart is still recognised."""
        self.account = account
        self._terms: dict[str, _Terms] = {}
        self._exec_ids: set[str] = set(known_exec_ids)
        self.duplicates = 0

    @property
    def exec_ids(self) -> frozenset[str]:
        return frozenset(self._exec_ids)

    # ------------------------------------------------------------ outbound
    def new_order_single(self, cmd: SubmitOrder) -> tuple[bytes, FixFields]:
        if cmd.quantity <= 0:
            raise BadInput("quantity", cmd.quantity, "must be positive")
        if cmd.order_type is OrderType.LIMIT and cmd.limit_price is None:
            raise BadInput("limit_price", None, "a limit order needs a price")
        if cmd.order_type is OrderType.STOP and cmd.stop_price is None:
            raise BadInput("stop_price", None, "a stop order needs a StopPx")
        terms = _Terms(
            cmd.symbol,
            cmd.side,
            cmd.order_type,
            cmd.quantity,
            cmd.limit_price,
            cmd.time_in_force,
            cmd.venue,
            cmd.min_quantity,
            cmd.stop_price,
        )
        self._terms[cmd.client_order_id] = terms
        return b"D", self._order_fields(cmd.client_order_id, None, terms, cmd.time_ns)

    def cancel_request(self, cmd: CancelOrder) -> tuple[bytes, FixFields]:
        terms = self._terms.get(cmd.orig_client_order_id)
        fields: FixFields = [(11, cmd.client_order_id)]
        if terms is not None:
            fields.append((38, terms.quantity))
        fields += [
            (41, cmd.orig_client_order_id),
            (54, SIDE_TO_FIX[cmd.side]),
            (55, cmd.symbol),
            (60, format_ns(cmd.time_ns, millis=False)),
        ]
        if self.account:
            fields.insert(0, (1, self.account))
        return b"F", fields

    def replace_request(self, cmd: ReplaceOrder) -> tuple[bytes, FixFields]:
        old = self._terms.get(cmd.orig_client_order_id)
        if old is None:
            raise BadInput("orig_client_order_id", cmd.orig_client_order_id, "unknown order")
        if cmd.quantity <= 0:
            raise BadInput("quantity", cmd.quantity, "must be positive")
        price = cmd.limit_price if cmd.limit_price is not None else old.limit_price
        terms = _Terms(
            old.symbol,
            old.side,
            old.order_type,
            cmd.quantity,
            price,
            old.time_in_force,
            old.venue,
            old.min_quantity,
            cmd.stop_price if cmd.stop_price is not None else old.stop_price,
        )
        self._terms[cmd.client_order_id] = terms
        return b"G", self._order_fields(
            cmd.client_order_id, cmd.orig_client_order_id, terms, cmd.time_ns
        )

    def _order_fields(
        self, cl_ord_id: str, orig: str | None, terms: _Terms, time_ns: int
    ) -> FixFields:
        fields: FixFields = []
        if self.account:
            fields.append((1, self.account))
        fields.append((11, cl_ord_id))
        if terms.order_type is OrderType.PEGGED_MIDPOINT:
            fields.append((18, MIDPOINT_PEG))
        fields.append((21, AUTOMATED_PRIVATE))
        fields.append((38, terms.quantity))
        fields.append((40, ORD_TYPE_TO_FIX[terms.order_type]))
        if orig is not None:
            fields.append((41, orig))
        if terms.limit_price is not None and terms.order_type is not OrderType.MARKET:
            fields.append((44, format_price(terms.limit_price)))
        fields.append((54, SIDE_TO_FIX[terms.side]))
        fields.append((55, terms.symbol))
        fields.append((59, TIF_TO_FIX[terms.time_in_force]))
        fields.append((60, format_ns(time_ns, millis=False)))
        if terms.stop_price is not None and terms.order_type is OrderType.STOP:
            fields.append((99, format_price(terms.stop_price)))
        if terms.venue:
            fields.append((100, terms.venue))
        if terms.min_quantity is not None:
            fields.append((110, terms.min_quantity))
        return fields

    # ------------------------------------------------------------ inbound
    def on_message(self, msg: FixMessage, now_ns: int) -> list[Event]:
        """Core events for an ExecutionReport or OrderCancelReject; [] for duplicates."""
        if msg.msg_type == b"8":
            return self._execution_report(msg, now_ns)
        if msg.msg_type == b"9":
            return self._cancel_reject(msg, now_ns)
        raise BadInput("MsgType(35)", msg.msg_type, "not an ExecutionReport or OrderCancelReject")

    def _execution_report(self, msg: FixMessage, now_ns: int) -> list[Event]:
        exec_id = _text(msg, 17, "ExecID")
        cl_ord_id = _text(msg, 11, "ClOrdID")
        exec_type = msg[150]
        if exec_id in self._exec_ids:
            self.duplicates += 1
            return []
        when = _time(msg, now_ns)
        events: list[Event] = []
        if exec_type in TRADE_EXEC_TYPES:
            side = FIX_TO_SIDE.get(msg.get(54) or b"")
            if side is None:
                raise BadInput("Side(54)", msg.get(54), "not a buy or sell")
            quantity = _quantity(msg, 32, "LastQty")
            if quantity <= 0:
                raise BadInput("LastQty(32)", quantity, "a trade must have a positive quantity")
            price = _price(msg, 31, "LastPx")
            venue = (msg.get(30) or b"").decode("latin-1")
            fee = _price(msg, 12, "Commission") if msg.get(12) else 0
            symbol = (msg.get(55) or b"").decode("latin-1")
            events.append(Fill(when, cl_ord_id, exec_id, symbol, side, quantity, price, venue, fee))
            status = ORD_STATUS.get(msg.get(39) or b"")
            if status in (OrdStatus.FILLED, OrdStatus.PARTIALLY_FILLED):
                events.append(OrderUpdate(when, cl_ord_id, status))
        elif exec_type in EXEC_TYPE_STATUS:
            reason = (msg.get(58) or b"").decode("latin-1")
            events.append(OrderUpdate(when, cl_ord_id, EXEC_TYPE_STATUS[exec_type], reason))
        else:
            raise BadInput("ExecType(150)", exec_type, "not supported by the order mapper")
        self._exec_ids.add(exec_id)
        return events

    def _cancel_reject(self, msg: FixMessage, now_ns: int) -> list[Event]:
        orig = _text(msg, 41, "OrigClOrdID")
        status = ORD_STATUS.get(msg.get(39) or b"")
        if status is None:
            raise BadInput("OrdStatus(39)", msg.get(39), "unknown order status")
        text = (msg.get(58) or b"").decode("latin-1")
        kind = "replace" if msg.get(434) == b"2" else "cancel"
        reason = f"{kind} rejected" + (f": {text}" if text else "")
        return [OrderUpdate(_time(msg, now_ns), orig, status, reason)]


def _text(msg: FixMessage, tag: int, name: str) -> str:
    value = msg.get(tag)
    if not value:
        raise BadInput(f"{name}({tag})", value, "required")
    return value.decode("latin-1")


def _decimal(msg: FixMessage, tag: int, name: str) -> Decimal:
    value = msg.get(tag)
    if value is None:
        raise BadInput(f"{name}({tag})", None, "required")
    try:
        return Decimal(value.decode("latin-1"))
    except InvalidOperation:
        raise BadInput(f"{name}({tag})", value, "not a decimal number") from None


def _quantity(msg: FixMessage, tag: int, name: str) -> int:
    dec = _decimal(msg, tag, name)
    if dec != dec.to_integral_value():
        raise BadInput(f"{name}({tag})", dec, "fractional quantities are not supported")
    return int(dec)


def _price(msg: FixMessage, tag: int, name: str) -> int:
    return price_from_decimal(_decimal(msg, tag, name), f"{name}({tag})")


def _time(msg: FixMessage, now_ns: int) -> int:
    for tag in (60, 52):
        value = msg.get(tag)
        if value:
            try:
                return parse_ns(value)
            except BadInput:
                continue
    return now_ns
