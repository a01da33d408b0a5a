"""Logon authentication: Username(553)/Password(554) sent by the initiator,
checked by the acceptor, answered with one reason whichever was wrong, and
never kept in clear by a store (issue 15)."""

from __future__ import annotations

import pytest

from core.errors import BadInput
from fix.redact import redact
from fix.session import LOGON_REJECTED, SessionConfig, State
from fix.store import SqliteStore
from tests.fix.helpers import T0, S, acceptor, initiator, msg, sent

USER, PASSWORD = "sovereign", "s3cret-Passw0rd!"


def _logon(user: str | None, password: str | None, seq: int = 1, reset: bool = False) -> bytes:
    body: list[tuple[int, object]] = [(98, 0), (108, 30)]
    if reset:
        body.append((141, b"Y"))
    if user is not None:
        body.append((553, user))
    if password is not None:
        body.append((554, password))
    return msg(b"A", seq, T0, body)


@pytest.mark.parametrize(
    ("user", "password"),
    [
        (USER, "wrong-password"),
        ("someone-else", PASSWORD),
        ("someone-else", "wrong-password"),
        (None, None),
        (USER, None),
        (USER, PASSWORD + "x"),
    ],
)
def test_a_wrong_pair_gets_logout_with_one_reason_that_names_neither(user, password) -> None:
    session = acceptor(username=USER, password=PASSWORD)
    session.connect(T0)
    out = session.on_bytes(_logon(user, password), T0)
    replies = sent(out)
    assert [(m.msg_type, m.get(58)) for m in replies] == [(b"5", LOGON_REJECTED.encode())]
    assert out.disconnect and session.state is State.DISCONNECTED
    assert out.app == []
    text = " ".join(e.text for e in out.events)
    assert PASSWORD not in text and "wrong-password" not in text


def test_an_empty_password_is_an_invalid_logon_and_closes_the_line() -> None:
    session = acceptor(username=USER, password=PASSWORD)
    session.connect(T0)
    out = session.on_bytes(_logon(USER, ""), T0)  # 554= : a tag without a value
    assert out.disconnect and session.state is State.DISCONNECTED and out.app == []


def test_the_right_pair_logs_on() -> None:
    session = acceptor(username=USER, password=PASSWORD)
    session.connect(T0)
    out = sent(session.on_bytes(_logon(USER, PASSWORD), T0))
    assert [m.msg_type for m in out] == [b"A"]
    assert out[0].get(554) is None and out[0].get(553) is None  # not echoed back
    assert session.state is State.ACTIVE


def test_a_stranger_with_reset_flag_cannot_reset_the_session() -> None:
    session = acceptor(username=USER, password=PASSWORD)
    session.store.set_next_target_seq(40)
    session.store.set_next_sender_seq(70)
    session.connect(T0)
    session.on_bytes(_logon(USER, "guess", reset=True), T0)
    assert session.store.next_target_seq == 40
    assert session.store.next_sender_seq == 71  # only our Logout was counted


def test_initiator_sends_the_pair_and_the_acceptor_accepts_it() -> None:
    client = initiator(username=USER, password=PASSWORD)
    server = acceptor(username=USER, password=PASSWORD)
    logon = client.connect(T0)
    [message] = sent(logon)
    assert (message.get(553), message.get(554)) == (USER.encode(), PASSWORD.encode())
    server.connect(T0)
    reply = server.on_bytes(b"".join(logon.send), T0)
    client.on_bytes(b"".join(reply.send), T0)
    assert server.state is State.ACTIVE and client.state is State.ACTIVE


def test_initiator_hears_the_reason_of_a_refusal() -> None:
    client = initiator(username=USER, password="wrong-password")
    server = acceptor(username=USER, password=PASSWORD)
    logon = client.connect(T0)
    server.connect(T0)
    refusal = server.on_bytes(b"".join(logon.send), T0)
    out = client.on_bytes(b"".join(refusal.send), T0)
    assert out.disconnect
    assert [e.text for e in out.events if e.kind == "disconnect"] == [
        f"Logon refused by counterparty: {LOGON_REJECTED}"
    ]


def test_the_store_keeps_the_logon_with_its_password_masked(tmp_path) -> None:
    path = tmp_path / "fix.sqlite"
    store = SqliteStore(path, "TW->ISLD")
    client = initiator(store, username=USER, password=PASSWORD)
    client.connect(T0)
    client.on_bytes(msg(b"A", 1, T0, [(98, 0), (108, 30)], sender=b"ISLD", target=b"TW"), T0 + S)
    [(seq, raw)] = store.sent_range(1, 1)
    assert seq == 1 and b"\x01554=***\x01" in raw and b"\x01553=sovereign\x01" in raw
    store.close()
    for file in tmp_path.iterdir():  # the database and whatever WAL it left
        assert PASSWORD.encode() not in file.read_bytes(), file
    assert PASSWORD not in repr(client.config)


def test_redact_masks_password_new_password_and_raw_data_and_keeps_a_valid_message() -> None:
    from fix.codec import checksum, parse

    raw = msg(
        b"A", 1, T0, [(95, 6), (96, b"token!"), (98, 0), (108, 30), (554, b"pw"), (925, b"n")]
    )
    masked = redact(raw)
    fields = dict(parse(masked))
    assert (fields[95], fields[96], fields[554], fields[925]) == (b"3", b"***", b"***", b"***")
    body = masked[: masked.rindex(b"10=")]
    assert int(fields[10]) == checksum(body)
    assert redact(b"8=FIX.4.4\x019=5\x0135=0\x01") == b"8=FIX.4.4\x019=5\x0135=0\x01"


def test_fix42_sessions_refuse_credentials() -> None:
    with pytest.raises(BadInput, match=r"FIX\.4\.2"):
        SessionConfig("FIX.4.2", "A", "B", initiator=True, username="u", password="p")
