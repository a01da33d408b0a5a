"""Order statuses from TWS, turned into the runtime's order updates.

Each (orderRef, order) reports a status change once: acknowledged (NEW),
cancelled, or refused. A refusal that arrives while ``submit`` still waits
for TWS's first answer is *its* answer (``RejectedRequest``), not a second,
conflicting update from the stream: ``submitting`` and ``refused`` say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from ib_async import Trade

from core.commands import OrderUpdate, OrdStatus
from gateway.brokers.base import TradeEvent
from gateway.brokers.ibkr.mapping import error_text, order_ref, to_whole, was_rejected
from gateway.brokers.ibkr.realtime import MarketTime


class OrderStatuses:
    """The last status seen of each order, and the ids refused in ``submit``."""

    def __init__(self, market: MarketTime, enqueue: Callable[[str, Any], None]) -> None:
        self._market = market
        self._enqueue = enqueue
        self._last: dict[tuple[str, int], str] = {}
        self.refused: set[str] = set()  # refused in submit(): told by exception
        self.submitting: set[str] = set()  # submit() awaiting TWS's first answer

    def on_status(self, trade: Trade) -> None:
        """``orderStatusEvent``: a new, cancelled or refused order becomes an update."""
        status = trade.orderStatus.status
        ref = order_ref(trade)
        key = (ref, trade.order.permId or trade.order.orderId)
        previous = self._last.get(key)
        update: OrderUpdate | None = None
        now = self._market.ns or time.time_ns()
        if status in ("PreSubmitted", "Submitted") and previous is None:
            update = OrderUpdate(now, ref, OrdStatus.NEW, status)
        elif status in ("Cancelled", "ApiCancelled", "Inactive") and previous not in (
            "Cancelled",
            "ApiCancelled",
            "Inactive",
        ):
            if (was_rejected(trade) or status == "Inactive") and ref in self.submitting:
                self.refused.add(ref)  # submit() raises RejectedRequest with the reason
            elif was_rejected(trade) or status == "Inactive":
                update = OrderUpdate(now, ref, OrdStatus.REJECTED, error_text(trade)[:200])
            else:
                update = OrderUpdate(now, ref, OrdStatus.CANCELED, status)
        if status not in ("PendingCancel", "ValidationError", "PendingSubmit"):
            self._last[key] = status
        if update is not None:
            cum = to_whole(trade.orderStatus.filled, "orderStatus.filled")
            self._enqueue("trade", TradeEvent(ref, status.lower(), None, update, cum))


async def acknowledged(trade: Trade, current: Callable[[], bool], timeout: float) -> None:
    """Wait until TWS answers an order (status beyond PendingSubmit, or done), or
    the connection it was sent on is gone (even if a new one is already up:
    ``current()`` turns False)."""
    deadline = time.monotonic() + timeout
    answered = asyncio.Event()

    def on_status(_trade: Trade) -> None:
        answered.set()

    trade.statusEvent += on_status
    try:
        while trade.orderStatus.status in ("PendingSubmit", "") and not trade.isDone():
            if time.monotonic() > deadline or not current():
                return
            answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(answered.wait(), 0.05)  # woken by the answer
    finally:
        trade.statusEvent -= on_status
