"""asyncio TCP (optionally TLS) shell around the sans-I/O FIX session.

This is the imperative edge: it reads the wall clock, owns sockets and a
timer, and does exactly what the session's ``Actions`` say. The initiator
reconnects with exponential back-off; the acceptor serves many sessions on
one port through ``AcceptorRouter``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import time
from collections.abc import Callable

from fix.framing import FixMessage
from fix.router import AcceptorRouter
from fix.session import Actions, Session, SessionEvent

TIMER_INTERVAL_S = 0.05

AppHandler = Callable[[FixMessage], None]
EventHandler = Callable[[SessionEvent], None]


def _noop_app(_: FixMessage) -> None:
    return None


def _noop_event(_: SessionEvent) -> None:
    return None


class Connection(asyncio.Protocol):
    """One TCP connection; forwards bytes to ``on_data`` and applies the result."""

    def __init__(self, owner: _Shell, conn_id: int) -> None:
        self.owner = owner
        self.conn_id = conn_id
        self.transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):  # a stream connection's is one
            raise TypeError(f"FIX needs a stream transport, got {type(transport).__name__}")
        self.transport = transport
        self.owner.made(self)

    def data_received(self, data: bytes) -> None:
        self.owner.data(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def apply(self, actions: Actions) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if actions.send:
            transport.write(b"".join(actions.send))
        if actions.disconnect:
            transport.close()


class _Shell:
    def __init__(self, on_app: AppHandler | None, on_event: EventHandler | None) -> None:
        self.on_app = on_app or _noop_app
        self.on_event = on_event or _noop_event

    def deliver(self, actions: Actions) -> None:
        for event in actions.events:
            self.on_event(event)
        for message in actions.app:
            self.on_app(message)

    def made(self, conn: Connection) -> None:
        raise NotImplementedError

    def data(self, conn: Connection, data: bytes) -> None:
        raise NotImplementedError

    def lost(self, conn: Connection) -> None:
        raise NotImplementedError


class FixAcceptor(_Shell):
    """Serves every session of ``router`` on one listening socket."""

    def __init__(
        self,
        router: AcceptorRouter,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        on_app: AppHandler | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        super().__init__(on_app, on_event)
        self.router = router
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self._ids = itertools.count(1)
        self._conns: dict[int, Connection] = {}
        self._server: asyncio.Server | None = None
        self._timer: asyncio.Task[None] | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self, next(self._ids)), self.host, self.port, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._timer = asyncio.create_task(self._tick())
        return self.port

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for conn in list(self._conns.values()):
            if conn.transport is not None:
                conn.transport.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TIMER_INTERVAL_S)
            for conn_id, actions in self.router.on_timer(time.time_ns()).items():
                self.deliver(actions)
                conn = self._conns.get(conn_id)
                if conn is not None:
                    conn.apply(actions)

    def made(self, conn: Connection) -> None:
        self._conns[conn.conn_id] = conn
        self.router.connected(conn.conn_id, time.time_ns())

    def data(self, conn: Connection, data: bytes) -> None:
        actions = self.router.on_bytes(conn.conn_id, data, time.time_ns())
        self.deliver(actions)
        conn.apply(actions)

    def lost(self, conn: Connection) -> None:
        self._conns.pop(conn.conn_id, None)
        self.deliver(self.router.disconnected(conn.conn_id, time.time_ns()))


class FixInitiator(_Shell):
    """Keeps one session connected: connect, log on, reconnect with back-off."""

    def __init__(
        self,
        session: Session,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        on_app: AppHandler | None = None,
        on_event: EventHandler | None = None,
        min_backoff_s: float = 0.25,
        max_backoff_s: float = 30.0,
    ) -> None:
        super().__init__(on_app, on_event)
        self.session = session
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.min_backoff_s = min_backoff_s
        self.max_backoff_s = max_backoff_s
        self.connects = 0
        self._conn: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self.logged_on = asyncio.Event()
        self._had_logon = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        self._timer = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        for task in (self._task, self._timer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._conn is not None and self._conn.transport is not None:
            self._conn.transport.close()

    async def logout(self, text: str = "", timeout_s: float = 5.0) -> None:
        """Send Logout and wait (bounded) for the counterparty to close the line."""
        conn = self._conn
        if conn is None:
            return
        actions = self.session.logout(time.time_ns(), text)
        self.deliver(actions)
        conn.apply(actions)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(conn.closed), timeout_s)
        if self._task is not None:
            self._task.cancel()

    def send(self, msg_type: bytes, body: list[tuple[int, object]]) -> None:
        """Send (or store for resend, when offline) an application message."""
        actions = self.session.send(msg_type, body, time.time_ns())
        self.deliver(actions)
        if self._conn is not None:
            self._conn.apply(actions)

    async def _run(self) -> None:
        backoff = self.min_backoff_s
        loop = asyncio.get_running_loop()
        while True:
            try:
                _, conn = await loop.create_connection(
                    lambda: Connection(self, 0),
                    self.host,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=self.host if self.ssl_context else None,
                )
            except OSError as exc:
                self.on_event(SessionEvent(time.time_ns(), "connect_failed", str(exc)))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            await conn.closed
            if self._had_logon:
                backoff = self.min_backoff_s
                self._had_logon = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TIMER_INTERVAL_S)
            actions = self.session.on_timer(time.time_ns())
            self.deliver(actions)
            if self._conn is not None:
                self._conn.apply(actions)

    def made(self, conn: Connection) -> None:
        self._conn = conn
        self.connects += 1
        actions = self.session.connect(time.time_ns())
        self.deliver(actions)
        conn.apply(actions)

    def data(self, conn: Connection, data: bytes) -> None:
        actions = self.session.on_bytes(data, time.time_ns())
        if self.session.logged_on:
            self._had_logon = True
            self.logged_on.set()
        self.deliver(actions)
        conn.apply(actions)

    def lost(self, conn: Connection) -> None:
        self._conn = None
        self.logged_on.clear()
        self.deliver(self.session.disconnected(time.time_ns()))
