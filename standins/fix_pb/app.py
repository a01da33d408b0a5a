"""The prime broker's FIX application: orders in, ExecutionReports out.

Sits on the acceptor side of ``fix`` sessions (like ``echo.py``'s
applications) and maps FIX 4.4 to the ``PrimeBook``: NewOrderSingle (D),
OrderCancelRequest (F), OrderCancelReplaceRequest (G), OrderStatusRequest (H)
and OrderMassStatusRequest (AF). Fills happen later, when the market publishes
bars; those reports leave through ``push`` (the server wires it to the
connection), or are stored by the session while the client is away and
resent with PossDup on its ResendRequest — which is how a dropped connection
loses nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from core.commands import (
    CancelOrder,
    OrderType,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.errors import BadInput
from core.money import format_price
from fix import fields
from fix.framing import FixMessage
from fix.orders import ORD_STATUS
from fix.session import Actions, Session, UnsupportedMessageType
from fix.timefmt import format_ns
from standins.fix_pb.book import CancelReject, Outcome, PbOrder, PrimeBook, Report

FixFields = list[tuple[int, object]]
STATUS_TO_FIX = {status: code for code, status in ORD_STATUS.items()}
SIDES = {b"1": Side.BUY, b"2": Side.SELL, b"5": Side.SELL, b"6": Side.SELL}
TIFS = {b"0": TimeInForce.DAY, b"1": TimeInForce.GTC, b"3": TimeInForce.IOC}
ORD_TYPES = {
    b"1": OrderType.MARKET,
    b"2": OrderType.LIMIT,
    b"3": OrderType.STOP,
    b"P": OrderType.PEGGED_MIDPOINT,
}
FIX_ORD_TYPE = {v: k for k, v in ORD_TYPES.items()}
FIX_SIDE = {Side.BUY: b"1", Side.SELL: b"2"}
FIX_TIF = {v: k for k, v in TIFS.items()}

Push = Callable[[str, Actions], None]


class PrimeBrokerApplication:
    """``fix.session.Application`` for the prime-broker stand-in."""

    def __init__(self, book: PrimeBook, market_now: Callable[[], int]) -> None:
        self.book = book
        self.market_now = market_now
        self.sessions: dict[str, Session] = {}
        self.push: Push = lambda _key, _actions: None
        self.counters: dict[str, int] = {}
        self.seen_requests: set[tuple[str, str]] = set()  # (session, ClOrdID) of F/G
        # ExecIDs of fills that could only be stored (the client was away): each
        # must reach the client later by resend — crash tests check exactly these.
        self.fills_while_disconnected: list[str] = []

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    # ----------------------------------------------------------- session side
    def on_logon(self, session: Session, now_ns: int) -> None:
        self.sessions[session.config.key] = session
        self.count("logons")

    def on_message(self, message: FixMessage, session: Session, now_ns: int) -> None:
        self.sessions[session.config.key] = session
        kind = message.msg_type
        key = session.config.key
        market = self.market_now()
        if kind == b"D":
            outcomes = self._new_order(message, key, market)
        elif kind in (b"F", b"G"):
            outcomes = self._cancel_or_replace(message, key, market)
        elif kind == b"H":
            self._order_status(message, session, now_ns, market)
            return
        elif kind == b"AF":
            self._mass_status(message, session, key, now_ns, market)
            return
        else:
            raise UnsupportedMessageType(kind)
        for outcome in outcomes:
            msg_type, body = self.encode(outcome)
            session.send(msg_type, body, now_ns)

    # ------------------------------------------------------------ market side
    async def on_minute(self, bars: list) -> None:
        """Bars of an ended minute: resting orders trade; reports go to their sessions."""
        outcomes: list[Outcome] = []
        for bar in bars:
            outcomes.extend(self.book.on_bar(bar))
        self.deliver(outcomes)

    def deliver(self, outcomes: list[Outcome]) -> None:
        """Send reports outside a message callback (fills, expiries)."""
        for outcome in outcomes:
            key = outcome.order.session if isinstance(outcome, Report) else outcome.session
            session = self.sessions.get(key)
            if session is None:
                self.count("reports_without_session")
                continue
            msg_type, body = self.encode(outcome)
            if not session.logged_on:
                self.count("reports_while_disconnected")
                if isinstance(outcome, Report) and outcome.exec_type == b"F":
                    self.fills_while_disconnected.append(outcome.exec_id)
            # Sent while the client is away, the report is stored with its
            # sequence number and resent (PossDup=Y) on the next ResendRequest.
            self.push(key, session.send(msg_type, body, time.time_ns()))
            if isinstance(outcome, Report) and outcome.exec_type == b"F":
                self.count("fills_sent")

    # ---------------------------------------------------------------- inbound
    def _new_order(self, msg: FixMessage, key: str, market: int) -> list[Outcome]:
        cl_ord_id = _text(msg, 11)
        if cl_ord_id in self.book.orders and (msg.get(43) == b"Y" or msg.get(97) == b"Y"):
            self.count("duplicate_resent_orders")  # a resend of an order we already hold
            return []
        try:
            cmd = _submit(msg, market)
        except BadInput as exc:
            self.count("bad_orders")
            return [self._reject(msg, key, market, str(exc))]
        return self.book.submit(market, key, cmd)

    def _cancel_or_replace(self, msg: FixMessage, key: str, market: int) -> list[Outcome]:
        cl_ord_id, orig = _text(msg, 11), _text(msg, 41)
        if (key, cl_ord_id) in self.seen_requests and (msg.get(43) == b"Y" or msg.get(97) == b"Y"):
            self.count("duplicate_resent_requests")
            return []
        self.seen_requests.add((key, cl_ord_id))
        side = SIDES.get(msg.get(54) or b"", Side.BUY)
        symbol = _text(msg, 55)
        if msg.msg_type == b"F":
            return self.book.cancel(market, key, CancelOrder(market, cl_ord_id, orig, symbol, side))
        try:
            quantity = _int(msg, 38, "OrderQty")
            price = _price(msg, 44, "Price") if msg.get(44) else None
            stop = _price(msg, 99, "StopPx") if msg.get(99) else None
        except BadInput as exc:
            self.count("bad_orders")
            order = self.book.orders.get(orig)
            return [
                CancelReject(
                    market,
                    key,
                    cl_ord_id,
                    orig,
                    order.order_id if order else "NONE",
                    order.status if order else OrdStatus.REJECTED,
                    2,
                    str(exc),
                )
            ]
        command = ReplaceOrder(market, cl_ord_id, orig, symbol, side, quantity, price, stop)
        return self.book.replace(market, key, command)

    def _order_status(self, msg: FixMessage, session: Session, now_ns: int, market: int) -> None:
        report = self.book.status_report(market, _text(msg, 11))
        if report is None:
            self.count("status_unknown_order")
            report = self._reject(msg, "", market, "unknown order", exec_type=b"I")
        _, body = self.encode(report)
        if msg.get(790):
            body.append((790, msg.get(790)))
        session.send(b"8", body, now_ns)

    def _mass_status(
        self, msg: FixMessage, session: Session, key: str, now_ns: int, market: int
    ) -> None:
        req_id = msg.get(584) or b""
        reports = self.book.open_reports(market, key)
        if not reports:
            body = [
                (6, 0),
                (14, 0),
                (17, f"MS-{req_id.decode('latin-1')}"),
                (37, b"NONE"),
                (39, b"8"),
                (54, b"1"),
                (55, b"[N/A]"),
                (150, b"I"),
                (151, 0),
                (584, req_id),
                (911, 0),
                (912, b"Y"),
            ]
            session.send(b"8", body, now_ns)
            return
        for i, report in enumerate(reports, 1):
            _, body = self.encode(report)
            body += [(584, req_id), (911, len(reports))]
            if i == len(reports):
                body.append((912, b"Y"))
            session.send(b"8", body, now_ns)

    def _reject(
        self, msg: FixMessage, key: str, market: int, text: str, exec_type: bytes = b"8"
    ) -> Report:
        order = PbOrder(
            order_id="NONE",
            ids=[(msg.get(11) or b"?").decode("latin-1")],
            session=key,
            symbol=(msg.get(55) or b"?").decode("latin-1"),
            side=SIDES.get(msg.get(54) or b"", Side.BUY),
            quantity=0,
            order_type=OrderType.MARKET,
            limit_price=None,
            tif=TimeInForce.DAY,
            venue=None,
            min_quantity=None,
            status=OrdStatus.REJECTED,
        )
        return Report(
            market,
            order,
            exec_type,
            self.book.reject_exec_id(),
            order.cl_ord_id,
            text=text,
            rej_reason=0,
            status=OrdStatus.REJECTED,
        )

    # ---------------------------------------------------------------- outbound
    def encode(self, outcome: Outcome) -> tuple[bytes, FixFields]:
        if isinstance(outcome, CancelReject):
            return b"9", [
                (11, outcome.cl_ord_id),
                (37, outcome.order_id),
                (39, STATUS_TO_FIX[outcome.status]),
                (41, outcome.orig_cl_ord_id),
                (58, outcome.text or "rejected"),
                (60, format_ns(outcome.time_ns)),
                (102, 1 if outcome.text.startswith("unknown") else 0),
                (434, outcome.response_to),
            ]
        order, fill = outcome.order, outcome.fill
        status = outcome.status if outcome.status is not None else order.status
        body: FixFields = [(6, format_price(order.avg_px)), (11, outcome.cl_ord_id)]
        if fill is not None and fill.fee:
            body += [(12, format_price(fill.fee)), (13, b"3")]
        body += [(14, order.cum), (17, outcome.exec_id)]
        if order.order_type is OrderType.PEGGED_MIDPOINT:
            body.append((18, b"M"))
        if fill is not None:
            body += [(30, fill.venue), (31, format_price(fill.price)), (32, fill.quantity)]
        body += [(37, order.order_id)]
        if order.quantity:
            body.append((38, order.quantity))
        body += [(39, STATUS_TO_FIX[status]), (40, FIX_ORD_TYPE[order.order_type])]
        if outcome.orig_cl_ord_id:
            body.append((41, outcome.orig_cl_ord_id))
        if order.limit_price is not None:
            body.append((44, format_price(order.limit_price)))
        if order.stop_price is not None:
            body.append((99, format_price(order.stop_price)))
        body += [(54, FIX_SIDE[order.side]), (55, order.symbol)]
        if outcome.text:
            body.append((58, outcome.text))
        body += [(59, FIX_TIF[order.tif]), (60, format_ns(outcome.time_ns))]
        if outcome.rej_reason is not None:
            body.append((103, outcome.rej_reason))
        if order.min_quantity is not None:
            body.append((110, order.min_quantity))
        leaves = (
            order.quantity - order.cum
            if status
            in (
                OrdStatus.NEW,
                OrdStatus.PARTIALLY_FILLED,
                OrdStatus.PENDING_NEW,
                OrdStatus.REPLACED,
            )
            else 0
        )
        body += [(150, outcome.exec_type), (151, leaves)]
        return b"8", body


# -------------------------------------------------------------- parsing


def _submit(msg: FixMessage, market: int) -> SubmitOrder:
    ord_type = ORD_TYPES.get(msg.get(40) or b"")
    if ord_type is None:
        raise BadInput(
            "OrdType(40)", msg.get(40), "must be 1 (market), 2 (limit), 3 (stop) or P (peg)"
        )
    if ord_type is OrderType.PEGGED_MIDPOINT and b"M" not in (msg.get(18) or b"").split():
        raise BadInput("ExecInst(18)", msg.get(18), "a peg must be a midpoint peg (M)")
    tif = TIFS.get(msg.get(59) or b"0")
    if tif is None:
        raise BadInput("TimeInForce(59)", msg.get(59), "must be 0 (day), 1 (GTC) or 3 (IOC)")
    side = SIDES.get(msg.get(54) or b"")
    if side is None:
        raise BadInput("Side(54)", msg.get(54), "must be buy or sell")
    price = _price(msg, 44, "Price") if msg.get(44) else None
    if ord_type is OrderType.LIMIT and price is None:
        raise BadInput("Price(44)", None, "a limit order needs a price")
    stop = _price(msg, 99, "StopPx") if msg.get(99) else None
    if ord_type is OrderType.STOP and stop is None:
        raise BadInput("StopPx(99)", None, "a stop order needs a stop price")
    min_qty = _int(msg, 110, "MinQty") if msg.get(110) else None
    venue = (msg.get(100) or b"").decode("latin-1") or None
    return SubmitOrder(
        market,
        _text(msg, 11),
        None,
        _text(msg, 55),
        side,
        _int(msg, 38, "OrderQty"),
        ord_type,
        price,
        tif,
        venue,
        min_qty,
        stop_price=stop,
    )


# Orders must carry positive quantities and prices (fix.fields reads them).
_text = fields.text
_int = partial(fields.whole, positive=True)
_price = partial(fields.price, positive=True)
