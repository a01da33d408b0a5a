"""``python -m standins`` starts the TWS stand-in beside the others and names it."""

from __future__ import annotations

import asyncio

from ib_async import IB, MarketOrder, Stock

from tests.ibkr.conftest import wait_until
from tests.standins.conftest import BASE_ARGS, running_server


def test_sim_serve_prints_the_tws_endpoint_and_ib_async_trades_there() -> None:
    with running_server(*BASE_ARGS, "--speed", "600") as endpoints:
        host, port = endpoints["tws"].split(":")
        assert host == "127.0.0.1" and endpoints["alpaca_rest"].startswith("http://")

        async def trade() -> tuple[str, float]:
            ib = IB()
            await ib.connectAsync(host, int(port), 21, timeout=10)
            [contract] = await ib.qualifyContractsAsync(Stock("MSFT", "SMART", "USD"))
            placed = ib.placeOrder(contract, MarketOrder("BUY", 2, orderRef="cli"))
            await wait_until(lambda: placed.orderStatus.status == "Filled", timeout=15)
            ib.disconnect()
            return placed.orderStatus.status, placed.fills[0].execution.shares

        assert asyncio.run(asyncio.wait_for(trade(), 30)) == ("Filled", 2.0)
