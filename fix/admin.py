"""Admin-message rules of the FIX session: Logon, Heartbeat, TestRequest, Reject, Logout.

Split from the state machine so each session-level message's rule is one
handler here, dispatched by MsgType from ``fix.session``'s ``_HANDLERS`` table.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fix.framing import FixMessage
from fix.session_types import (
    LOGON_REJECTED,
    NS,
    State,
    Y,
)

if TYPE_CHECKING:
    from fix.session import Session


class AdminMessages:
    """The session-level messages a session answers: Logon, Heartbeat, TestRequest, Reject, Logout.

    Each handler takes a verified message and the time, and changes the
    ``Session``'s state or queues its answer in the session's ``Actions``.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def _refuses_credentials(self, msg: FixMessage) -> bool:
        """An acceptor that expects credentials, before Logon, and a wrong pair.

        Both fields compared in constant time, and both always compared, so
        neither the answer nor its timing tells which one was wrong."""
        if (
            self.session.config.initiator
            or not self.session.config.authenticates
            or self.session.logged_on
        ):
            return False
        user_ok = hmac.compare_digest(msg.get(553) or b"", self.session.config.username.encode())
        password_ok = hmac.compare_digest(
            msg.get(554) or b"", self.session.config.password.encode()
        )
        return not (user_ok & password_ok)

    def next_logon(self, msg: FixMessage, now: int) -> None:
        # Credentials are checked before anything else: a stranger's Logon must
        # not reset the session (ResetSeqNumFlag) or move its sequence numbers.
        if self._refuses_credentials(msg):
            self.session._send(b"5", [(58, LOGON_REJECTED)], now)
            self.session._disconnect(now, LOGON_REJECTED)
            return
        reset = msg.get(141) == Y
        if self.session.state is State.ACTIVE and not reset:
            self.session._event(now, "logon_ignored", "Logon while already logged on")
            return
        acceptor_resets = not self.session.config.initiator and self.session.config.reset_on_logon
        if (reset and not self.session._sent_reset) or acceptor_resets:
            self.session.store.reset()
        if not self.session._verify(msg, now, too_high=False, too_low=True):
            return
        heartbeat = msg.get(108, b"")
        if not self.session.config.initiator or (reset and not self.session._sent_reset):
            if heartbeat and heartbeat.isdigit():
                self.session.heartbeat_ns = int(heartbeat) * NS
            body: list[tuple[int, object]] = [(98, b"0"), (108, heartbeat or b"0")]
            if reset:
                body.append((141, Y))
            self.session._send(b"A", body, now)
        self.session.state = State.ACTIVE
        self.session._event(now, "logon", "session logged on")
        self.session._sent_reset = False
        seq = msg.seq_num or 0
        if seq > self.session.store.next_target_seq and not reset:
            self.session.recovery.target_too_high(msg, seq, now)
        else:
            self.session._incr_target()
        if self.session.application is not None:
            self.session.application.on_logon(self.session, now)

    def next_heartbeat(self, msg: FixMessage, now: int) -> None:
        if self.session._verify(msg, now):
            self.session._incr_target()

    def next_test_request(self, msg: FixMessage, now: int) -> None:
        if self.session._verify(msg, now):
            self.session._send(b"0", [(112, msg.get(112, b""))], now)
            self.session._incr_target()

    def next_reject(self, msg: FixMessage, now: int) -> None:
        if self.session._verify(msg, now):
            self.session._event(now, "reject_received", (msg.get(58) or b"").decode("latin-1"))
            self.session._incr_target()

    def next_logout(self, msg: FixMessage, now: int) -> None:
        if not self.session._verify(msg, now, too_high=False, too_low=False):
            return
        if self.session.state is not State.LOGOUT_SENT:
            self.session._send(b"5", [], now)
        self.session._incr_target()
        self.session._disconnect(now, "logout complete")
