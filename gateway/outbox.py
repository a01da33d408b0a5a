"""Broker commands decided but not yet sent: a queue with per-order counts.

The input pipeline puts commands in; the order sender takes them out; the
reconciler asks whether an order is still here (then it is the sender's to
judge, not the reconciler's) and re-queues commands that never left.
"""

from __future__ import annotations

import asyncio
import time

from core.commands import CancelOrder, ReplaceOrder, SubmitOrder

BrokerCommand = SubmitOrder | CancelOrder | ReplaceOrder


class Outbox:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[BrokerCommand] = asyncio.Queue()
        self.queued: dict[str, int] = {}  # client order / request id → commands waiting
        self.decided_wall: dict[str, float] = {}  # id → wall time first queued
        self.sending = False  # the sender holds a command taken from the queue

    def put(self, command: BrokerCommand) -> None:
        key = command.client_order_id
        self.queued[key] = self.queued.get(key, 0) + 1
        self.decided_wall.setdefault(key, time.monotonic())
        self.queue.put_nowait(command)

    def done(self, command: BrokerCommand) -> None:
        """The sender finished with ``command`` (sent, refused or failed)."""
        left = self.queued.get(command.client_order_id, 0) - 1
        if left > 0:
            self.queued[command.client_order_id] = left
        else:
            self.queued.pop(command.client_order_id, None)

    def idle(self) -> bool:
        return self.queue.empty() and not self.sending

    async def drain(self) -> None:
        while not self.idle():
            await asyncio.sleep(0.05)
