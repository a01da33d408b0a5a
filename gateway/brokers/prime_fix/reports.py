"""ExecutionReports and cancel rejects → the runtime's trade events.

Pure over the adapter's in-memory state (the known orders, the ClOrdID
chains, the position ledger): no I/O, no session. Kept apart from the
broker, which owns the session, the order of handling and the processed
mark, so that the mapping of one report can be read on its own.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from core.commands import Fill, OrderUpdate, OrdStatus
from core.errors import BadInput
from fix.framing import FixMessage
from fix.orders import ORD_STATUS
from gateway.brokers.base import TradeEvent
from gateway.brokers.prime_fix.chains import OrderChains
from gateway.brokers.prime_fix.ledger import OPEN, KnownOrder
from gateway.brokers.prime_fix.mapping import read_price, read_whole
from gateway.brokers.prime_fix.positions import PositionLedger

log = logging.getLogger("gateway.prime_fix")


def trade_event(
    msg: FixMessage,
    events: list[Fill | OrderUpdate],
    orders: dict[str, KnownOrder],
    chains: OrderChains,
    ledger: PositionLedger,
) -> TradeEvent | None:
    """An ExecutionReport the mapper accepted → the runtime's ``TradeEvent``;
    the order it names, its ClOrdID's fills and the ledger learn it too."""
    cl_ord_id = (msg.get(11) or b"").decode("latin-1")
    orig = (msg.get(41) or b"").decode("latin-1") or None
    exec_type = msg.get(150)
    order = orders.get(cl_ord_id) or (orders.get(orig) if orig else None)
    status = ORD_STATUS.get(msg.get(39) or b"")
    cum = read_whole(msg, 14, "CumQty")
    if order is not None:
        if msg.get(37) and msg.get(37) != b"NONE":
            order.order_id = msg[37].decode("latin-1")
        if status is not None:
            order.status = status
        order.cum = max(order.cum, cum)
        if msg.get(6):
            order.avg_px = read_price(msg, 6, "AvgPx")
        if exec_type == b"5" and cl_ord_id not in order.ids:
            order.ids.append(cl_ord_id)
        if msg.get(38):
            order.quantity = read_whole(msg, 38, "OrderQty")
        order.acked.set()
    fill = next((e for e in events if isinstance(e, Fill)), None)
    cum = chains.own_cum(cl_ord_id, cum, 0)[0]
    if fill is not None:
        if cum > chains.filled_by_id.get(cl_ord_id, (0, 0))[0]:
            # Otherwise a reconciliation already booked this quantity as one
            # ``recon:`` fill (``PrimeFixBroker.reconciled``) and the runtime
            # drops this report by the same rule: the ledger must not count it twice.
            ledger.book(fill)
            chains.note_fill(cl_ord_id, fill.quantity, fill.price)
        event = "fill" if status is OrdStatus.FILLED else "partial_fill"
        return TradeEvent(cl_ord_id, event, fill, None, cum)
    update = next((e for e in events if isinstance(e, OrderUpdate)), None)
    if update is None:
        return None
    if exec_type == b"5":  # replaced: the runtime resolves its pending request
        return TradeEvent(orig or cl_ord_id, "replaced", None, None, cum)
    if exec_type == b"4" and orig:  # the cancel's own ClOrdID is ours, the order is orig
        update = dataclasses.replace(update, client_order_id=orig)
        return TradeEvent(orig, "canceled", None, update, cum)
    if update.status in (
        OrdStatus.NEW,
        OrdStatus.CANCELED,
        OrdStatus.EXPIRED,
        OrdStatus.REJECTED,
    ):
        return TradeEvent(cl_ord_id, update.status.value, None, update, cum)
    return TradeEvent(cl_ord_id, update.status.value, None, None, cum)


def cancel_reject_event(msg: FixMessage, orders: dict[str, KnownOrder]) -> TradeEvent:
    """An OrderCancelReject → the runtime's event for the request it refused."""
    orig = (msg.get(41) or b"").decode("latin-1")
    if not orig:
        raise BadInput("OrigClOrdID(41)", None, "required on an OrderCancelReject")
    order = orders.get(orig)
    if order is not None:
        status = ORD_STATUS.get(msg.get(39) or b"")
        if status is not None and status in OPEN | {OrdStatus.FILLED, OrdStatus.CANCELED}:
            order.status = status
    kind = "order_replace_rejected" if msg.get(434) == b"2" else "order_cancel_rejected"
    log.info("%s for %s: %s", kind, orig, (msg.get(58) or b"").decode("latin-1"))
    return TradeEvent(orig, kind, None, None, order.cum if order else 0)


def answer_status(
    msg: FixMessage,
    pending_status: dict[str, asyncio.Future[FixMessage]],
    pending_mass: dict[str, tuple[list[FixMessage], asyncio.Future[None]]],
) -> None:
    """A status report (not a trade report): the answer to a pending
    OrderStatusRequest (790) or a part of a mass status answer (584)."""
    mass = msg.get(584)
    if mass is not None:
        pending = pending_mass.get(mass.decode("latin-1"))
        if pending is not None:
            reports, done = pending
            if msg.get(911) != b"0":
                reports.append(msg)
            if msg.get(912) == b"Y" and not done.done():
                done.set_result(None)
        return
    req = (msg.get(790) or b"").decode("latin-1")
    future = pending_status.pop(req, None)
    if future is not None and not future.done():
        future.set_result(msg)
