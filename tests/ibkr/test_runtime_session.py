"""The real gateway runtime trading a semi-institutional account through the IBKR
adapter against the TWS stand-in, with the TWS socket dropped mid-session.

In process (the runtime's ``Gateway`` with an ``IbkrBroker``; the runtime's
``broker.type = "ibkr"`` wiring is not in ``python -m gateway`` yet): SQLite's
executions must be exactly the stand-in's, once each, and the engine's positions
the stand-in's book.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from gateway.brokers.ibkr import IbkrBroker
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import Storage
from standins.faults import Faults
from standins.market import load_market
from standins.server import Options, StandIn
from standins.tws.server import ACCOUNT, TwsServer
from tests.ibkr.conftest import run, wait_until

CONFIG = """
[broker]
type = "ibkr"
[ibkr]
port = {port}
client_id = 31
account_id = "{account}"
[portfolio]
initial_balance = 900000
[universe]
symbols = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
"""


def test_gateway_session_through_ibkr_with_a_dropped_socket(tmp_path: Path) -> None:
    async def body() -> tuple[Gateway, TwsServer, IbkrBroker]:
        market = load_market("range", 1, 2, 3, "900000")  # one live session
        standin = StandIn(market, Options(speed=3000.0, seed=1), Faults(seed=1))
        tws = TwsServer(standin)
        port = await tws.start()
        standin.start()
        config = parse_config(CONFIG.format(port=port, account=ACCOUNT), env={}, base=tmp_path)
        assert config.ibkr is not None
        broker = IbkrBroker(config.ibkr, config.symbols)
        gateway = Gateway(config, broker, Storage(tmp_path / "g.db"), None, RuntimeOptions())
        await gateway.start()
        try:
            await wait_until(lambda: gateway.counters.fills >= 1, timeout=30)
            tws.drop()  # the socket dies mid-session...
            await tws.stop()  # ...and TWS stays away for a while
            await asyncio.sleep(1.0)
            await tws.start("127.0.0.1", port)
            live = len(market.live)
            await wait_until(lambda: standin._next_live >= live, timeout=60)
            # every execution TWS made reaches the gateway by its own report
            # before the final reconciliation looks (a fixed sleep raced them)
            booked = lambda: {str(r["exec_id"]) for r in gateway.storage.booked.executions()}  # noqa: E731
            await wait_until(lambda: {e.view.exec_id for e in tws.executions} <= booked(), 30)
            await gateway.reconcile(startup=False, grace=0.0)
            await gateway.settle()
        finally:
            await gateway.stop()
            await tws.stop()
            if standin._publisher is not None:
                standin._publisher.cancel()
        return gateway, tws, broker

    gateway, tws, broker = run(body(), timeout=120)
    rows = gateway.storage.booked.executions()
    truth = {e.view.exec_id: e.view for e in tws.executions}
    ids = [str(r["exec_id"]) for r in rows]
    assert len(ids) == len(set(ids)) >= 2  # nothing booked twice
    assert set(ids) == set(truth)  # nothing lost, nothing invented
    for row in rows:
        view = truth[str(row["exec_id"])]
        assert row["quantity"] == view.shares
        assert row["price"] == int(Decimal(view.price) * 10**9)
        assert row["fee"] == int(Decimal(view.commission) * 10**9)
    book = {s: p.qty for s, p in tws.book.positions.items() if p.qty}
    assert gateway.engine.positions() == book
    assert broker.reconnects >= 1 and gateway.counters.reconnects >= 2
    assert gateway.counters.bad_inputs == 0
    print(
        f"\nIBKR session: {len(rows)} executions ({broker.reconciled_fills} reconciled after"
        f" the drop), positions {book}, discrepancies {gateway.counters.discrepancies}"
    )
