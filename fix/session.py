"""FIX session layer as a sans-I/O state machine (FIX 4.2 and 4.4, both roles).

Bytes and time go in (``on_bytes(data, now_ns)``, ``on_timer(now_ns)``);
bytes to send, application messages, session events and a disconnect request
come out as ``Actions``. The session never touches a socket or a clock, so
every rule — logon, heartbeats and test requests, gap detection, resend and
gap fill, PossDup handling, rejects — is testable with exact timestamps.

The rules and their order follow QuickFIX's ``Session`` (the reference the
acceptance definitions were recorded against): validate against the data
dictionary, then verify SendingTime, CompIDs and MsgSeqNum, then dispatch.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from sortedcontainers import SortedDict

from core.errors import BadInput
from fix import dictionary as dd
from fix.framing import FixMessage, Framer, Garbled, encode, parse
from fix.store import MemoryStore, MessageStore
from fix.timefmt import format_ns, parse_ns

NS = 1_000_000_000
Y = b"Y"
MAX_QUEUED = 10_000  # out-of-order messages held while a gap is open (SessionConfig.max_queued)
RESEND_PAGE = 1_000  # messages read from the store at a time when answering a ResendRequest
# The one answer to a wrong Username/Password pair: it never says which was wrong.
LOGON_REJECTED = "Logon rejected: invalid username or password"

# BusinessRejectReason(380) and QuickFIX's Text for them.
BUSINESS_REJECT_TEXT = {
    0: "Other",
    1: "Unknown ID",
    2: "Unknown Security",
    3: "Unsupported Message Type",
    4: "Application not available",
    5: "Conditionally Required Field Missing",
}

# Reverse routing: a reply's header mirrors the request's routing tags.
_REVERSE_ROUTE = (
    (115, 128),
    (116, 129),
    (144, 145),
    (128, 115),
    (129, 116),
    (145, 144),
    (50, 57),
    (57, 50),
    (142, 143),
    (143, 142),
)


class State(StrEnum):
    DISCONNECTED = "disconnected"
    AWAITING_LOGON = "awaiting_logon"  # acceptor, connected, no Logon yet
    LOGON_SENT = "logon_sent"  # initiator, Logon sent, no reply yet
    ACTIVE = "active"
    LOGOUT_SENT = "logout_sent"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    begin_string: str
    sender_comp_id: str
    target_comp_id: str
    initiator: bool
    heartbeat_s: int = 30
    reset_on_logon: bool = False
    send_reset_seq_num: bool = False  # initiator: Logon with ResetSeqNumFlag(141)=Y
    check_fields_have_values: bool = True
    validate: bool = True
    max_latency_s: int = 120
    logout_timeout_s: float = 2.0
    logon_timeout_s: float = 10.0
    max_queued: int = MAX_QUEUED
    # Initiator: sent in Logon as Username(553)/Password(554). Acceptor: the pair
    # a Logon must carry (both empty: no check). Never shown by repr().
    username: str = ""
    password: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if type(self.max_queued) is not int or self.max_queued < 1:
            raise BadInput("max_queued", self.max_queued, "must be a positive integer")
        if (self.username or self.password) and self.begin_string < "FIX.4.3":
            raise BadInput(
                "username",
                self.username,
                f"{self.begin_string} Logon has no Username(553)/Password(554) (FIX.4.4 does)",
            )

    @property
    def authenticates(self) -> bool:
        return bool(self.username or self.password)

    @property
    def key(self) -> str:
        return f"{self.begin_string}:{self.sender_comp_id}->{self.target_comp_id}"


@dataclass(frozen=True, slots=True)
class SessionEvent:
    time_ns: int
    kind: str
    text: str


@dataclass(slots=True)
class Actions:
    """What the shell must do after a call: send bytes, hand over messages, maybe close."""

    send: list[bytes] = field(default_factory=list)
    app: list[FixMessage] = field(default_factory=list)
    events: list[SessionEvent] = field(default_factory=list)
    disconnect: bool = False

    def extend(self, other: Actions) -> None:
        self.send.extend(other.send)
        self.app.extend(other.app)
        self.events.extend(other.events)
        self.disconnect = self.disconnect or other.disconnect


class UnsupportedMessageType(Exception):
    """Raised by an application for a message type it does not handle (-> BMR 380=3)."""


class BusinessReject(Exception):
    """Raised by an application to answer a message with BusinessMessageReject (j)."""

    def __init__(self, reason: int, tag: int | None = None) -> None:
        super().__init__(BUSINESS_REJECT_TEXT.get(reason, "Other"))
        self.reason = reason
        self.tag = tag


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
                self._drain_queue(now_ns)
            if self.state is State.DISCONNECTED:
                break

    def on_timer(self, now_ns: int) -> Actions:
        """Heartbeats, test requests and timeouts, all measured on ``now_ns``."""
        state = self.state
        if state in (State.AWAITING_LOGON, State.LOGON_SENT, State.LOGOUT_SENT):
            if now_ns >= self._deadline:
                self._disconnect(now_ns, f"timed out in state {state.value}")
        elif state is State.ACTIVE and self.heartbeat_ns > 0:
            self._check_resend_progress(now_ns)
            since_received = now_ns - self._last_received
            if since_received * 10 >= 24 * self.heartbeat_ns:
                self._disconnect(now_ns, "no data received within 2.4 heartbeat intervals")
            elif since_received * 10 >= 12 * (self._test_requests + 1) * self.heartbeat_ns:
                self._send(b"1", [(112, b"TEST")], now_ns)
                self._test_requests += 1
            elif self._test_requests == 0 and now_ns - self._last_sent >= self.heartbeat_ns:
                self._send(b"0", [], now_ns)
        return self._take()

    def _check_resend_progress(self, now: int) -> None:
        """Ask again when an outstanding gap has not moved for two heartbeat intervals.

        A lost or ignored ResendRequest would otherwise leave messages queued
        until the next reconnect (QuickFIX waits); asking again is harmless,
        duplicates are dropped by sequence number.
        """
        if self._resend_range is None:
            return
        expected = self.store.next_target_seq
        if expected != self._resend_progress:
            self._resend_progress, self._resend_at = expected, now
        elif now - self._resend_at >= 2 * self.heartbeat_ns:
            self._event(now, "resend_retry", f"gap at {expected} not filled; asking again")
            self._request_resend(expected, now)

    def send(
        self,
        msg_type: bytes,
        body: list[tuple[int, object]],
        now_ns: int,
        header: list[tuple[int, object]] = (),  # type: ignore[assignment]
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
                self._next_logout(msg, now)
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

    def _drain_queue(self, now: int) -> None:
        queue = self._queue
        while queue and self.state is not State.DISCONNECTED:
            expected = self.store.next_target_seq
            while queue and queue.keys()[0] < expected:  # overtaken by a SequenceReset
                queue.popitem(0)
            queued = queue.pop(expected, None)
            if queued is None:
                return
            msg = FixMessage(parse(queued), queued) if isinstance(queued, bytes) else queued
            if msg.msg_type in (b"A", b"2"):
                self._incr_target()
            else:
                self._next(msg, now)

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
            self._target_too_high(msg, seq, now)
            return False
        if too_low and seq < expected:
            self._target_too_low(msg, seq, expected, now)
            return False
        if (too_high or too_low) and self._resend_range and seq >= self._resend_range[1]:
            self._event(now, "resend_complete", f"resend of {self._resend_range} satisfied")
            self._resend_range = None
        self._last_received = now
        self._test_requests = 0
        return True

    def _target_too_high(self, msg: FixMessage, seq: int, now: int) -> None:
        expected = self.store.next_target_seq
        self._event(now, "gap", f"MsgSeqNum too high, expecting {expected} but received {seq}")
        if seq not in self._queue and len(self._queue) >= self.config.max_queued:
            # Bounded memory, as QuickFIX: forget what is queued (the counterparty
            # resends all of it) and ask again from the gap.
            self._event(
                now,
                "queue_overflow",
                f"{len(self._queue)} out-of-order messages queued (limit"
                f" {self.config.max_queued}): dropped; resend requested from {expected}",
            )
            self._queue.clear()
            self._request_resend(expected, now)
            self._resend_range = (expected, seq)
            return
        self._queue[seq] = msg.raw or msg
        if self._resend_range is not None and seq >= self._resend_range[0]:
            return
        self._request_resend(expected, now)
        self._resend_range = (expected, seq - 1)

    def _request_resend(self, begin: int, now: int) -> None:
        end = 0 if self.begin >= b"FIX.4.2" else 999999
        self._send(b"2", [(7, begin), (16, end)], now)
        self._resend_at = now
        self._resend_progress = begin

    def _target_too_low(self, msg: FixMessage, seq: int, expected: int, now: int) -> None:
        if msg.get(43) != Y:
            text = f"MsgSeqNum too low, expecting {expected} but received {seq}"
            self._send(b"5", [(58, text)], now)
            self._disconnect(now, text)
            return
        if msg.msg_type != b"4":
            orig = msg.get(122)
            if orig is None:
                self._reject(msg, now, dd.REQUIRED_TAG_MISSING, 122)
                return
            try:
                late = parse_ns(orig) > parse_ns(msg.get(52, b"") or b"")
            except BadInput:
                late = True
            if late:
                self._reject(msg, now, dd.SENDING_TIME_ACCURACY, None)
                self._initiate_logout(now, "")
                return
        self._event(now, "duplicate", f"PossDup message {seq} already received; ignored")

    # ---------------------------------------------------------------- admin handlers
    def _refuses_credentials(self, msg: FixMessage) -> bool:
        """An acceptor that expects credentials, before Logon, and a wrong pair.

        Both fields compared in constant time, and both always compared, so
        neither the answer nor its timing tells which one was wrong."""
        if self.config.initiator or not self.config.authenticates or self.logged_on:
            return False
        user_ok = hmac.compare_digest(msg.get(553) or b"", self.config.username.encode())
        password_ok = hmac.compare_digest(msg.get(554) or b"", self.config.password.encode())
        return not (user_ok & password_ok)

    def _next_logon(self, msg: FixMessage, now: int) -> None:
        # Credentials are checked before anything else: a stranger's Logon must
        # not reset the session (ResetSeqNumFlag) or move its sequence numbers.
        if self._refuses_credentials(msg):
            self._send(b"5", [(58, LOGON_REJECTED)], now)
            self._disconnect(now, LOGON_REJECTED)
            return
        reset = msg.get(141) == Y
        if self.state is State.ACTIVE and not reset:
            self._event(now, "logon_ignored", "Logon while already logged on")
            return
        acceptor_resets = not self.config.initiator and self.config.reset_on_logon
        if (reset and not self._sent_reset) or acceptor_resets:
            self.store.reset()
        if not self._verify(msg, now, too_high=False, too_low=True):
            return
        heartbeat = msg.get(108, b"")
        if not self.config.initiator or (reset and not self._sent_reset):
            if heartbeat and heartbeat.isdigit():
                self.heartbeat_ns = int(heartbeat) * NS
            body: list[tuple[int, object]] = [(98, b"0"), (108, heartbeat or b"0")]
            if reset:
                body.append((141, Y))
            self._send(b"A", body, now)
        self.state = State.ACTIVE
        self._event(now, "logon", "session logged on")
        self._sent_reset = False
        seq = msg.seq_num or 0
        if seq > self.store.next_target_seq and not reset:
            self._target_too_high(msg, seq, now)
        else:
            self._incr_target()
        if self.application is not None:
            self.application.on_logon(self, now)

    def _next_heartbeat(self, msg: FixMessage, now: int) -> None:
        if self._verify(msg, now):
            self._incr_target()

    def _next_test_request(self, msg: FixMessage, now: int) -> None:
        if self._verify(msg, now):
            self._send(b"0", [(112, msg.get(112, b""))], now)
            self._incr_target()

    def _next_reject(self, msg: FixMessage, now: int) -> None:
        if self._verify(msg, now):
            self._event(now, "reject_received", (msg.get(58) or b"").decode("latin-1"))
            self._incr_target()

    def _next_logout(self, msg: FixMessage, now: int) -> None:
        if not self._verify(msg, now, too_high=False, too_low=False):
            return
        if self.state is not State.LOGOUT_SENT:
            self._send(b"5", [], now)
        self._incr_target()
        self._disconnect(now, "logout complete")

    def _next_sequence_reset(self, msg: FixMessage, now: int) -> None:
        gap_fill = msg.get(123) == Y
        if not self._verify(msg, now, too_high=gap_fill, too_low=gap_fill):
            return
        new_seq = msg.get(36) or b""
        if not new_seq.isdigit():
            self._reject(msg, now, dd.INCORRECT_DATA_FORMAT, 36)
            return
        target = int(new_seq)
        expected = self.store.next_target_seq
        if target > expected:
            self.store.set_next_target_seq(target)
        elif target < expected:
            self._reject(msg, now, dd.VALUE_INCORRECT, None)

    def _next_resend_request(self, msg: FixMessage, now: int) -> None:
        if not self._verify(msg, now, too_high=False, too_low=False):
            return
        begin = int(msg.get(7, b"0") or 0)
        end = int(msg.get(16, b"0") or 0)
        last = self.store.next_sender_seq - 1
        if end == 0 or end == 999999 or end > last:
            end = last
        self._resend(begin, end, now)
        seq = msg.seq_num or 0
        if seq == self.store.next_target_seq:
            self._incr_target()

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
    def _resend(self, begin: int, end: int, now: int) -> None:
        gap_start: int | None = None
        stored: dict[int, bytes] = {}
        for seq in range(begin, end + 1):
            if (seq - begin) % RESEND_PAGE == 0:  # a page at a time: never the whole store
                stored = dict(self.store.sent_range(seq, min(end, seq + RESEND_PAGE - 1)))
            raw = stored.get(seq)
            fields = parse(raw) if raw is not None else None
            if fields is None or len(fields) < 4 or self.dictionary.is_admin(fields[2][1]):
                if gap_start is None:
                    gap_start = seq
                continue
            if gap_start is not None:
                self._gap_fill(gap_start, seq, now)
                gap_start = None
            header: list[tuple[int, object]] = [(43, Y)]
            body: list[tuple[int, object]] = []
            for tag, value in fields[3:-1]:
                if tag in (34, 43, 49, 56, 122):
                    continue
                if tag == 52:
                    header.append((122, value))
                elif tag in self.dictionary.header_tags:
                    header.append((tag, value))
                else:
                    body.append((tag, value))
            self._send(fields[2][1], body, now, header, seq=seq)
        if gap_start is not None:
            self._gap_fill(gap_start, end + 1, now)

    def _gap_fill(self, seq: int, new_seq: int, now: int) -> None:
        header: list[tuple[int, object]] = [(43, Y), (122, format_ns(now))]
        self._send(b"4", [(36, new_seq), (123, Y)], now, header, seq=seq)

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
        for source, dest in _REVERSE_ROUTE:
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


_HANDLERS = {
    b"A": Session._next_logon,
    b"0": Session._next_heartbeat,
    b"1": Session._next_test_request,
    b"2": Session._next_resend_request,
    b"3": Session._next_reject,
    b"4": Session._next_sequence_reset,
    b"5": Session._next_logout,
}
