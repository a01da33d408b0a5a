"""The FIX prime-broker acceptor beside the other stand-ins, on the same market.

One ``fix`` acceptor (FIX 4.4, ``PRIMEBROKER`` ← ``SOVEREIGN`` by
default) whose application is ``PrimeBrokerApplication`` over a ``PrimeBook``.
It shares the stand-in's simulated clock (order arrival times) and hears every
ended minute from the publisher (``StandIn.minute_listeners``), so the prime
broker's dark pools and lit venues trade on exactly the bars the Alpaca and
TWS stand-ins publish. The session store is SQLite: a scratch file removed at
exit by default (it lives as long as ``python -m standins``, and a long
session's sent messages stay on disk, not in memory); give ``store_path`` to
survive a restart. ``username``/``password``: the pair the client's Logon must
carry (553/554); a wrong pair is answered with Logout and a reason that does
not say which one was wrong.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import BadInput
from fix.router import AcceptorRouter
from fix.session import Actions, Session, SessionConfig, SessionEvent, State
from fix.store import MemoryStore, MessageStore, SqliteStore, scratch_store_path
from fix.transport import Connection, FixAcceptor
from standins.fix_pb.app import PrimeBrokerApplication
from standins.fix_pb.book import PrimeBook
from standins.fix_pb.tap import TappedRouter, WireTap

if TYPE_CHECKING:
    from standins.server import StandIn

SENDER = "PRIMEBROKER"
TARGET = "SOVEREIGN"
SEED_OFFSET = 104_729  # the prime broker's venues draw from their own seeded streams
MAX_OUTAGE_S = 300.0


class _Acceptor(FixAcceptor):
    """``FixAcceptor`` that can also push to a session, cut its connections and
    refuse new ones for a while (a network outage, not just a reset line)."""

    def __init__(
        self, router: AcceptorRouter, host: str, port: int, on_event: Any, tap: WireTap
    ) -> None:
        super().__init__(router, host, port, on_event=on_event)
        self.connections: dict[int, Connection] = {}
        self.tap = tap
        self.down_until = 0.0  # time.monotonic() before which connections are cut at once
        self.refused_during_outage = 0

    def made(self, conn: Connection) -> None:
        if time.monotonic() < self.down_until and conn.transport is not None:
            self.refused_during_outage += 1
            conn.transport.abort()
            return
        self.connections[conn.conn_id] = conn
        super().made(conn)

    def lost(self, conn: Connection) -> None:
        if self.connections.pop(conn.conn_id, None) is not None:
            super().lost(conn)

    def push(self, key: str, actions: Actions) -> None:
        self.tap.outbound(actions, time.time_ns())
        self.deliver(actions)
        for conn_id, conn in list(self.connections.items()):
            session = self.router.session_for(conn_id)
            if session is not None and session.config.key == key:
                conn.apply(actions)

    def abort_all(self) -> int:
        dropped = 0
        for conn in list(self.connections.values()):
            if conn.transport is not None:
                conn.transport.abort()
                dropped += 1
        return dropped


class FixPrimeBroker:
    """The acceptor, its sessions, the book and the market hook-up."""

    def __init__(
        self,
        standin: StandIn,
        *,
        sender_comp_id: str = SENDER,
        target_comp_id: str = TARGET,
        begin_string: str = "FIX.4.4",
        heartbeat_s: int = 30,
        store_path: str | Path | None = None,
        dark_fill_rate: float | None = None,
        username: str = "",
        password: str = "",
        memory_store: bool = False,
    ) -> None:
        self.standin = standin
        self.book = PrimeBook(
            standin.market, standin.options.seed + SEED_OFFSET, dark_fill_rate=dark_fill_rate
        )
        self.app = PrimeBrokerApplication(self.book, standin.market_now)
        config = SessionConfig(
            begin_string,
            sender_comp_id,
            target_comp_id,
            initiator=False,
            heartbeat_s=heartbeat_s,
            username=username,
            password=password,
        )
        store: MessageStore
        if memory_store:
            store = MemoryStore()
        elif store_path is None:  # no restart reads it: committed in batches
            store = SqliteStore(scratch_store_path("standin-fix-"), config.key, durable=False)
        else:
            store = SqliteStore(store_path, config.key)
        self.session = Session(config, store, self.app)
        self.events: list[SessionEvent] = []
        self.tap = WireTap()
        self.acceptor = _Acceptor(
            TappedRouter([self.session], self.tap), "127.0.0.1", 0, self.events.append, self.tap
        )
        self.app.push = self.acceptor.push
        self.dropped = 0
        standin.minute_listeners.append(self.app.on_minute)
        standin.fix = self  # /_control/state shows the book; {"fault": "drop_fix"} drops

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.acceptor.host, self.acceptor.port = host, port
        return await self.acceptor.start()

    async def stop(self) -> None:
        await self.acceptor.stop()

    def drop(self, down_s: float = 0.0) -> int:
        """Cut every connection without a Logout, as a network failure does, and
        cut new ones for ``down_s`` real seconds (the outage lasts that long)."""
        self.acceptor.down_until = time.monotonic() + down_s
        n = self.acceptor.abort_all()
        self.dropped += n
        return n

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /_control {"fault": "drop_fix", "down_s": 2.5}``; ``down_s`` optional.

        Raises ``BadInput`` naming ``down_s`` when it is not a number in
        0..300 seconds (nothing is dropped then)."""
        down = body.get("down_s", 0)
        if isinstance(down, bool) or not isinstance(down, int | float):
            raise BadInput("down_s", down, "must be a number of seconds")
        if not 0 <= down <= MAX_OUTAGE_S:
            raise BadInput("down_s", down, f"must be in 0..{MAX_OUTAGE_S:g} seconds")
        return {"ok": True, "dropped": self.drop(float(down)), "down_s": float(down)}

    def state_json(self) -> dict[str, Any]:
        state = self.book.state_json()
        state.update(
            session={
                "key": self.session.config.key,
                "state": self.session.state.value,
                "next_sender_seq": self.session.store.next_sender_seq,
                "next_target_seq": self.session.store.next_target_seq,
            },
            counters=dict(self.app.counters),
            dropped_connections=self.dropped,
            refused_during_outage=self.acceptor.refused_during_outage,
            fills_while_disconnected=list(self.app.fills_while_disconnected),
            logged_on=self.session.state is State.ACTIVE,
            wire=self.tap.state_json(),
            wall_ns=time.time_ns(),
        )
        return state
