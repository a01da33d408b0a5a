"""Sans-I/O session: logon, clock-driven heartbeats, recovery, rejects, persistence."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from fix.session import Session, SessionConfig, State
from fix.store import MemoryStore, SqliteStore
from fix.timefmt import format_ns
from tests.fix.helpers import (
    T0,
    S,
    acceptor,
    initiator,
    logged_on_acceptor,
    msg,
    order,
    sent,
)


def test_acceptor_answers_logon_with_same_heartbeat_interval() -> None:
    session = acceptor()
    session.connect(T0)
    out = sent(session.on_bytes(msg(b"A", 1, T0, [(98, 0), (108, 7)]), T0))
    assert [(m.msg_type, m.get(34), m.get(108)) for m in out] == [(b"A", b"1", b"7")]
    assert session.state is State.ACTIVE
    assert session.store.next_target_seq == 2


def test_first_message_not_logon_disconnects_silently() -> None:
    session = acceptor()
    session.connect(T0)
    actions = session.on_bytes(msg(b"0", 1, T0), T0)
    assert actions.disconnect and actions.send == []


def test_heartbeat_test_request_and_timeout_follow_the_injected_clock() -> None:
    session = logged_on_acceptor()
    assert sent(session.on_timer(T0 + 29 * S)) == []
    heartbeat = sent(session.on_timer(T0 + 30 * S))
    assert [m.msg_type for m in heartbeat] == [b"0"]
    test_request = sent(session.on_timer(T0 + 36 * S))
    assert [(m.msg_type, m.get(112)) for m in test_request] == [(b"1", b"TEST")]
    assert not session.on_timer(T0 + 71 * S).disconnect
    assert session.on_timer(T0 + 72 * S).disconnect


def test_incoming_message_resets_the_test_request_clock() -> None:
    session = logged_on_acceptor()
    session.on_bytes(msg(b"0", 2, T0 + 35 * S), T0 + 35 * S)
    out = sent(session.on_timer(T0 + 40 * S))
    assert [m.msg_type for m in out] == [b"0"]  # our heartbeat is due, no TestRequest


def test_test_request_is_answered_with_its_id() -> None:
    session = logged_on_acceptor()
    out = sent(session.on_bytes(msg(b"1", 2, T0, [(112, b"abc")]), T0))
    assert [(m.msg_type, m.get(112)) for m in out] == [(b"0", b"abc")]


def test_gap_triggers_resend_request_and_queued_messages_replay_in_order() -> None:
    session = logged_on_acceptor()
    out = session.on_bytes(msg(b"D", 4, T0, order("C", T0)), T0)
    assert [(m.msg_type, m.get(7), m.get(16)) for m in sent(out)] == [(b"2", b"2", b"0")]
    assert out.app == []
    out = session.on_bytes(msg(b"D", 2, T0, order("A", T0)), T0)
    assert [m.get(11) for m in out.app] == [b"A"]
    out = session.on_bytes(msg(b"D", 3, T0, order("B", T0)), T0)
    assert [m.get(11) for m in out.app] == [b"B", b"C"]
    assert session.store.next_target_seq == 5


def test_resend_request_gap_fills_admin_and_resends_app_with_possdup() -> None:
    session = logged_on_acceptor()
    session.send(b"8", [(37, b"O1"), (17, b"E1")], T0 + S)  # seq 2
    session.on_bytes(msg(b"1", 2, T0 + 2 * S, [(112, b"x")]), T0 + 2 * S)  # our HB seq 3
    session.send(b"8", [(37, b"O2"), (17, b"E2")], T0 + 3 * S)  # seq 4
    out = sent(session.on_bytes(msg(b"2", 3, T0 + 5 * S, [(7, 1), (16, 0)]), T0 + 5 * S))
    summary = [(m.msg_type, m.get(34), m.get(43), m.get(36), m.get(17)) for m in out]
    assert summary == [
        (b"4", b"1", b"Y", b"2", None),
        (b"8", b"2", b"Y", None, b"E1"),
        (b"4", b"3", b"Y", b"4", None),
        (b"8", b"4", b"Y", None, b"E2"),
    ]
    assert out[1].get(122) == format_ns(T0 + S)
    assert out[1].get(52) == format_ns(T0 + 5 * S)
    assert session.store.next_sender_seq == 5


def test_possdup_duplicate_is_ignored_and_plain_duplicate_logs_out() -> None:
    session = logged_on_acceptor()
    session.on_bytes(msg(b"D", 2, T0, order("A", T0)), T0)
    dup = msg(b"D", 2, T0, order("A", T0), [(43, b"Y"), (122, format_ns(T0 - S))])
    out = session.on_bytes(dup, T0)
    assert out.app == [] and out.send == [] and not out.disconnect
    out = session.on_bytes(msg(b"D", 2, T0, order("A", T0)), T0)
    logout = sent(out)
    assert [m.msg_type for m in logout] == [b"5"]
    assert logout[0].get(58) == b"MsgSeqNum too low, expecting 3 but received 2"
    assert out.disconnect


def test_sequence_reset_gap_fill_and_reset_modes() -> None:
    session = logged_on_acceptor()
    session.on_bytes(msg(b"4", 2, T0, [(36, 10), (123, b"Y")]), T0)
    assert session.store.next_target_seq == 10
    session.on_bytes(msg(b"4", 0, T0, [(36, 20)]), T0)
    assert session.store.next_target_seq == 20
    out = sent(session.on_bytes(msg(b"4", 0, T0, [(36, 5)]), T0))
    assert [(m.msg_type, m.get(373)) for m in out] == [(b"3", b"5")]


def test_rejects_carry_reason_codes_and_ref_fields() -> None:
    session = logged_on_acceptor()
    cases = [
        (msg(b"0", 2, T0, [(999, b"x")]), (b"0", b"999")),  # invalid tag
        (msg(b"D", 3, T0, order("A", T0)[1:]), (b"1", b"11")),  # required missing
        (msg(b"D", 4, T0, [*order("A", T0)[:1], (21, b"9"), *order("A", T0)[2:]]), (b"5", b"21")),
        (msg(b"D", 5, T0, [*order("A", T0)[:2], (38, b"1,5"), *order("A", T0)[3:]]), (b"6", b"38")),
        (msg(b"0", 6, T0, [(55, b"X")]), (b"2", b"55")),  # not in message
        (msg(b"0", 7, T0 - 200 * S), (b"10", None)),  # sending time
    ]
    for raw, (reason, ref_tag) in cases:
        out = sent(session.on_bytes(raw, T0))
        assert (out[0].msg_type, out[0].get(373), out[0].get(371)) == (b"3", reason, ref_tag)
    assert session.counters["rejects_sent"] == len(cases)


def test_business_reject_for_unsupported_application_message() -> None:
    class Refuser:
        def on_logon(self, session: Session, now_ns: int) -> None:
            return None

        def on_message(self, message, session: Session, now_ns: int) -> None:
            from fix.session import UnsupportedMessageType

            raise UnsupportedMessageType(message.msg_type)

    session = acceptor()
    session.application = Refuser()
    session.connect(T0)
    session.on_bytes(msg(b"A", 1, T0, [(98, 0), (108, 30)]), T0)
    out = sent(session.on_bytes(msg(b"D", 2, T0, order("A", T0)), T0))
    assert [(m.msg_type, m.get(380), m.get(372)) for m in out] == [(b"j", b"3", b"D")]
    assert session.store.next_target_seq == 3


def test_wrong_comp_id_is_rejected_then_logged_out() -> None:
    session = logged_on_acceptor()
    out = sent(session.on_bytes(msg(b"0", 2, T0, sender=b"XX"), T0))
    assert [(m.msg_type, m.get(373)) for m in out] == [(b"3", b"9"), (b"5", None)]
    assert session.state is State.LOGOUT_SENT
    assert session.on_timer(T0 + 3 * S).disconnect


def test_garbled_message_after_logon_is_ignored_and_counted() -> None:
    session = logged_on_acceptor()
    good = msg(b"0", 2, T0)
    bad = good.replace(b"35=0", b"35=1")  # checksum now wrong
    out = session.on_bytes(bad + good, T0)
    assert not out.disconnect and session.counters["garbled"] == 1
    assert session.store.next_target_seq == 3


def test_initiator_logon_reset_and_fix42() -> None:
    config = SessionConfig("FIX.4.2", "TW", "ISLD", initiator=True, send_reset_seq_num=True)
    session = Session(config, MemoryStore())
    out = sent(session.connect(T0))
    assert [(m.get(8), m.msg_type, m.get(141)) for m in out] == [(b"FIX.4.2", b"A", b"Y")]
    reply = msg(
        b"A",
        1,
        T0,
        [(98, 0), (108, 30), (141, b"Y")],
        sender=b"ISLD",
        target=b"TW",
        begin=b"FIX.4.2",
    )
    session.on_bytes(reply, T0)
    assert session.state is State.ACTIVE


def test_restart_resumes_sequence_numbers_and_resends_from_sqlite(tmp_path) -> None:
    path = tmp_path / "fix.sqlite"
    store = SqliteStore(path, "TW->ISLD")
    session = initiator(store)
    session.connect(T0)
    session.on_bytes(msg(b"A", 1, T0, [(98, 0), (108, 30)], sender=b"ISLD", target=b"TW"), T0)
    session.send(b"D", order("A", T0), T0)
    store.close()

    store = SqliteStore(path, "TW->ISLD")
    assert (store.next_sender_seq, store.next_target_seq) == (3, 2)
    revived = initiator(store)
    out = sent(revived.connect(T0 + S))
    assert [(m.msg_type, m.get(34)) for m in out] == [(b"A", b"3")]
    revived.on_bytes(
        msg(b"A", 2, T0 + S, [(98, 0), (108, 30)], sender=b"ISLD", target=b"TW"), T0 + S
    )
    again = sent(
        revived.on_bytes(
            msg(b"2", 3, T0 + S, [(7, 2), (16, 2)], sender=b"ISLD", target=b"TW"), T0 + S
        )
    )
    assert [(m.msg_type, m.get(11), m.get(43)) for m in again] == [(b"D", b"A", b"Y")]


@settings(max_examples=100, deadline=None)
@given(noise=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_out_of_a_session(noise) -> None:
    session = logged_on_acceptor()
    session.on_bytes(noise, T0)  # rejects, ignores or disconnects; never raises
    fresh = acceptor()
    fresh.connect(T0)
    fresh.on_bytes(noise, T0)  # before Logon: disconnect or wait, never raise


@settings(max_examples=100, deadline=None)
@given(noise=st.binary(min_size=1, max_size=300).filter(lambda b: b"8=FIX" not in b))
def test_line_noise_never_loses_the_message_behind_it(noise) -> None:
    session = logged_on_acceptor()
    probe = msg(b"1", 2, T0, [(112, b"probe")])
    out = sent(session.on_bytes(noise + probe, T0))
    assert [(m.msg_type, m.get(112)) for m in out] == [(b"0", b"probe")]
    assert session.counters["garbled"] >= 1 and session.state is State.ACTIVE


def test_router_refuses_garbage_and_unknown_sessions() -> None:
    from fix.router import AcceptorRouter

    router = AcceptorRouter([acceptor()])
    router.connected(1)
    assert router.on_bytes(1, b"8=FIX.4.4\x019=5\x01garbage\x0110=000\x01", T0).disconnect
    router.connected(2)
    stranger = msg(b"A", 1, T0, [(98, 0), (108, 30)], sender=b"WHO")
    assert router.on_bytes(2, stranger, T0).disconnect
    router.connected(3)
    logon = msg(b"A", 1, T0, [(98, 0), (108, 30)])
    out = router.on_bytes(3, b"noise" + logon[:10], T0)
    assert not out.disconnect and out.send == []
    out = router.on_bytes(3, logon[10:], T0)
    assert [m.msg_type for m in sent(out)] == [b"A"]
    router.connected(4)
    assert router.on_bytes(4, logon, T0).disconnect  # already connected elsewhere
    router.connected(5, T0)  # a silent connection is closed after the timeout
    assert router.on_timer(T0 + 9 * S) == {}
    assert router.on_timer(T0 + 10 * S)[5].disconnect
    assert router.refused == 4


# ---------------------------------------------------------------- lossy channel


class Channel:
    """Two sessions joined by an unreliable message pipe, on one manual clock."""

    def __init__(self, rng: random.Random, loss: float, dup: float, swap: float) -> None:
        self.rng = rng
        self.loss, self.dup, self.swap = loss, dup, swap
        self.now = T0
        self.ini = initiator(heartbeat_s=5)
        self.acc = acceptor(heartbeat_s=5)
        self.pipes: dict[str, list[bytes]] = {"ini": [], "acc": []}
        self.received: dict[str, list[bytes]] = {"ini": [], "acc": []}
        self.connected = False
        self.unreliable = True

    def side(self, name: str) -> Session:
        return self.ini if name == "ini" else self.acc

    def apply(self, source: str, actions) -> None:
        dest = "acc" if source == "ini" else "ini"
        self.received[source].extend(m.get(11) for m in actions.app)
        for raw in actions.send:
            self.pipes[dest].append(raw)
        if actions.disconnect:
            self.drop_connection()

    def drop_connection(self) -> None:
        if not self.connected:
            return
        self.connected = False
        self.pipes = {"ini": [], "acc": []}
        for name in ("ini", "acc"):
            self.apply(name, self.side(name).disconnected(self.now))

    def connect(self) -> None:
        self.connected = True
        self.apply("acc", self.acc.connect(self.now))
        self.apply("ini", self.ini.connect(self.now))

    def deliver_one(self, dest: str) -> None:
        pipe = self.pipes[dest]
        if not pipe:
            return
        if self.unreliable and len(pipe) > 1 and self.rng.random() < self.swap:
            pipe[0], pipe[1] = pipe[1], pipe[0]
        raw = pipe.pop(0)
        if self.unreliable and self.rng.random() < self.loss:
            return
        if self.unreliable and self.rng.random() < self.dup:
            pipe.insert(0, raw)
        self.apply(dest, self.side(dest).on_bytes(raw, self.now))

    def tick(self, seconds: float) -> None:
        self.now += int(seconds * S)
        for name in ("ini", "acc"):
            self.apply(name, self.side(name).on_timer(self.now))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    loss=st.sampled_from([0.0, 0.05, 0.15]),
    dup=st.sampled_from([0.0, 0.05, 0.15]),
    swap=st.sampled_from([0.0, 0.1]),
    drops=st.sampled_from([0.0, 0.01, 0.03]),
)
def test_lossy_duplicating_reordering_channel_delivers_exactly_once_in_order(
    seed, loss, dup, swap, drops
) -> None:
    rng = random.Random(seed)
    channel = Channel(rng, loss, dup, swap)
    sent_ids: dict[str, list[bytes]] = {"ini": [], "acc": []}
    counter = 0
    for _ in range(400):
        if not channel.connected and rng.random() < 0.3:
            channel.connect()
        roll = rng.random()
        if roll < 0.15:
            name = rng.choice(["ini", "acc"])
            counter += 1
            cl_ord_id = f"{name}-{counter}".encode()
            sent_ids[name].append(cl_ord_id)
            channel.apply(
                name,
                channel.side(name).send(b"D", order(cl_ord_id.decode(), channel.now), channel.now),
            )
        elif roll < 0.75:
            channel.deliver_one(rng.choice(["ini", "acc"]))
        elif roll < 0.75 + drops:
            channel.drop_connection()
        else:
            channel.tick(rng.uniform(0, 3))
    # Recovery on a reliable line, without forcing a reconnect: heartbeats
    # expose gaps and stalled resend requests are asked again.
    channel.unreliable = False
    for _ in range(300):
        if not channel.connected:
            channel.connect()
        while channel.pipes["ini"] or channel.pipes["acc"]:
            channel.deliver_one("acc")
            channel.deliver_one("ini")
        channel.tick(1.0)
    assert channel.received["acc"] == sent_ids["ini"]
    assert channel.received["ini"] == sent_ids["acc"]


def test_acceptance_router_serves_fix42_and_fix44_sessions_side_by_side() -> None:
    from fix.acceptance.acceptor import build_router

    router = build_router()
    for conn, (begin, comp) in enumerate(((b"FIX.4.2", b"TW42"), (b"FIX.4.4", b"TW44")), 1):
        router.connected(conn, T0)
        logon = msg(b"A", 1, T0, [(98, 0), (108, 30)], sender=comp, begin=begin)
        assert [m.msg_type for m in sent(router.on_bytes(conn, logon, T0))] == [b"A"]
        new_order = msg(b"D", 2, T0, order("X1", T0), sender=comp, begin=begin)
        echo = sent(router.on_bytes(conn, new_order, T0))
        assert [(m.get(8), m.msg_type, m.get(11), m.get(56)) for m in echo] == [
            (begin, b"D", b"X1", comp)
        ]
        other = msg(b"8", 3, T0, [(17, b"E")], sender=comp, begin=begin)
        reply = sent(router.on_bytes(conn, other, T0))[0]
        # An ExecutionReport missing its required fields: AvgPx(6) is the lowest tag.
        assert (reply.msg_type, reply.get(373), reply.get(371)) == (b"3", b"1", b"6")


def test_second_logon_without_reset_is_ignored_and_keeps_sequence_numbers() -> None:
    session = logged_on_acceptor(reset_on_logon=True)
    session.on_bytes(msg(b"0", 2, T0), T0)
    out = session.on_bytes(msg(b"A", 3, T0, [(98, 0), (108, 30)]), T0)
    assert out.send == [] and not out.disconnect
    assert (session.store.next_sender_seq, session.store.next_target_seq) == (2, 3)


def test_stalled_resend_request_is_repeated_after_two_heartbeat_intervals() -> None:
    session = logged_on_acceptor()
    out = sent(session.on_bytes(msg(b"0", 5, T0), T0))
    assert [(m.msg_type, m.get(7)) for m in out] == [(b"2", b"2")]
    early = sent(session.on_timer(T0 + 59 * S))
    assert [m.msg_type for m in early if m.msg_type == b"2"] == []  # not yet
    retry = [m for m in sent(session.on_timer(T0 + 60 * S)) if m.msg_type == b"2"]
    assert [m.get(7) for m in retry] == [b"2"]
    session.on_bytes(
        msg(b"4", 2, T0 + 61 * S, [(36, 5), (123, b"Y")], [(43, b"Y"), (122, format_ns(T0))]),
        T0 + 61 * S,
    )
    assert session.store.next_target_seq == 6  # gap filled, queued 5 replayed
