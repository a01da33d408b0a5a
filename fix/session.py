"""FIX session layer as a sans-I/O state machine (FIX 4.2 and 4.4, both roles).

Bytes and time go in (``on_bytes(data, now_ns)``, ``on_timer(now_ns)``);
bytes to send, application messages, session events and a disconnect request
come out as ``Actions``. The session never touches a socket or a clock, so
every rule — logon, heartbeats and test requests, gap detection, resend and
gap fill, PossDup handling, rejects — is testable with exact timestamps.

The rules and their order follow QuickFIX's ``Session`` (the reference the
acceptance definitions were recorded against): validate against the data
dictionary, then verify SendingTime, CompIDs and MsgSeqNum, then dispatch.

Where each part lives: this module is the machine (inputs, verification,
dispatch, sending); the admin messages' rules are ``fix.admin``, gap detection,
resend and SequenceReset ``fix.recovery``, the shared types ``fix.session_types``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from sortedcontainers import SortedDict

from core.errors import BadInput
from fix import dictionary as dd
from fix.admin import AdminMessages
from fix.framing import FixMessage, Framer, Garbled, encode
from fix.recovery import GapRecovery
from fix.session_types import (
    BUSINESS_REJECT_TEXT,
    LOGON_REJECTED,
    MAX_QUEUED,
    NS,
    RESEND_PAGE,
    REVERSE_ROUTE,
    Actions,
    BusinessReject,
    SessionConfig,
    SessionEvent,
    State,
    UnsupportedMessageType,
    Y,
)
from fix.store import MemoryStore, MessageStore
from fix.timefmt import format_ns, parse_ns

__all__ = [  # the session's types live in fix.session_types; callers import them here
    "LOGON_REJECTED",
    "MAX_QUEUED",
    "RESEND_PAGE",
    "Actions",
    "Application",
    "BusinessReject",
    "Session",
    "SessionConfig",
    "SessionEvent",
    "State",
    "UnsupportedMessageType",
]


class Application(Protocol):
    def on_logon(self, session: Session, now_ns: int) -> None: ...

    def on_message(self, message: FixMessage, session: Session, now_ns: int) -> None: ...


class Session:
    """One FIX session (one pair of CompIDs), in either role."""

    def __init__(
        self,
        config: SessionConfig,
        store: MessageStore | None = None,
        application: Application | None = None,
        dictionary: dd.DataDictionary | None = None,
    ) -> None:
        self.config = config
        self.store: MessageStore = store if store is not None else MemoryStore()
        self.application = application
        self.dictionary = dictionary or dd.load(config.begin_string)
        self.begin = config.begin_string.encode()
        self.sender = config.sender_comp_id.encode()
        self.target = config.target_comp_id.encode()
        self.state = State.DISCONNECTED
        self.framer = Framer()
        self.heartbeat_ns = config.heartbeat_s * NS
        # Out-of-order messages by MsgSeqNum, at most config.max_queued of them,
        # kept as their raw bytes (a tenth of a parsed message's memory).
        self._queue: SortedDict = SortedDict()
        self._resend_range: tuple[int, int] | None = None
        self._resend_at = 0  # when the ResendRequest went out (or last progress)
        self._resend_progress = 0  # expected MsgSeqNum at that moment
        self._last_sent = 0
        self._last_received = 0
        self._test_requests = 0
        self._deadline = 0  # logon or logout timeout, depending on state
        self._sent_reset = False
        self._out = Actions()
        self._busy = False
        self.counters: dict[str, int] = {"garbled": 0, "rejects_sent": 0, "app_received": 0}
        self.admin = AdminMessages(self)
        self.recovery = GapRecovery(self)

    # ---------------------------------------------------------------- inputs
    @property
    def logged_on(self) -> bool:
        return self.state in (State.ACTIVE, State.LOGOUT_SENT)

    def connect(self, now_ns: int) -> Actions:
        """The transport is connected: an initiator sends Logon, an acceptor waits for one."""
        self.framer.clear()
        self._last_received = self._last_sent = now_ns
        self._deadline = now_ns + int(self.config.logon_timeout_s * NS)
        if self.config.initiator:
            if self.config.send_reset_seq_num or self.config.reset_on_logon:
                self.store.reset()
                self._sent_reset = True
            self.state = State.LOGON_SENT
            body: list[tuple[int, object]] = [(98, b"0"), (108, self.config.heartbeat_s)]
            if self._sent_reset:
                body.append((141, Y))
            if self.config.authenticates:
                body += [(553, self.config.username), (554, self.config.password)]
            self._send(b"A", body, now_ns)
        else:
            self.state = State.AWAITING_LOGON
        return self._take()

    def on_bytes(self, data: bytes, now_ns: int) -> Actions:
        """Bytes from the counterparty; never raises on any content."""
        if self.state is State.DISCONNECTED:
            return self._take()
        self._busy = True
        try:
            self._feed(data, now_ns)
        finally:
            self._busy = False
        return self._take()

    def _feed(self, data: bytes, now_ns: int) -> None:
        for item in self.framer.feed(data):
            if isinstance(item, Garbled):
                self.counters["garbled"] += 1
                self._event(now_ns, "garbled", item.reason)
                if not self.logged_on and self.state is not State.LOGON_SENT:
                    self._disconnect(now_ns, "garbled message before Logon")
            else:
                self._next(item, now_ns)
                self.recovery.drain_queue(now_ns)
            if self.state is State.DISCONNECTED:
                break

    def on_timer(self, now_ns: int) -> Actions:
        """Heartbeats, test requests and timeouts, all measured on ``now_ns``."""
        state = self.state
        if state in (State.AWAITING_LOGON, State.LOGON_SENT, State.LOGOUT_SENT):
            if now_ns >= self._deadline:
                self._disconnect(now_ns, f"timed out in state {state.value}")
        elif state is State.ACTIVE and self.heartbeat_ns > 0:
            self.recovery.check_resend_progress(now_ns)
            since_received = now_ns - self._last_received
            if since_received * 10 >= 24 * self.heartbeat_ns:
                self._disconnect(now_ns, "no data received within 2.4 heartbeat intervals")
            elif since_received * 10 >= 12 * (self._test_requests + 1) * self.heartbeat_ns:
                self._send(b"1", [(112, b"TEST")], now_ns)
                self._test_requests += 1
            elif self._test_requests == 0 and now_ns - self._last_sent >= self.heartbeat_ns:
                self._send(b"0", [], now_ns)
        return self._take()

    def send(
        self,
        msg_type: bytes,
        body: list[tuple[int, object]],
        now_ns: int,
        header: Sequence[tuple[int, object]] = (),
    ) -> Actions:
        """Send an application message; it is stored (and later resent) even when offline.

        Called from inside an ``Application`` callback, the bytes join the
        actions of the call being processed (returned empty here).
        """
        self._send(msg_type, body, now_ns, list(header))
        return Actions() if self._busy else self._take()

    def logout(self, now_ns: int, text: str = "") -> Actions:
        if self.state is State.ACTIVE:
            self._initiate_logout(now_ns, text)
        return self._take()

    def disconnected(self, now_ns: int) -> Actions:
        """The transport closed (either side)."""
        if self.state is not State.DISCONNECTED:
            self._event(now_ns, "disconnected", "transport closed")
        self._reset_connection_state()
        return self._take()

    # ---------------------------------------------------------------- dispatch
    def _next(self, msg: FixMessage, now: int) -> None:
        msg_type = msg.msg_type
        if not self.logged_on and msg_type != b"A":
            text = (msg.get(58) or b"").decode("latin-1")
            if msg_type == b"5":  # our Logon refused; say why
                self._disconnect(now, f"Logon refused by counterparty: {text or 'no reason'}")
            else:
                self._disconnect(now, f"first message is MsgType {msg_type!r}, not Logon")
            return
        if msg.get(8) != self.begin:
            if not self.logged_on:
                self._disconnect(now, "Logon with an unexpected BeginString")
            elif msg_type == b"5":
                self.admin.next_logout(msg, now)
            else:
                self._initiate_logout(now, "Incorrect BeginString")
                self._incr_target()
            return
        for tag in (49, 56):
            if tag not in msg:
                self._reject_or_disconnect(msg, now, dd.Rejection(dd.REQUIRED_TAG_MISSING, tag))
                return
        if self.config.validate:
            fields = msg.fields[2:-1]
            check_values = self.config.check_fields_have_values
            if not self.dictionary.quick_valid(fields, check_values):
                parsed = self.dictionary.split(fields)
                problem = self.dictionary.validate(fields, parsed, check_values)
                if problem is not None:
                    self._reject_or_disconnect(msg, now, problem)
                    return
        handler = _HANDLERS.get(msg_type)
        if handler is not None:
            handler(self, msg, now)
        else:
            self._next_app(msg, now)

    def _reject_or_disconnect(self, msg: FixMessage, now: int, problem: dd.Rejection) -> None:
        if not self.logged_on:
            self._disconnect(now, f"invalid Logon: {problem.text} ({problem.tag})")
        else:
            self._reject(msg, now, problem.reason, problem.tag)

    def _verify(
        self, msg: FixMessage, now: int, too_high: bool = True, too_low: bool = True
    ) -> bool:
        try:
            sending = parse_ns(msg.get(52, b"") or b"")
        except BadInput:
            sending = None
        if sending is None or abs(now - sending) > self.config.max_latency_s * NS:
            if not self.logged_on:
                self._disconnect(now, "Logon SendingTime outside the allowed latency")
            else:
                self._reject(msg, now, dd.SENDING_TIME_ACCURACY, None)
                self._initiate_logout(now, "")
            return False
        if msg.get(49) != self.target or msg.get(56) != self.sender:
            if not self.logged_on:
                self._disconnect(now, "Logon with wrong CompIDs")
            else:
                self._reject(msg, now, dd.COMPID_PROBLEM, None)
                self._initiate_logout(now, "")
            return False
        seq = msg.seq_num
        if seq is None:
            self._disconnect(now, "MsgSeqNum missing or not a number")
            return False
        expected = self.store.next_target_seq
        if too_high and seq > expected:
            self.recovery.target_too_high(msg, seq, now)
            return False
        if too_low and seq < expected:
            self.recovery.target_too_low(msg, seq, expected, now)
            return False
        if (too_high or too_low) and self._resend_range and seq >= self._resend_range[1]:
            self._event(now, "resend_complete", f"resend of {self._resend_range} satisfied")
            self._resend_range = None
        self._last_received = now
        self._test_requests = 0
        return True

    # ---------------------------------------------------------------- admin handlers

    def _next_app(self, msg: FixMessage, now: int) -> None:
        if not self._verify(msg, now):
            return
        self.counters["app_received"] += 1
        if self.application is None:
            self._out.app.append(msg)
            self._incr_target()
            return
        try:
            self.application.on_message(msg, self, now)
        except UnsupportedMessageType:
            self._business_reject(msg, now, 3, None)
        except BusinessReject as exc:
            self._business_reject(msg, now, exc.reason, exc.tag)
        else:
            self._incr_target()

    # ---------------------------------------------------------------- outputs

    def _send(
        self,
        msg_type: bytes,
        body: list[tuple[int, object]],
        now: int,
        header: list[tuple[int, object]] | None = None,
        seq: int | None = None,
    ) -> None:
        resend = seq is not None
        if seq is None:
            seq = self.store.next_sender_seq
        head: list[tuple[int, object]] = [
            (34, seq),
            (49, self.sender),
            (52, format_ns(now)),
            (56, self.target),
        ]
        if header:
            head.extend(header)
            head.sort(key=lambda f: f[0])
        raw = encode(self.begin, [(35, msg_type), *head, *body])
        if not resend:
            self.store.save_sent(seq, raw)
            self.store.set_next_sender_seq(seq + 1)
        # Application messages sent while offline stay in the store; the
        # counterparty's ResendRequest after the next Logon recovers them.
        if self.state is not State.DISCONNECTED and (self.logged_on or msg_type in (b"A", b"5")):
            self._out.send.append(raw)
            self._last_sent = now

    def _reverse_route(self, msg: FixMessage) -> list[tuple[int, object]]:
        header: list[tuple[int, object]] = []
        for source, dest in REVERSE_ROUTE:
            value = msg.get(source)
            if value:
                header.append((dest, value))
        return header

    def _reject(self, msg: FixMessage, now: int, reason: int, tag: int | None) -> None:
        """Session-level Reject (3) with QuickFIX's field choice and wording."""
        body: list[tuple[int, object]] = []
        ref_seq = msg.get(34)
        if ref_seq:
            body.append((45, ref_seq))
        text = dd.REJECT_TEXT.get(reason, "Other")
        if tag is not None or reason == dd.INVALID_TAG_NUMBER:
            body.append((58, text))
            body.append((371, tag if tag is not None else 0))
        else:
            body.append((58, text))
        msg_type = msg.msg_type
        if msg_type:
            body.append((372, msg_type))
        if self.begin > b"FIX.4.2" or reason <= dd.INVALID_MSGTYPE:
            body.append((373, reason))
        body.sort(key=lambda f: f[0])
        if msg_type not in (b"A", b"4") and msg.seq_num == self.store.next_target_seq:
            self._incr_target()
        self.counters["rejects_sent"] += 1
        self._send(b"3", body, now, self._reverse_route(msg))

    def _business_reject(self, msg: FixMessage, now: int, reason: int, tag: int | None) -> None:
        text = BUSINESS_REJECT_TEXT.get(reason, "Other")
        if tag is not None:
            text = f"{text} ({tag})"
        body: list[tuple[int, object]] = [
            (45, msg.get(34, b"0")),
            (58, text),
            (372, msg.msg_type),
            (380, reason),
        ]
        if msg.seq_num == self.store.next_target_seq:
            self._incr_target()
        self.counters["rejects_sent"] += 1
        self._send(b"j", body, now, self._reverse_route(msg))

    def _initiate_logout(self, now: int, text: str) -> None:
        self._send(b"5", [(58, text)] if text else [], now)
        self.state = State.LOGOUT_SENT
        self._deadline = now + int(self.config.logout_timeout_s * NS)

    # ---------------------------------------------------------------- helpers
    def _incr_target(self) -> None:
        self.store.set_next_target_seq(self.store.next_target_seq + 1)

    def _event(self, now: int, kind: str, text: str) -> None:
        self._out.events.append(SessionEvent(now, kind, text))

    def _disconnect(self, now: int, reason: str) -> None:
        self._event(now, "disconnect", reason)
        self._out.disconnect = True
        self._reset_connection_state()

    def _reset_connection_state(self) -> None:
        self.state = State.DISCONNECTED
        self.framer.clear()
        self._queue.clear()
        self._resend_range = None
        self._test_requests = 0
        self._sent_reset = False

    def _take(self) -> Actions:
        out, self._out = self._out, Actions()
        return out


# MsgType → the admin rule that handles it; anything else is the application's.
_HANDLERS: dict[bytes, Callable[[Session, FixMessage, int], None]] = {
    b"A": lambda s, msg, now: s.admin.next_logon(msg, now),
    b"0": lambda s, msg, now: s.admin.next_heartbeat(msg, now),
    b"1": lambda s, msg, now: s.admin.next_test_request(msg, now),
    b"2": lambda s, msg, now: s.recovery.next_resend_request(msg, now),
    b"3": lambda s, msg, now: s.admin.next_reject(msg, now),
    b"4": lambda s, msg, now: s.recovery.next_sequence_reset(msg, now),
    b"5": lambda s, msg, now: s.admin.next_logout(msg, now),
}
