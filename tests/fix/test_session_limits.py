"""Bounded FIX memory: the out-of-order queue's limit, paged resends from the
store, and a restart that answers a ResendRequest from SQLite (issue 15).

The RSS figures (100,000 out-of-order messages, a 300,000-message session)
are measured by ``benchmarks/fix_memory.py``; here the bounds are checked
structurally, so they hold on any machine.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fix.session import RESEND_PAGE, Session
from fix.store import MemoryStore, SqliteStore
from fix.timefmt import format_ns
from tests.fix.helpers import T0, S, initiator, logged_on_acceptor, msg, order, sent


def _app(seq: int, poss_dup: bool = False) -> bytes:
    header = [(43, b"Y"), (122, format_ns(T0 - S))] if poss_dup else []
    return msg(b"D", seq, T0, order(f"C{seq}", T0), header)


def _resend_begins(out: list) -> list[int]:  # type: ignore[type-arg]
    return [int(m.get(7)) for m in out if m.msg_type == b"2"]


def test_queue_never_exceeds_its_limit_and_overflow_asks_again_from_the_gap() -> None:
    session = logged_on_acceptor(max_queued=50)
    begins: list[int] = []
    for seq in range(10, 510):  # 2..9 missing: every message is out of order
        out = session.on_bytes(_app(seq), T0)
        assert len(session._queue) <= 50
        assert out.app == []
        begins += _resend_begins(sent(out))
        if seq == 10 + 50:  # the 51st: the queue is dropped, asked again from 2
            assert len(session._queue) == 0
            assert [e.kind for e in out.events] == ["gap", "queue_overflow"]
    # one request at the first gap, one per overflow (every 51 messages), all from 2
    assert begins == [2] * (1 + 500 // 51)
    assert session.store.next_target_seq == 2


@settings(max_examples=60, deadline=None)
@given(
    order_=st.permutations(list(range(2, 60))),
    keep=st.lists(st.booleans(), min_size=58, max_size=58),
    limit=st.integers(1, 20),
)
def test_any_arrival_order_delivers_each_message_once_in_order(order_, keep, limit) -> None:
    """Out of order, with losses, and a queue limit that overflows: once the
    counterparty answers the ResendRequests, every message is delivered
    exactly once and in sequence, and the queue stayed within its limit."""
    session = logged_on_acceptor(max_queued=limit)
    delivered: list[bytes] = []
    requests: list[int] = []

    def feed(raw: bytes) -> None:
        out = session.on_bytes(raw, T0)
        assert len(session._queue) <= limit
        delivered.extend(m.get(11) for m in out.app)
        requests.extend(_resend_begins(sent(out)))

    for seq, kept in zip(order_, keep, strict=True):
        if kept:
            feed(_app(seq))
    rounds = 0
    while session.store.next_target_seq < 60:  # the counterparty answers each request
        begin = requests.pop(0) if requests else session.store.next_target_seq
        for seq in range(begin, 60):
            feed(_app(seq, poss_dup=True))
        rounds += 1
        assert rounds < 200
    assert delivered == [f"C{seq}".encode() for seq in range(2, 60)]
    assert len(session._queue) == 0


class CountingStore(MemoryStore):
    """Records how many messages each ``sent_range`` call could return."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[int] = []

    def sent_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        self.spans.append(end - begin + 1)
        return super().sent_range(begin, end)


def test_a_resend_of_the_whole_session_reads_the_store_a_page_at_a_time() -> None:
    store = CountingStore()
    session = logged_on_acceptor()
    session.store = store
    store.next_sender_seq, store.next_target_seq = 2, 2
    total = RESEND_PAGE * 2 + 500
    for i in range(total):
        session.send(b"8", [(37, f"O{i}"), (17, f"E{i}")], T0)
    out = sent(session.on_bytes(msg(b"2", 2, T0, [(7, 1), (16, 0)]), T0))
    assert [m.get(17) for m in out if m.msg_type == b"8"] == [
        f"E{i}".encode() for i in range(total)
    ]
    assert store.spans and max(store.spans) <= RESEND_PAGE


@pytest.mark.parametrize("durable", [True, False])
def test_after_a_restart_a_resend_is_served_from_the_sqlite_store(tmp_path, durable) -> None:
    """3,000 orders sent, the process gone: a new session on the same file
    answers ResendRequest(1..0) with every order, PossDup=Y, from disk
    (``durable=False``, batched commits, gives the same answer after a close)."""
    path = tmp_path / "fix.sqlite"
    store = SqliteStore(path, "TW->ISLD", durable=durable)
    session = initiator(store)
    session.connect(T0)
    session.on_bytes(msg(b"A", 1, T0, [(98, 0), (108, 30)], sender=b"ISLD", target=b"TW"), T0)
    for i in range(3_000):
        session.send(b"D", order(f"O{i}", T0), T0)
    store.close()
    del session, store

    store = SqliteStore(path, "TW->ISLD")
    assert not hasattr(store, "_sent")  # only the two sequence numbers live in memory
    assert (store.next_sender_seq, store.next_target_seq) == (3_002, 2)
    revived = initiator(store)
    revived.connect(T0 + S)
    revived.on_bytes(
        msg(b"A", 2, T0 + S, [(98, 0), (108, 30)], sender=b"ISLD", target=b"TW"), T0 + S
    )
    out = sent(
        revived.on_bytes(
            msg(b"2", 3, T0 + S, [(7, 1), (16, 0)], sender=b"ISLD", target=b"TW"), T0 + S
        )
    )
    orders = [m for m in out if m.msg_type == b"D"]
    assert [m.get(11) for m in orders] == [f"O{i}".encode() for i in range(3_000)]
    assert {m.get(43) for m in orders} == {b"Y"}
    assert [m.get(34) for m in orders][:2] == [b"2", b"3"]
    gap_fills = [m for m in out if m.msg_type == b"4"]
    assert [(m.get(34), m.get(36)) for m in gap_fills] == [(b"1", b"2"), (b"3002", b"3003")]


def test_reset_is_the_end_of_retention(tmp_path) -> None:
    """Retention rule: the current sequence epoch; a reset deletes it."""
    path = tmp_path / "fix.sqlite"
    store = SqliteStore(path, "K")
    for seq in range(1, 101):
        store.save_sent(seq, msg(b"D", seq, T0, order(f"O{seq}", T0)))
    assert len(store.sent_range(1, 100)) == 100
    store.reset()
    assert store.sent_range(1, 100) == []
    store.close()


def test_session_config_refuses_a_queue_limit_below_one() -> None:
    from core.errors import BadInput
    from fix.session import SessionConfig

    with pytest.raises(BadInput, match="max_queued"):
        SessionConfig("FIX.4.4", "A", "B", initiator=False, max_queued=0)
    assert isinstance(Session(SessionConfig("FIX.4.4", "A", "B", initiator=False)), Session)
