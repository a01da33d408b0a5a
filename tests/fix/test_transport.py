"""asyncio transport: our initiator against our acceptor over loopback TCP and TLS."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import ssl
import subprocess

import pytest

from fix.acceptance.echo import FillApplication
from fix.framing import FixMessage
from fix.router import AcceptorRouter
from fix.session import Session, SessionConfig
from fix.store import MemoryStore
from fix.transport import FixAcceptor, FixInitiator
from tests.fix.helpers import order


def _pair(ssl_server=None, ssl_client=None, heartbeat_s: int = 30):
    acc_session = Session(
        SessionConfig("FIX.4.4", "ISLD", "TW", initiator=False, heartbeat_s=heartbeat_s),
        MemoryStore(),
        FillApplication(),
    )
    acceptor = FixAcceptor(AcceptorRouter([acc_session]), ssl_context=ssl_server)
    ini_session = Session(
        SessionConfig("FIX.4.4", "TW", "ISLD", initiator=True, heartbeat_s=heartbeat_s),
        MemoryStore(),
    )
    return acceptor, ini_session


async def _exchange(ssl_server=None, ssl_client=None) -> list[FixMessage]:
    acceptor, ini_session = _pair(ssl_server, ssl_client)
    port = await acceptor.start()
    received: list[FixMessage] = []
    got = asyncio.Event()

    def on_app(message: FixMessage) -> None:
        received.append(message)
        if len(received) == 3:
            got.set()

    initiator = FixInitiator(ini_session, "localhost", port, ssl_client, on_app=on_app)
    initiator.start()
    try:
        await asyncio.wait_for(initiator.logged_on.wait(), 5)
        for i in range(3):
            initiator.send(b"D", [*order(f"C{i}", 0)[:3], (44, b"10.5"), *order("x", 0)[3:]])
        await asyncio.wait_for(got.wait(), 5)
    finally:
        await initiator.stop()
        await acceptor.stop()
    return received


def test_round_trip_over_loopback_tcp() -> None:
    received = asyncio.run(_exchange())
    assert [(m.msg_type, m.get(11), m.get(31)) for m in received] == [
        (b"8", b"C0", b"10.5"),
        (b"8", b"C1", b"10.5"),
        (b"8", b"C2", b"10.5"),
    ]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not available")
def test_round_trip_over_tls(tmp_path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    received = asyncio.run(_exchange(server, client))
    assert [m.get(11) for m in received] == [b"C0", b"C1", b"C2"]


def test_initiator_reconnects_and_recovers_messages_sent_while_down() -> None:
    async def scenario() -> tuple[int, list[bytes]]:
        acceptor, ini_session = _pair()
        port = await acceptor.start()
        received: list[bytes] = []
        initiator = FixInitiator(
            ini_session,
            "127.0.0.1",
            port,
            on_app=lambda m: received.append(m.get(11) or b""),
            min_backoff_s=0.05,
        )
        initiator.start()
        try:
            await asyncio.wait_for(initiator.logged_on.wait(), 5)
            for conn in list(acceptor._conns.values()):
                conn.transport.close()  # the venue drops the line
            await asyncio.sleep(0.01)
            initiator.send(b"D", [*order("offline", 0)[:3], (44, b"1"), *order("x", 0)[3:]])
            for _ in range(200):
                if received:
                    break
                await asyncio.sleep(0.025)
        finally:
            await initiator.stop()
            await acceptor.stop()
        return initiator.connects, received

    connects, received = asyncio.run(scenario())
    assert connects >= 2
    assert received == [b"offline"]


def test_initiator_backs_off_exponentially_while_the_venue_is_down() -> None:
    async def scenario() -> list[int]:
        port = _closed_port()
        attempts: list[int] = []
        session = Session(SessionConfig("FIX.4.4", "TW", "ISLD", initiator=True), MemoryStore())

        def on_event(event) -> None:
            if event.kind == "connect_failed":
                attempts.append(event.time_ns)

        initiator = FixInitiator(
            session, "127.0.0.1", port, on_event=on_event, min_backoff_s=0.02, max_backoff_s=0.16
        )
        initiator.start()
        await asyncio.sleep(1.0)
        await initiator.stop()
        return attempts

    attempts = asyncio.run(scenario())
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(attempts)]
    assert 4 <= len(attempts) <= 15
    assert gaps[0] < 0.1 and max(gaps) >= 0.15  # grows from 0.02 s and caps at 0.16 s
    assert max(gaps) < 0.5


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
