"""What crossed the prime broker's FIX line, session-level: the recovery evidence.

Crash and reconnect tests must show that a session *resumed*: the client's
Logon carried no ResetSeqNumFlag and continued the sequence, and whatever one
side missed came back through ResendRequest and PossDup=Y resends. Those are
admin-level facts the application never sees, so the stand-in watches the
wire itself: ``TappedRouter`` frames a copy of every inbound chunk per
connection and parses every outbound message, and ``WireTap`` keeps the
counts and the Logon history for ``/_control/state`` (``fix.wire``).

Pure bookkeeping: it never changes what the session does. A garbled copy is
only counted (the session itself answers garbled input).
"""

from __future__ import annotations

from typing import Any

from fix.framing import FixMessage, Framer, Garbled, parse
from fix.router import AcceptorRouter
from fix.session import Actions

Y = b"Y"
MAX_LOGONS = 1000  # bounded history: a reconnect loop must not grow memory forever


def _seq(msg: FixMessage, tag: int) -> int | None:
    raw = msg.get(tag)
    return int(raw) if raw is not None and raw.isdigit() else None


class WireTap:
    """Counters and the Logon history of one acceptor (all its connections)."""

    def __init__(self) -> None:
        self.logons_received: list[dict[str, Any]] = []
        self.logons_sent: list[dict[str, Any]] = []
        self.resend_requests_received: list[dict[str, int | None]] = []
        self.resend_requests_sent: list[dict[str, int | None]] = []
        self.counters: dict[str, int] = {}
        self.poss_dup_exec_ids_sent: list[str] = []
        self._framers: dict[int, Framer] = {}

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # --------------------------------------------------------------- inbound
    def inbound(self, conn: int, data: bytes, now_ns: int, expected: int) -> None:
        """A chunk from connection ``conn``; ``expected`` is the session's next
        inbound MsgSeqNum before the chunk (what a resuming Logon must match)."""
        framer = self._framers.setdefault(conn, Framer())
        for item in framer.feed(data):
            if isinstance(item, Garbled):
                self._count("garbled_received")
                continue
            self._received(item, now_ns, expected)

    def _received(self, msg: FixMessage, now_ns: int, expected: int) -> None:
        kind = msg.msg_type
        poss_dup = msg.get(43) == Y
        self._count("messages_received")
        if poss_dup:
            self._count("poss_dup_received")
            self._count(f"poss_dup_received_{kind.decode('latin-1')}")
        if kind == b"A" and len(self.logons_received) < MAX_LOGONS:
            self.logons_received.append(
                {
                    "msg_seq_num": msg.seq_num,
                    "reset_seq_num_flag": msg.get(141) == Y,
                    "expected_seq_num": expected,
                    "wall_ns": now_ns,
                }
            )
        elif kind == b"2":
            self.resend_requests_received.append({"begin": _seq(msg, 7), "end": _seq(msg, 16)})
        elif kind == b"4":
            self._count("gap_fills_received" if msg.get(123) == Y else "sequence_resets_received")

    def closed(self, conn: int) -> None:
        self._framers.pop(conn, None)

    # -------------------------------------------------------------- outbound
    def outbound(self, actions: Actions, now_ns: int) -> None:
        """Every message in ``actions.send`` (one complete message per item)."""
        for raw in actions.send:
            try:
                msg = FixMessage(parse(raw), raw)
            except Exception:  # our own encoder produced it; count, never raise
                self._count("unparsable_sent")
                continue
            self._sent(msg, now_ns)

    def _sent(self, msg: FixMessage, now_ns: int) -> None:
        kind = msg.msg_type
        self._count("messages_sent")
        if msg.get(43) == Y:
            self._count("poss_dup_sent")
            self._count(f"poss_dup_sent_{kind.decode('latin-1')}")
            if kind == b"8" and msg.get(17):
                self.poss_dup_exec_ids_sent.append(msg[17].decode("latin-1"))
        if kind == b"A" and len(self.logons_sent) < MAX_LOGONS:
            self.logons_sent.append(
                {
                    "msg_seq_num": msg.seq_num,
                    "reset_seq_num_flag": msg.get(141) == Y,
                    "wall_ns": now_ns,
                }
            )
        elif kind == b"2":
            self.resend_requests_sent.append({"begin": _seq(msg, 7), "end": _seq(msg, 16)})
        elif kind == b"4":
            self._count("gap_fills_sent" if msg.get(123) == Y else "sequence_resets_sent")

    def state_json(self) -> dict[str, Any]:
        return {
            "logons_received": list(self.logons_received),
            "logons_sent": list(self.logons_sent),
            "resend_requests_received": list(self.resend_requests_received),
            "resend_requests_sent": list(self.resend_requests_sent),
            "poss_dup_exec_ids_sent": list(self.poss_dup_exec_ids_sent),
            "counters": dict(sorted(self.counters.items())),
        }


class TappedRouter(AcceptorRouter):
    """``AcceptorRouter`` that shows the ``WireTap`` everything in and out."""

    def __init__(self, sessions: list[Any], tap: WireTap) -> None:
        super().__init__(sessions)
        self.tap = tap

    def _expected(self, conn: int) -> int:
        session = self.session_for(conn)
        if session is None and len(self.sessions) == 1:  # first chunk: not bound yet
            session = next(iter(self.sessions.values()))
        return session.store.next_target_seq if session is not None else 0

    def on_bytes(self, conn: int, data: bytes, now_ns: int) -> Actions:
        self.tap.inbound(conn, data, now_ns, self._expected(conn))
        actions = super().on_bytes(conn, data, now_ns)
        self.tap.outbound(actions, now_ns)
        return actions

    def on_timer(self, now_ns: int) -> dict[int, Actions]:
        out = super().on_timer(now_ns)
        for actions in out.values():
            self.tap.outbound(actions, now_ns)
        return out

    def disconnected(self, conn: int, now_ns: int) -> Actions:
        self.tap.closed(conn)
        return super().disconnected(conn, now_ns)
