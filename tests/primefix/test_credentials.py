"""The gateway's prime-broker session authenticates (Username 553, Password 554)
against the stand-in, which checks the pair per session (issue 15).

Wrong pair → Logout with a reason that names neither field, no session;
right pair → a session that trades. The password is in no file either
process wrote: both session stores (SQLite, with their WAL), the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.commands import Side, SubmitOrder
from fix.session import LOGON_REJECTED
from gateway.brokers.prime_fix import PrimeFixBroker
from gateway.logs import setup_logging
from gateway.secrets import Secret
from tests.primefix.conftest import Recorder, prime_standin, run, settings, wait_until
from tests.primefix.test_adapter import DataOnly

USER = "sovereign-desk"
PASSWORD = "Pb-s3cret-9f2c7e"


def _files_holding(root: Path, needle: bytes) -> list[str]:
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes())


def _logging_to(path: Path) -> None:
    setup_logging("debug", path, [Secret(PASSWORD)], stderr=False)


def _stop_logging() -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        handler.close()
        root.removeHandler(handler)


def test_wrong_credentials_get_logout_with_a_reason_and_no_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with prime_standin(
            username=USER, password=PASSWORD, store_path=tmp_path / "pb.sqlite"
        ) as running:
            for n, (user, password) in enumerate(
                [(USER, "not-the-password"), ("someone-else", PASSWORD)]
            ):
                broker = PrimeFixBroker(
                    settings(
                        running.port,
                        tmp_path / f"gw{n}.fix.sqlite",
                        username=user,
                        password=Secret(password),
                    ),
                    DataOnly(running.standin.market_now()),
                )
                assert not await broker.connect(timeout_s=1.5)
                await broker.close()
                refusals = {e.text for e in broker.events if e.kind == "disconnect"}
                assert refusals == {f"Logon refused by counterparty: {LOGON_REJECTED}"}
            events = [e for e in running.pb.events if e.kind == "disconnect"]
            assert events and {e.text for e in events} == {LOGON_REJECTED}
            assert not running.pb.state_json()["logged_on"]
            assert running.pb.book.state_json()["orders"] == []

    _logging_to(tmp_path / "logs" / "gw.jsonl")
    try:
        run(scenario(), 60)
    finally:
        _stop_logging()
    assert LOGON_REJECTED in (tmp_path / "logs" / "gw.jsonl").read_text()
    assert _files_holding(tmp_path, PASSWORD.encode()) == []


def test_right_credentials_get_a_session_and_the_password_stays_out_of_every_file(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with prime_standin(
            username=USER, password=PASSWORD, store_path=tmp_path / "pb.sqlite"
        ) as running:
            data = DataOnly(running.standin.market_now())
            broker = PrimeFixBroker(
                settings(
                    running.port,
                    tmp_path / "gw.fix.sqlite",
                    username=USER,
                    password=Secret(PASSWORD),
                ),
                data,
            )
            rec = Recorder()
            await rec.attach(broker)
            assert await broker.connect()
            assert running.pb.state_json()["logged_on"]
            now = running.standin.market_now()
            order = SubmitOrder(now, "a1", None, "MSFT", Side.BUY, 300, venue="NYSE")
            placed = await broker.submit(order, "acct-a1")
            assert placed.status == "new"
            await wait_until(lambda: sum(f.quantity for f in rec.fills) == 300, 30)
            # the stores hold the Logon, redacted; the order in full
            sent = broker.store.sent_range(1, broker.store.next_sender_seq - 1)
            logon = next(raw for _, raw in sent if b"\x0135=A\x01" in raw)
            assert b"\x01554=***\x01" in logon and f"\x01553={USER}\x01".encode() in logon
            await broker.abort()  # no Logout: what a crash looks like to the peer

    _logging_to(tmp_path / "logs" / "gw.jsonl")
    try:
        run(scenario(), 90)
    finally:
        _stop_logging()
    written = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert "gw.fix.sqlite" in written and "pb.sqlite" in written, written
    assert _files_holding(tmp_path, PASSWORD.encode()) == []
