"""Server-sent events to every open page, without ever waiting for one.

Trading and the dashboard share one event loop, so the rule is: publishing is
a few ``deque.append`` calls and nothing else. Each message is encoded once
and the same bytes go to every client. Each client has its own bounded queue
(messages and bytes) drained by its own request task; a client that stops
reading fills its socket, then its queue, and is dropped: its connection is
aborted and it is counted. Nobody else notices.

The sockets of event streams get a small kernel send buffer, so a stalled
reader is found within seconds, not after megabytes of kernel buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("gateway.dashboard")

MAX_CLIENTS = 64
MAX_QUEUED_MESSAGES = 512
MAX_QUEUED_BYTES = 2 << 20
SEND_BUFFER_BYTES = 64 << 10


class TooManyClients(Exception):
    """Every event-stream slot is taken."""


def encode(event: str, data: object) -> bytes:
    """One SSE message: ``event:`` line, one ``data:`` line of compact JSON."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=True, default=str)
    return f"event: {event}\ndata: {body}\n\n".encode("ascii")


class ClientTransport(Protocol):
    """What the hub needs of a client's connection (aiohttp's transport is one)."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...

    def abort(self) -> None: ...


@dataclass(eq=False)
class Client:
    number: int
    transport: ClientTransport | None
    queue: deque[bytes] = field(default_factory=deque)
    queued_bytes: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False
    sent: int = 0
    drop_reason: str = ""


class Hub:
    def __init__(
        self,
        *,
        max_clients: int = MAX_CLIENTS,
        max_messages: int = MAX_QUEUED_MESSAGES,
        max_bytes: int = MAX_QUEUED_BYTES,
        send_buffer: int | None = SEND_BUFFER_BYTES,
    ) -> None:
        self.max_clients = max_clients
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.send_buffer = send_buffer
        self.clients: list[Client] = []
        self.dropped = 0
        self.published = 0
        self._numbers = 0

    # ---------------------------------------------------------- clients
    def add(self, transport: ClientTransport | None) -> Client:
        if len(self.clients) >= self.max_clients:
            raise TooManyClients(f"{len(self.clients)} event streams open")
        self._numbers += 1
        client = Client(self._numbers, transport)
        if transport is not None and self.send_buffer:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
        self.clients.append(client)
        return client

    def remove(self, client: Client) -> None:
        client.closed = True
        if client in self.clients:
            self.clients.remove(client)

    def drop(self, client: Client, reason: str) -> None:
        """Abort a client that cannot keep up (its queue is full)."""
        if client.closed:
            return
        self.dropped += 1
        client.drop_reason = reason
        log.warning(
            "dashboard client %d dropped: %s",
            client.number,
            reason,
            extra={"sv_event": "dashboard_client_dropped"},
        )
        self.remove(client)
        client.queue.clear()
        client.queued_bytes = 0
        client.wake.set()
        if client.transport is not None:
            client.transport.abort()

    # --------------------------------------------------------- publish
    def publish(self, event: str, data: object) -> None:
        """Queue one message for every client; never blocks, never raises."""
        if not self.clients:
            return
        self.send_raw(encode(event, data))

    def send_raw(self, message: bytes) -> None:
        self.published += 1
        size = len(message)
        for client in list(self.clients):
            if (
                len(client.queue) >= self.max_messages
                or client.queued_bytes + size > self.max_bytes
            ):
                queued = f"{len(client.queue)} messages, {client.queued_bytes} bytes queued"
                self.drop(client, queued)
                continue
            client.queue.append(message)
            client.queued_bytes += size
            client.wake.set()

    def offer(self, client: Client, event: str, data: object) -> None:
        """One message for one client (its first full state)."""
        message = encode(event, data)
        client.queue.append(message)
        client.queued_bytes += len(message)
        client.wake.set()

    # ----------------------------------------------------------- serve
    async def next_batch(self, client: Client) -> bytes | None:
        """Everything queued for the client, joined; None once it is closed."""
        while not client.queue:
            if client.closed:
                return None
            client.wake.clear()
            await client.wake.wait()
        if client.closed:
            return None
        batch = b"".join(client.queue)
        client.sent += len(client.queue)
        client.queue.clear()
        client.queued_bytes = 0
        return batch

    def close_all(self) -> None:
        for client in list(self.clients):
            self.remove(client)
            client.wake.set()
