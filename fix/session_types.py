"""The FIX session's vocabulary: its states, configuration, events, outputs and errors.

Kept apart from the state machine (``fix.session``) so the shells that drive a
session (transport, gateway adapter, stand-in) and its helpers (``fix.admin``,
``fix.recovery``) share these types without importing the machine itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.errors import BadInput
from fix.framing import FixMessage

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
REVERSE_ROUTE = (
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
