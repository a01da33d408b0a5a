"""The order sender: one task takes broker commands from the outbox and sends them.

A submit that the journal says was sent is not sent again; an entry decided
on a bar older than two bar periods is refused instead (SPEC §4.6); a refusal
by the broker becomes the engine's reject; a reply that cannot be read is
checked by reading the order back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from core.commands import CancelOrder, OrderUpdate, OrdStatus, ReplaceOrder, SubmitOrder
from core.errors import BadInput
from core.execution.orders import ChildOrder
from gateway.brokers.base import BrokerOrder, RejectedRequest
from gateway.outbox import BrokerCommand, Outbox
from gateway.parts import Part, Parts
from gateway.state import MINUTE_NS

log = logging.getLogger("gateway.runtime")

STALE_ENTRY_PERIODS = 2
"""An entry decided on a bar older than two bar periods (SPEC §4.6's stale
rule) is refused rather than sent: the price it was sized on is gone."""

BadSink = Callable[[str, Exception], Awaitable[None]]


class OrderSender(Part):
    """The one task that sends the outbox's commands to the broker, in order."""

    def __init__(self, parts: Parts, outbox: Outbox, on_bad: BadSink) -> None:
        super().__init__(parts)
        self.outbox = outbox
        self.on_bad = on_bad

    async def run(self) -> None:
        """The sender task: forever, one command at a time, in decision order."""
        outbox = self.outbox
        while True:
            command = await outbox.queue.get()
            outbox.sending = True
            try:
                await self.send(command)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("sending %s failed: %s", type(command).__name__, exc)
            finally:
                outbox.sending = False
                outbox.done(command)

    async def send(self, command: BrokerCommand) -> None:
        match command:
            case SubmitOrder():
                await self._submit(command)
            case CancelOrder():
                await self._cancel(command)
            case ReplaceOrder():
                await self._replace(command)

    def mark_sent(self, engine_id: str, broker_order_id: str | None) -> None:
        self.storage.orders.mark_sent(engine_id, broker_order_id)
        self.state.sent_wall[engine_id] = time.monotonic()

    async def safe_order(self, bcid: str) -> BrokerOrder | None:
        """The broker's view of one order, or None when it cannot be read."""
        try:
            return await self.broker.order(bcid)
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot read order %s back: %s", bcid, exc)
            return None

    def _is_stale_entry(self, command: SubmitOrder) -> bool:
        if command.parent_id is None:
            return False
        parent = self.engine.execution.parents.get(command.parent_id)
        if parent is None or parent.intent.purpose != "entry":
            return False
        decided = self.state.decided_on.get(command.client_order_id, command.time_ns)
        return decided < self.state.market.now_ns() - STALE_ENTRY_PERIODS * MINUTE_NS

    async def _reject(self, engine_id: str, reason: str) -> None:
        await self.inputs.feed(
            OrderUpdate(self.state.market.now_ns(), engine_id, OrdStatus.REJECTED, reason)
        )

    async def _submit(self, command: SubmitOrder) -> None:
        stored = self.storage.orders.order(command.client_order_id)
        if stored is not None and stored.sent:
            return
        bcid = self.state.ids.broker(command.client_order_id)
        order = self.engine.order(command.client_order_id)
        if order is not None and order.status is OrdStatus.PENDING_CANCEL:
            await self._cancel_unsent(command.client_order_id, bcid)
            return
        if order is not None and order.status is not OrdStatus.PENDING_NEW:
            return  # already answered (e.g. refused while we were away)
        if self._is_stale_entry(command):
            self.state.counters.stale_entries_refused += 1
            await self._reject(
                command.client_order_id, "stale: entry decided on an old bar, not sent"
            )
            return
        try:
            placed = await self.broker.submit(command, bcid)
        except RejectedRequest as exc:
            existing = await self.safe_order(bcid)
            if existing is not None:  # a retry after the broker already took it
                self.mark_sent(command.client_order_id, existing.broker_order_id)
                return
            self.state.counters.rejected_sends += 1
            log.warning("order %s refused by %s: %s", bcid, self.broker.name, exc.reason)
            await self._reject(command.client_order_id, exc.reason[:200])
            return
        except BadInput as exc:
            await self.on_bad("order reply", exc)
            existing = await self.safe_order(bcid)
            if existing is None:
                await self._reject(command.client_order_id, "unreadable broker reply")
                return
            placed = existing
        self.mark_sent(command.client_order_id, placed.broker_order_id)

    async def _cancel_unsent(self, engine_id: str, bcid: str) -> None:
        """The engine asked to cancel an order before it was ever sent (a fast
        backfill decides, then cancels, faster than orders go out): nothing
        reached the broker, so it ends canceled here and the cancel is never
        sent. Sending it anyway drew a "not found" refusal, put the order back
        to NEW, and left the reconciler a false discrepancy to clean up."""
        existing = await self.safe_order(bcid)
        if existing is not None:  # sent before a crash after all: the cancel follows
            self.mark_sent(engine_id, existing.broker_order_id)
            return
        await self.inputs.feed(
            OrderUpdate(
                self.state.market.now_ns(),
                engine_id,
                OrdStatus.CANCELED,
                "canceled before it was sent",
            )
        )

    def _pending_order(self, command: CancelOrder | ReplaceOrder) -> ChildOrder | None:
        """The order this request is still waiting on, or None when it was
        already sent (journal) or answered meanwhile."""
        if self.storage.orders.request_sent(command.client_order_id):
            return None
        order = self.engine.order(command.orig_client_order_id)
        if (
            order is None
            or order.pending is None
            or order.pending.request_id != command.client_order_id
        ):
            return None
        return order

    async def _request_refused(
        self, kind: str, command: CancelOrder | ReplaceOrder, exc: RejectedRequest | BadInput
    ) -> None:
        """A broker's refusal of a cancel/replace becomes the engine's reject of the request."""
        reason = exc.reason if isinstance(exc, RejectedRequest) else str(exc)
        log.info("%s %s refused: %s", kind, command.orig_client_order_id, reason)
        await self._reject(command.client_order_id, reason[:200])

    async def _cancel(self, command: CancelOrder) -> None:
        order = self._pending_order(command)
        if order is None:
            return
        try:
            await self.broker.cancel(self.state.ids.broker(order.client_order_id))
        except (RejectedRequest, BadInput) as exc:
            await self._request_refused("cancel", command, exc)
        self.storage.orders.mark_request_sent(command.client_order_id)

    async def _replace(self, command: ReplaceOrder) -> None:
        order = self._pending_order(command)
        if order is None:
            return
        ids = self.state.ids
        try:
            await self.broker.replace(
                command, ids.broker(order.client_order_id), ids.broker(command.client_order_id)
            )
            self.state.sent_wall[command.client_order_id] = time.monotonic()
        except (RejectedRequest, BadInput) as exc:
            await self._request_refused("replace", command, exc)
        self.storage.orders.mark_request_sent(command.client_order_id)
