"""Interop with a real FIX engine: the ``quickfix`` package (QuickFIX C++ via SWIG).

Both directions: our asyncio initiator against a QuickFIX acceptor, and a
QuickFIX initiator against our acceptor (``python -m fix.acceptor
--app fill`` in a subprocess). Each side logs on, a NewOrderSingle goes one
way and an ExecutionReport comes back. Skipped when ``quickfix`` is not
installed (``pip install '.[quickfix]'``; it compiles for several minutes).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

if __name__ == "__main__":  # run as a script by _run_isolated below
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fix.framing import FixMessage
from fix.paths import REPO_ROOT, spec_path
from fix.session import Session, SessionConfig
from fix.store import MemoryStore
from fix.transport import FixInitiator
from tests.fix.helpers import order

fix = pytest.importorskip("quickfix")
fix44 = pytest.importorskip("quickfix44")

_KEEP: list[object] = []  # QuickFIX objects live until os._exit (SWIG frees on GC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(tmp_path, role: str, sender: str, target: str, port: int) -> fix.SessionSettings:
    lines = [
        "[DEFAULT]",
        f"ConnectionType={role}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "HeartBtInt=30",
        "ReconnectInterval=1",
        "UseDataDictionary=Y",
        f"DataDictionary={spec_path('FIX.4.4')}",
        f"FileStorePath={tmp_path / 'store'}",
        f"FileLogPath={tmp_path / 'log'}",
        "ResetOnLogon=Y",
        "[SESSION]",
        "BeginString=FIX.4.4",
        f"SenderCompID={sender}",
        f"TargetCompID={target}",
    ]
    if role == "acceptor":
        lines.append(f"SocketAcceptPort={port}")
    else:
        lines += ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}"]
    path = tmp_path / f"{role}.cfg"
    path.write_text("\n".join(lines) + "\n")
    return fix.SessionSettings(str(path))


class QuickFixVenue(fix.Application):
    """QuickFIX side acting as a venue: fills every NewOrderSingle."""

    def __init__(self) -> None:
        super().__init__()
        self.orders: list[str] = []
        self.reports: list[str] = []
        self.logged_on = threading.Event()
        self.got_report = threading.Event()
        self.session_id = None

    def onCreate(self, session_id) -> None:
        self.session_id = session_id

    def onLogon(self, session_id) -> None:
        self.logged_on.set()

    def onLogout(self, session_id) -> None:
        return None

    def toAdmin(self, message, session_id) -> None:
        return None

    def fromAdmin(self, message, session_id) -> None:
        return None

    def toApp(self, message, session_id) -> None:
        return None

    def fromApp(self, message, session_id) -> None:
        msg_type = message.getHeader().getField(35)
        if msg_type == "8":
            self.reports.append(message.getField(11))
            self.got_report.set()
            return
        cl_ord_id = message.getField(11)
        self.orders.append(cl_ord_id)
        report = fix44.ExecutionReport()
        for value in (
            fix.OrderID("QF-1"),
            fix.ExecID(f"QF-X-{len(self.orders)}"),
            fix.ExecType(fix.ExecType_TRADE),
            fix.OrdStatus(fix.OrdStatus_FILLED),
            fix.Side(fix.Side_BUY),
            fix.LeavesQty(0),
            fix.CumQty(100),
            fix.AvgPx(25.125),
        ):
            report.setField(value)
        report.setField(fix.ClOrdID(cl_ord_id))
        report.setField(fix.Symbol("INTC"))
        report.setField(fix.LastQty(100))
        report.setField(fix.LastPx(25.125))
        fix.Session.sendToTarget(report, session_id)

    def send_order(self, cl_ord_id: str) -> None:
        order_msg = fix44.NewOrderSingle()
        order_msg.setField(fix.ClOrdID(cl_ord_id))
        order_msg.setField(fix.Side(fix.Side_BUY))
        order_msg.setField(fix.TransactTime())
        order_msg.setField(fix.OrdType(fix.OrdType_LIMIT))
        order_msg.setField(fix.HandlInst("1"))
        order_msg.setField(fix.Symbol("INTC"))
        order_msg.setField(fix.OrderQty(100))
        order_msg.setField(fix.Price(25.125))
        fix.Session.sendToTarget(order_msg, self.session_id)


def scenario_ours_against_quickfix_acceptor(tmp_path) -> dict[str, object]:
    port = _free_port()
    app = QuickFixVenue()
    settings = _settings(tmp_path, "acceptor", "QF", "SOV", port)
    # The factories must outlive the engine: SWIG frees them with their wrappers.
    store_factory, log_factory = fix.FileStoreFactory(settings), fix.FileLogFactory(settings)
    acceptor = fix.SocketAcceptor(app, store_factory, settings, log_factory)
    _KEEP.extend((app, settings, store_factory, log_factory, acceptor))
    acceptor.start()

    async def scenario() -> list[FixMessage]:
        session = Session(
            SessionConfig("FIX.4.4", "SOV", "QF", initiator=True, send_reset_seq_num=True),
            MemoryStore(),
        )
        received: list[FixMessage] = []
        initiator = FixInitiator(session, "127.0.0.1", port, on_app=received.append)
        initiator.start()
        try:
            await asyncio.wait_for(initiator.logged_on.wait(), 10)
            body = order("OURS-1", time.time_ns())
            body[3] = (40, b"2")  # limit
            initiator.send(b"D", [*body[:4], (44, b"25.125"), *body[4:]])
            for _ in range(200):
                if received:
                    break
                await asyncio.sleep(0.025)
            await initiator.logout()  # QuickFIX must not be logged on when stopped
        finally:
            await initiator.stop()
        return received

    received = asyncio.run(scenario())
    return {
        "quickfix_got_orders": app.orders,
        "we_got": [
            [m.msg_type.decode(), (m.get(11) or b"").decode(), (m.get(150) or b"").decode()]
            for m in received
        ],
    }


def scenario_quickfix_initiator_against_ours(tmp_path) -> dict[str, object]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fix.acceptor", "--port", str(port), "--app", "fill"],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        app = QuickFixVenue()
        settings = _settings(tmp_path, "initiator", "TW44", "ISLD", port)
        store_factory, log_factory = fix.FileStoreFactory(settings), fix.FileLogFactory(settings)
        initiator = fix.SocketInitiator(app, store_factory, settings, log_factory)
        _KEEP.extend((app, settings, store_factory, log_factory, initiator))
        initiator.start()
        logged_on = app.logged_on.wait(15)
        if logged_on:
            app.send_order("QF-ORDER-1")
            app.got_report.wait(10)
        return {"quickfix_logged_on": logged_on, "quickfix_got_reports": app.reports}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SCENARIOS = {
    "ours_vs_quickfix_acceptor": scenario_ours_against_quickfix_acceptor,
    "quickfix_initiator_vs_ours": scenario_quickfix_initiator_against_ours,
}


def _run_isolated(name: str, tmp_path) -> dict[str, object]:
    """Each scenario runs in its own interpreter: the binding's threads and
    shutdown are QuickFIX's business, not the test runner's."""
    proc = subprocess.run(
        [sys.executable, __file__, name, str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"scenario {name} printed no result: {proc.stdout}\n{proc.stderr}"
    return json.loads(lines[-1])


def test_our_initiator_against_quickfix_acceptor(tmp_path) -> None:
    result = _run_isolated("ours_vs_quickfix_acceptor", tmp_path)
    assert result["quickfix_got_orders"] == ["OURS-1"]
    assert result["we_got"] == [["8", "OURS-1", "F"]]


def test_quickfix_initiator_against_our_acceptor(tmp_path) -> None:
    result = _run_isolated("quickfix_initiator_vs_ours", tmp_path)
    assert result["quickfix_logged_on"] is True
    assert result["quickfix_got_reports"] == ["QF-ORDER-1"]


if __name__ == "__main__":
    outcome = SCENARIOS[sys.argv[1]](Path(sys.argv[2]))
    print(json.dumps(outcome), flush=True)
    os._exit(0)  # skip QuickFIX's engine shutdown; the OS reclaims its threads
