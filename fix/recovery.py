"""Sequence-gap rules of the FIX session: ResendRequest both ways, SequenceReset, the queue.

Split from the state machine so everything about a gap (detecting it, asking
for and answering resends, gap fills, PossDup, the out-of-order queue) is one
room; the rules follow QuickFIX's ``Session``, as the rest of the machine does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import BadInput
from fix import dictionary as dd
from fix.framing import FixMessage, parse
from fix.session_types import (
    RESEND_PAGE,
    State,
    Y,
)
from fix.timefmt import format_ns, parse_ns

if TYPE_CHECKING:
    from fix.session import Session


class GapRecovery:
    """Sequence gaps, both ways: asking for a resend, answering one, SequenceReset, the queue.

    Holds no state of its own: the queue, the resend range and the counters stay
    on the ``Session`` (which the other rules read too); these are the rules.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def check_resend_progress(self, now: int) -> None:
        """Ask again when an outstanding gap has not moved for two heartbeat intervals.

        A lost or ignored ResendRequest would otherwise leave messages queued
        until the next reconnect (QuickFIX waits); asking again is harmless,
        duplicates are dropped by sequence number.
        """
        if self.session._resend_range is None:
            return
        expected = self.session.store.next_target_seq
        if expected != self.session._resend_progress:
            self.session._resend_progress, self.session._resend_at = expected, now
        elif now - self.session._resend_at >= 2 * self.session.heartbeat_ns:
            self.session._event(now, "resend_retry", f"gap at {expected} not filled; asking again")
            self.request_resend(expected, now)

    def drain_queue(self, now: int) -> None:
        queue = self.session._queue
        while queue and self.session.state is not State.DISCONNECTED:
            expected = self.session.store.next_target_seq
            while queue and queue.keys()[0] < expected:  # overtaken by a SequenceReset
                queue.popitem(0)
            queued = queue.pop(expected, None)
            if queued is None:
                return
            msg = FixMessage(parse(queued), queued) if isinstance(queued, bytes) else queued
            if msg.msg_type in (b"A", b"2"):
                self.session._incr_target()
            else:
                self.session._next(msg, now)

    def target_too_high(self, msg: FixMessage, seq: int, now: int) -> None:
        expected = self.session.store.next_target_seq
        self.session._event(
            now, "gap", f"MsgSeqNum too high, expecting {expected} but received {seq}"
        )
        if (
            seq not in self.session._queue
            and len(self.session._queue) >= self.session.config.max_queued
        ):
            # Bounded memory, as QuickFIX: forget what is queued (the counterparty
            # resends all of it) and ask again from the gap.
            self.session._event(
                now,
                "queue_overflow",
                f"{len(self.session._queue)} out-of-order messages queued (limit"
                f" {self.session.config.max_queued}): dropped; resend requested from {expected}",
            )
            self.session._queue.clear()
            self.request_resend(expected, now)
            self.session._resend_range = (expected, seq)
            return
        self.session._queue[seq] = msg.raw or msg
        if self.session._resend_range is not None and seq >= self.session._resend_range[0]:
            return
        self.request_resend(expected, now)
        self.session._resend_range = (expected, seq - 1)

    def request_resend(self, begin: int, now: int) -> None:
        end = 0 if self.session.begin >= b"FIX.4.2" else 999999
        self.session._send(b"2", [(7, begin), (16, end)], now)
        self.session._resend_at = now
        self.session._resend_progress = begin

    def target_too_low(self, msg: FixMessage, seq: int, expected: int, now: int) -> None:
        if msg.get(43) != Y:
            text = f"MsgSeqNum too low, expecting {expected} but received {seq}"
            self.session._send(b"5", [(58, text)], now)
            self.session._disconnect(now, text)
            return
        if msg.msg_type != b"4":
            orig = msg.get(122)
            if orig is None:
                self.session._reject(msg, now, dd.REQUIRED_TAG_MISSING, 122)
                return
            try:
                late = parse_ns(orig) > parse_ns(msg.get(52, b"") or b"")
            except BadInput:
                late = True
            if late:
                self.session._reject(msg, now, dd.SENDING_TIME_ACCURACY, None)
                self.session._initiate_logout(now, "")
                return
        self.session._event(now, "duplicate", f"PossDup message {seq} already received; ignored")

    def resend(self, begin: int, end: int, now: int) -> None:
        gap_start: int | None = None
        stored: dict[int, bytes] = {}
        for seq in range(begin, end + 1):
            if (seq - begin) % RESEND_PAGE == 0:  # a page at a time: never the whole store
                stored = dict(self.session.store.sent_range(seq, min(end, seq + RESEND_PAGE - 1)))
            raw = stored.get(seq)
            fields = parse(raw) if raw is not None else None
            if fields is None or len(fields) < 4 or self.session.dictionary.is_admin(fields[2][1]):
                if gap_start is None:
                    gap_start = seq
                continue
            if gap_start is not None:
                self.gap_fill(gap_start, seq, now)
                gap_start = None
            header: list[tuple[int, object]] = [(43, Y)]
            body: list[tuple[int, object]] = []
            for tag, value in fields[3:-1]:
                if tag in (34, 43, 49, 56, 122):
                    continue
                if tag == 52:
                    header.append((122, value))
                elif tag in self.session.dictionary.header_tags:
                    header.append((tag, value))
                else:
                    body.append((tag, value))
            self.session._send(fields[2][1], body, now, header, seq=seq)
        if gap_start is not None:
            self.gap_fill(gap_start, end + 1, now)

    def gap_fill(self, seq: int, new_seq: int, now: int) -> None:
        header: list[tuple[int, object]] = [(43, Y), (122, format_ns(now))]
        self.session._send(b"4", [(36, new_seq), (123, Y)], now, header, seq=seq)

    def next_sequence_reset(self, msg: FixMessage, now: int) -> None:
        gap_fill = msg.get(123) == Y
        if not self.session._verify(msg, now, too_high=gap_fill, too_low=gap_fill):
            return
        new_seq = msg.get(36) or b""
        if not new_seq.isdigit():
            self.session._reject(msg, now, dd.INCORRECT_DATA_FORMAT, 36)
            return
        target = int(new_seq)
        expected = self.session.store.next_target_seq
        if target > expected:
            self.session.store.set_next_target_seq(target)
        elif target < expected:
            self.session._reject(msg, now, dd.VALUE_INCORRECT, None)

    def next_resend_request(self, msg: FixMessage, now: int) -> None:
        if not self.session._verify(msg, now, too_high=False, too_low=False):
            return
        begin = int(msg.get(7, b"0") or 0)
        end = int(msg.get(16, b"0") or 0)
        last = self.session.store.next_sender_seq - 1
        if end == 0 or end == 999999 or end > last:
            end = last
        self.resend(begin, end, now)
        seq = msg.seq_num or 0
        if seq == self.session.store.next_target_seq:
            self.session._incr_target()
