"""Acceptor-side dispatch of connections to sessions, without I/O.

An acceptor hosts many sessions on one port; which one a connection belongs
to is known only from its first message (BeginString, SenderCompID,
TargetCompID). Unknown sessions, sessions already connected elsewhere and
garbage before the first message are answered by closing the connection, as
the acceptance suite expects (1b, 1c, 1d, 1e).
"""

from __future__ import annotations

from fix import framing
from fix.framing import FixMessage
from fix.session import Actions, Session, SessionEvent, State

SessionKey = tuple[bytes, bytes, bytes]  # (BeginString, our CompID, their CompID)


class AcceptorRouter:
    """Maps connection ids (chosen by the shell) to sessions."""

    def __init__(
        self, sessions: list[Session], max_size: int = 1 << 20, first_message_timeout_s: float = 10
    ) -> None:
        self.sessions: dict[SessionKey, Session] = {
            (s.begin, s.sender, s.target): s for s in sessions
        }
        self._bound: dict[int, Session] = {}
        self._pending: dict[int, bytes] = {}
        self._opened: dict[int, int] = {}
        self.first_message_timeout_ns = int(first_message_timeout_s * 1e9)
        self.max_size = max_size
        self.refused = 0

    def connected(self, conn: int, now_ns: int = 0) -> None:
        self._pending[conn] = b""
        self._opened[conn] = now_ns

    def on_bytes(self, conn: int, data: bytes, now_ns: int) -> Actions:
        session = self._bound.get(conn)
        if session is not None:
            actions = session.on_bytes(data, now_ns)
            if actions.disconnect:
                self._bound.pop(conn, None)
            return actions
        if conn not in self._pending:
            return Actions(disconnect=True)
        buf = self._pending[conn] + data
        while True:
            kind, start, end, reason = framing.impl.scan(buf, 0, self.max_size)
            if kind == 0:  # need more
                self._pending[conn] = buf
                return Actions()
            if kind == 3:  # junk before the first message: skip it
                buf = buf[end:]
                continue
            if kind == 2:
                return self._refuse(conn, now_ns, f"garbled first message: {reason}")
            break
        try:
            first = FixMessage(framing.parse(buf[start:end]))
        except ValueError as exc:
            return self._refuse(conn, now_ns, f"unparsable first message: {exc}")
        key = (first.get(8) or b"", first.get(56) or b"", first.get(49) or b"")
        session = self.sessions.get(key)
        if session is None:
            return self._refuse(conn, now_ns, f"no session for {key!r}")
        if session.state is not State.DISCONNECTED or session in self._bound.values():
            return self._refuse(conn, now_ns, f"session {key!r} is already connected")
        del self._pending[conn]
        self._opened.pop(conn, None)
        self._bound[conn] = session
        actions = session.connect(now_ns)
        more = session.on_bytes(buf[start:], now_ns)
        actions.extend(more)
        if actions.disconnect:
            self._bound.pop(conn, None)
        return actions

    def on_timer(self, now_ns: int) -> dict[int, Actions]:
        out: dict[int, Actions] = {}
        for conn, opened in list(self._opened.items()):
            if now_ns - opened >= self.first_message_timeout_ns:
                out[conn] = self._refuse(conn, now_ns, "no Logon within the timeout")
        for conn, session in list(self._bound.items()):
            actions = session.on_timer(now_ns)
            if actions.send or actions.disconnect or actions.events:
                out[conn] = actions
            if actions.disconnect:
                self._bound.pop(conn, None)
        return out

    def disconnected(self, conn: int, now_ns: int) -> Actions:
        self._pending.pop(conn, None)
        self._opened.pop(conn, None)
        session = self._bound.pop(conn, None)
        return session.disconnected(now_ns) if session is not None else Actions()

    def session_for(self, conn: int) -> Session | None:
        return self._bound.get(conn)

    def _refuse(self, conn: int, now_ns: int, reason: str) -> Actions:
        self._pending.pop(conn, None)
        self._opened.pop(conn, None)
        self.refused += 1
        return Actions(events=[SessionEvent(now_ns, "refused", reason)], disconnect=True)
