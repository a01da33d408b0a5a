"""Executions from TWS: each booked once, with its commission.

A ``Fill`` is built from ``execDetails`` (exec id, shares, price, cumulative
quantity), never from ``orderStatus``; its fee comes from the
``commissionReport`` that follows (waited for up to ``commission_wait``
seconds). Exec ids already delivered are remembered, so a reconnect's or a
restart's ``reqExecutions`` replay books only what was missed. Apart from
the connection and the order requests because "what was executed" is the
truth the runtime books, and this is the one place that decides it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ib_async import IB, Trade
from ib_async import Fill as IbFill

from core.errors import BadInput
from gateway.brokers.base import TradeEvent
from gateway.brokers.ibkr.mapping import commission_fee, fill_event

log = logging.getLogger("gateway.ibkr")


class Executions:
    """The executions of one connection: pending their commission, or delivered."""

    def __init__(
        self,
        ib: IB,
        enqueue: Callable[[str, Any], None],
        *,
        commission_wait: float,
        request_timeout: float,
    ) -> None:
        self.ib = ib
        self._enqueue = enqueue
        self._commission_wait = commission_wait
        self._request_timeout = request_timeout
        self._seen: set[str] = set()
        self._pending: dict[str, tuple[Trade | None, IbFill, asyncio.TimerHandle]] = {}
        self.reconciled_fills = 0  # executions booked from reqExecutions after a reconnect

    def forget_pending(self) -> None:
        """The connection is gone: reqExecutions after the reconnect books them with fees."""
        for _, _, timer in self._pending.values():
            timer.cancel()
        self._pending.clear()

    def on_exec(self, trade: Trade, fill: IbFill) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._seen or exec_id in self._pending:
            return
        loop = asyncio.get_event_loop()
        timer = loop.call_later(self._commission_wait, self._flush, exec_id)
        self._pending[exec_id] = (trade, fill, timer)

    def on_commission(self, trade: Trade, fill: IbFill, _report: Any) -> None:
        exec_id = fill.execution.execId
        pending = self._pending.pop(exec_id, None)
        if pending is None:
            return
        pending[2].cancel()
        self.emit_fill(trade, fill, commission_fee)

    def _flush(self, exec_id: str) -> None:
        pending = self._pending.pop(exec_id, None)
        if pending is None:
            return
        log.warning("no commission report for execution %s; booked with fee 0", exec_id)
        self.emit_fill(pending[0], pending[1], commission_fee)

    def emit_fill(self, trade: Trade | None, fill: IbFill, fee_of: Callable[[IbFill], int]) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._seen:
            return
        self._seen.add(exec_id)
        try:
            event = fill_event(trade, fill, fee_of(fill))
        except BadInput as exc:
            self._enqueue("bad", ("execution", exc))
            return
        self._enqueue("trade", event)

    async def reconcile(self) -> None:
        """Book today's executions this process has not delivered (missed while away)."""
        missed = await self.missed()
        for trade, fill in missed:
            self.emit_fill(trade, fill, commission_fee)
        self.reconciled_fills += len(missed)
        if missed:
            log.info("reconciled %d executions from reqExecutions", len(missed))

    async def replay(self, on_trade: Callable[[TradeEvent], Awaitable[None]]) -> int:
        """Hand ``on_trade`` every execution TWS reports that was not delivered yet
        (``IbkrBroker.replay_executions`` says when and why); how many."""
        missed = await self.missed()
        delivered = 0
        for trade, fill in missed:
            exec_id = fill.execution.execId
            if exec_id in self._seen:
                continue  # delivered by the live stream meanwhile
            self._seen.add(exec_id)
            try:
                event = fill_event(trade, fill, commission_fee(fill))
            except BadInput as exc:
                self._enqueue("bad", ("execution", exc))  # told once the stream starts
                continue
            delivered += 1
            await on_trade(event)
        self.reconciled_fills += delivered
        if delivered:
            log.info(
                "replayed %d executions from reqExecutions before reconciling"
                " (those already in the database are skipped there)",
                delivered,
            )
        return delivered

    async def missed(self) -> list[tuple[Trade | None, IbFill]]:
        """Today's executions (``reqExecutions``) not delivered yet, oldest first,
        each with its order (by permId) and the commission ib_async stored for it."""
        try:
            fills = await asyncio.wait_for(self.ib.reqExecutionsAsync(), self._request_timeout)
        except (TimeoutError, ConnectionError) as exc:
            log.warning("reqExecutions failed: %s", exc)
            return []
        by_perm = {t.order.permId: t for t in self.ib.trades() if t.order.permId}
        # ib_async attaches commission reports to the Fill it stored first (at
        # connect), not to the copies a later reqExecutions returns.
        stored = {f.execution.execId: f for f in self.ib.fills()}
        fills = [stored.get(f.execution.execId, f) for f in fills]
        missed: list[tuple[Trade | None, IbFill]] = []
        for fill in sorted(fills, key=lambda f: (f.execution.time, f.execution.execId)):
            if fill.execution.execId in self._seen:
                continue
            pending = self._pending.pop(fill.execution.execId, None)
            if pending is not None:
                pending[2].cancel()
            missed.append((by_perm.get(fill.execution.permId), fill))
        return missed
