"""The reconciler: make the engine's live orders and positions agree with the broker's.

Every order the engine thinks is live is checked against the broker: missed
fills are booked (one fill with a deterministic ``recon:`` id at the average
price of the missing part), missed status changes fed, commands that never
reached the broker queued again; positions are compared and every
disagreement is a ``discrepancy`` alert.
"""

from __future__ import annotations

import logging
import time

from core.commands import CancelOrder, Fill, OrderUpdate, OrdStatus, ReplaceOrder, SubmitOrder
from core.errors import BadInput
from core.execution.orders import ChildOrder
from core.money import format_price, round_half_even_div
from gateway.alerts import Alerts
from gateway.brokers.base import BrokerOrder, LearnsReconciledFills, RejectedRequest
from gateway.journal import Event
from gateway.outbox import Outbox
from gateway.parts import Part, Parts
from gateway.sender import OrderSender

log = logging.getLogger("gateway.runtime")

RECONCILE_GRACE_S = 2.0
"""Wall seconds an order may wait for its stream events before REST polling
treats missing fills as missed (avoids racing events still in flight)."""

_TERMINAL_STATUS = {
    "canceled": OrdStatus.CANCELED,
    "expired": OrdStatus.EXPIRED,
    "rejected": OrdStatus.REJECTED,
}


class Reconciler(Part):
    """Live orders and positions against the broker's; missed fills booked."""

    def __init__(self, parts: Parts, outbox: Outbox, sender: OrderSender, alerts: Alerts) -> None:
        super().__init__(parts)
        self.outbox = outbox
        self.sender = sender
        self.alerts = alerts

    async def reconcile(self, *, startup: bool, grace: float = RECONCILE_GRACE_S) -> None:
        """Make the engine's live orders agree with the broker's.

        One ``GET /orders?status=open`` covers every order still open at the
        broker; only orders that left that list (filled, cancelled, unknown)
        are asked for one by one, so polling costs one request per cycle,
        well inside Alpaca's 200 a minute."""
        now_wall = time.monotonic()
        listed: dict[str, BrokerOrder] | None = None
        if not startup and self.engine.open_orders():
            try:
                listed = {o.broker_client_id: o for o in await self.broker.open_orders()}
            except (RejectedRequest, BadInput) as exc:
                log.warning("cannot list open orders: %s", exc)
                return
        for order in list(self.engine.open_orders()):
            if not startup:
                engine_id = order.client_order_id
                if engine_id in self.outbox.queued:
                    continue  # still with the sender: not ours to judge yet
                stored = self.storage.orders.order(engine_id)
                since = (
                    self.state.sent_wall.get(engine_id)
                    if stored is not None and stored.sent
                    else self.outbox.decided_wall.get(engine_id, 0.0)
                )
                if since is None or now_wall - since < grace:
                    continue
            if order.is_terminal:
                continue
            bcid = self.state.ids.broker(order.client_order_id)
            known = None if listed is None else listed.get(bcid)
            await self._reconcile_order(order, known)
        if startup:
            await self._foreign_open_orders()

    async def _reconcile_order(self, order: ChildOrder, known: BrokerOrder | None = None) -> None:
        engine_id = order.client_order_id
        stored = self.storage.orders.order(engine_id)
        bcid = self.state.ids.broker(engine_id)
        broker_order = known if known is not None else await self.sender.safe_order(bcid)
        if order.is_terminal:
            return  # answered while we were asking
        if broker_order is None:
            if order.status is OrdStatus.PENDING_NEW and (stored is None or not stored.sent):
                # Decided, journaled, never sent (a crash in between): send it now
                # (the stale-entry rule still applies).
                if engine_id not in self.outbox.queued:
                    log.info("order %s was never sent: sending now", engine_id)
                    self.outbox.put(_submit_for(order))
                return
            if (stored is not None and stored.sent) or order.status is not OrdStatus.PENDING_NEW:
                # Never acknowledged: rejected. Acknowledged once (NEW, partly filled):
                # REJECTED is no legal transition from there, and a refused update would
                # leave the order live here forever, asked about again every cycle.
                ended = (
                    OrdStatus.REJECTED
                    if order.status is OrdStatus.PENDING_NEW
                    else OrdStatus.CANCELED
                )
                self.alerts.discrepancy(
                    f"order {bcid} is live here ({order.status.value}) "
                    f"but unknown to the broker: treated as {ended.value}"
                )
                await self.inputs.feed(
                    OrderUpdate(
                        self.state.market.now_ns(), engine_id, ended, "unknown to the broker"
                    )
                )
            return
        if stored is not None and not stored.sent:
            self.sender.mark_sent(engine_id, broker_order.broker_order_id)
        self.state.sent_wall.setdefault(engine_id, time.monotonic())
        await self.book_missed_fills(engine_id, broker_order)
        await self._sync_status(engine_id, broker_order)
        self._resend_request(order)

    def _resend_request(self, order: ChildOrder) -> None:
        """A cancel/replace the engine still waits on that never left: queue it again."""
        request = order.pending
        if (
            request is None
            or request.request_id in self.outbox.queued
            or self.storage.orders.request_sent(request.request_id)
        ):
            return
        now = self.state.market.now_ns()
        engine_id = order.client_order_id
        if request.quantity is None:
            self.outbox.put(
                CancelOrder(now, request.request_id, engine_id, order.symbol, order.side)
            )
        else:
            self.outbox.put(
                ReplaceOrder(
                    now,
                    request.request_id,
                    engine_id,
                    order.symbol,
                    order.side,
                    request.quantity,
                    request.limit_price,
                )
            )

    async def book_missed_fills(self, engine_id: str, broker_order: BrokerOrder) -> None:
        """Quantity the broker filled beyond what is booked becomes one fill, with
        a deterministic id and the average price of the missing part. Computed
        under the input lock, so a stream fill processed meanwhile counts."""
        booked = self.state.booked
        if broker_order.filled <= booked.get(engine_id, (0, 0))[0]:
            return
        order = self.engine.order(engine_id)
        if order is None:
            return

        made: list[Fill] = []

        def missing_fill(_: Event) -> Event | None:
            booked_qty, booked_notional = booked.get(engine_id, (0, 0))
            missing = broker_order.filled - booked_qty
            if missing <= 0:
                return None
            price = round_half_even_div(broker_order.filled_notional - booked_notional, missing)
            if price <= 0:
                log.warning(
                    "order %s: cannot derive the price of %d missed units",
                    broker_order.broker_client_id,
                    missing,
                )
                return None
            fill = Fill(
                time_ns=self.state.market.now_ns(),
                client_order_id=engine_id,
                exec_id=f"recon:{broker_order.broker_order_id}:{broker_order.filled}",
                symbol=broker_order.symbol,
                side=order.side,
                quantity=missing,
                price=price,
                venue=self.broker.name,
            )
            self.state.counters.reconciled_fills += 1
            made.append(fill)
            self.alerts.discrepancy(
                f"order {broker_order.broker_client_id}: {missing} filled at the broker while"
                f" the stream was away; booked at {format_price(price)} ({fill.exec_id})"
            )
            return fill

        placeholder = Fill(0, engine_id, "", broker_order.symbol, order.side, 1, 1)
        await self.inputs.feed(placeholder, "reconcile", missing_fill)
        if isinstance(self.broker, LearnsReconciledFills):
            # A broker keeping its own positions (FIX) never reported this quantity.
            for fill in made:
                if self.storage.journal.has_execution(fill.exec_id):  # journaled, not a dup
                    self.broker.reconciled(broker_order.broker_client_id, fill)

    async def _sync_status(self, engine_id: str, broker_order: BrokerOrder) -> None:
        order = self.engine.order(engine_id)
        if order is None or order.is_terminal:
            return
        status = broker_order.status
        target = _TERMINAL_STATUS.get(status)
        now = self.state.market.now_ns()
        feed = self.inputs.feed
        if (
            status == "replaced"
            and order.pending is not None
            and order.pending.quantity is not None
        ):
            await feed(
                OrderUpdate(
                    now, order.pending.request_id, OrdStatus.REPLACED, "replaced (reconciled)"
                )
            )
        elif target is not None:
            await feed(OrderUpdate(now, engine_id, target, f"{status} (reconciled)"))
        elif (
            status in ("new", "partially_filled", "accepted")
            and order.status is OrdStatus.PENDING_NEW
        ):
            await feed(OrderUpdate(now, engine_id, OrdStatus.NEW, "new (reconciled)"))

    async def _foreign_open_orders(self) -> None:
        try:
            orders = await self.broker.open_orders()
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot list open orders: %s", exc)
            return
        live = {o.client_order_id for o in self.engine.open_orders()}
        for o in orders:
            engine_id = self.state.ids.engine(o.broker_client_id)
            if engine_id is None:
                self.alerts.discrepancy(
                    f"open order {o.broker_client_id} ({o.symbol}) at the broker"
                    " was not placed by this database; left alone"
                )
            elif engine_id not in live:
                self.alerts.discrepancy(
                    f"open order {o.broker_client_id} at the broker is not live in the engine"
                )

    async def check_positions(self, when: str) -> bool:
        """Compare every position with the broker's; True when all agree."""
        try:
            broker = await self.broker.positions()
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot read positions (%s): %s", when, exc)
            return False
        ours = self.engine.positions()
        same = True
        for symbol in sorted(set(broker) | set(ours)):
            if broker.get(symbol, 0) != ours.get(symbol, 0):
                same = False
                self.alerts.discrepancy(
                    f"{when}: position {symbol} is {ours.get(symbol, 0)} here and"
                    f" {broker.get(symbol, 0)} at the broker"
                )
        if same:
            log.info(
                "%s: positions agree with the broker (%d symbols)",
                when,
                len(ours),
                extra={"sv_event": "positions_ok"},
            )
        return same


def _submit_for(order: ChildOrder) -> SubmitOrder:
    """The submit that created ``order`` (it never reached the broker)."""
    return SubmitOrder(
        order.created_ns,
        order.client_order_id,
        order.parent_id,
        order.symbol,
        order.side,
        order.quantity,
        order.order_type,
        order.limit_price,
        order.time_in_force,
        order.venue,
        order.min_quantity,
    )
