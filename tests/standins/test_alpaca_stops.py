"""Resting stop orders through Alpaca (issue 12): the gateway's adapter sends
the engine's protective stop as an Alpaca stop order (``StopOrderRequest``);
the Alpaca stand-in rests it in the simulator's venues, which trigger it once
the tape trades through it (at the stop, or the open of a bar beyond it) and
leave it resting otherwise; a replace moves its ``stop_price``."""

from __future__ import annotations

import asyncio
import socket
import time
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from core.commands import OrderType, ReplaceOrder, Side, SubmitOrder, TimeInForce
from gateway.brokers.alpaca import AlpacaBroker
from gateway.config import parse_config
from standins.faults import Faults
from standins.market import load_market
from standins.server import Options, StandIn
from tests.tiers.test_cash_flows_gateway import CONFIG

FAR = 10**14  # $100,000: beyond any price the stand-in's market prints


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return load_market("range", 1, history_days=0, days=1)


async def _serve(market) -> tuple[StandIn, web.AppRunner, str]:  # type: ignore[no-untyped-def]
    standin = StandIn(market, Options(speed=300.0, seed=1), Faults(seed=1))
    runner = web.AppRunner(standin.app(), handle_signals=False, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    standin.start()
    return standin, runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def _until(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s")


def test_a_stop_order_rests_at_alpaca_and_triggers_when_traded_through(
    tmp_path: Path, market
) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> dict[str, object]:
        standin, runner, url = await _serve(market)
        try:
            config = parse_config(CONFIG.format(url=url), env={}, base=tmp_path)
            broker = AlpacaBroker(config.alpaca, True, config.symbols)
            now = market.live_start_ns
            buy = SubmitOrder(now, "b1", None, "AAPL", Side.BUY, 10)
            await broker.submit(buy, "acct-b1")

            async def bought() -> bool:
                return (await broker.positions()).get("AAPL") == 10

            await _until(bought)

            def stop(cid: str, side: Side, price: int) -> SubmitOrder:
                return SubmitOrder(
                    now, cid, None, "AAPL", side, 10, OrderType.STOP, None, TimeInForce.GTC,
                    stop_price=price,
                )  # fmt: skip

            # a sell stop above the market: the next bar is through it (filled at its open)
            placed = await broker.submit(stop("s1", Side.SELL, FAR), "acct-s1")
            # a buy stop far above: rests untouched, and a replace moves it
            resting = await broker.submit(stop("s2", Side.BUY, FAR), "acct-s2")

            async def stopped_out() -> bool:
                return (await broker.positions()).get("AAPL", 0) == 0

            await _until(stopped_out)
            filled = await broker.order("acct-s1")
            moved = await broker.replace(
                ReplaceOrder(now, "s2b", "s2", "AAPL", Side.BUY, 10, None, 2 * FAR),
                "acct-s2",
                "acct-s2b",
            )
            opened = await broker.open_orders()
            raw = standin.broker.order_json(standin.broker.find(moved.broker_order_id))
            await broker.close()
            return {
                "placed": placed,
                "resting": resting,
                "filled": filled,
                "open": [o.broker_client_id for o in opened],
                "raw": raw,
            }
        finally:
            if standin._publisher is not None:
                standin._publisher.cancel()
            await runner.cleanup()

    got = asyncio.run(scenario())
    filled = got["filled"]
    assert filled is not None and filled.status == "filled" and filled.filled == 10  # type: ignore[attr-defined]
    price = filled.filled_notional / filled.filled  # type: ignore[attr-defined]
    assert 0 < price < FAR  # the open of the bar that gapped through the stop
    assert got["open"] == ["acct-s2b"]
    raw = got["raw"]
    assert raw["type"] == "stop" and Decimal(raw["stop_price"]) == Decimal(2 * FAR).scaleb(-9)  # type: ignore[index]
