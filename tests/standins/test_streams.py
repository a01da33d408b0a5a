"""The unmodified alpaca-py stream clients, and the raw wire of both websockets."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from datetime import timedelta
from decimal import Decimal

import msgpack
import pytest
import websockets
from alpaca.data.live import StockDataStream
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from alpaca.trading.stream import TradingStream

from core.money import price_to_decimal
from standins.market import load_market
from tests.aio import wait_until
from tests.standins.conftest import KEY, SECRET


async def _collect(stream, done, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Run an alpaca-py stream until ``done()`` or the timeout, then stop it."""
    task = asyncio.create_task(stream._run_forever())
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done():
            assert asyncio.get_running_loop().time() < deadline, "stream timed out"
            assert not task.done(), f"stream ended: {task.exception() if task.done() else ''}"
            await asyncio.sleep(0.02)
    finally:
        await stream.stop_ws()
        await asyncio.wait_for(task, 10)


def test_data_stream_delivers_live_minute_bars_equal_to_the_market(server: dict[str, str]) -> None:
    market = load_market("default", 3, 2, 4)
    expected = {(b.symbol, b.time_ns): b for b in market.live}
    received = []

    async def on_bar(bar) -> None:  # type: ignore[no-untyped-def]
        received.append(bar)

    stream = StockDataStream(KEY, SECRET, url_override=server["alpaca_data_ws"])
    stream.subscribe_bars(on_bar, "AAPL", "MSFT")
    asyncio.run(_collect(stream, lambda: len(received) >= 8))
    assert {b.symbol for b in received} == {"AAPL", "MSFT"}
    for bar in received:
        truth = expected[(bar.symbol, int(bar.timestamp.timestamp()) * 10**9)]
        assert Decimal(str(bar.open)) == price_to_decimal(truth.open)
        assert Decimal(str(bar.close)) == price_to_decimal(truth.close)
        assert bar.volume == truth.volume
    aapl = [b.timestamp for b in received if b.symbol == "AAPL"]
    assert all(
        later - earlier == timedelta(minutes=1) for earlier, later in itertools.pairwise(aapl)
    )


def test_trading_stream_reports_new_then_fill_with_execution_ids(server: dict[str, str]) -> None:
    updates = []
    stream = TradingStream(KEY, SECRET, paper=True, url_override=server["alpaca_trading_ws"])

    async def on_update(update) -> None:  # type: ignore[no-untyped-def]
        updates.append(update)

    stream.subscribe_trade_updates(on_update)
    client = TradingClient(KEY, SECRET, paper=True, url_override=server["alpaca_rest"])
    submitted = {}

    async def scenario() -> None:
        task = asyncio.create_task(stream._run_forever())
        # connected, authorised and listening (alpaca-py sets _running after the
        # subscription is acknowledged): a condition, not a guess at the time it takes
        await wait_until(lambda: stream._running, 60)
        order = await asyncio.to_thread(
            client.submit_order,
            MarketOrderRequest(
                symbol="GOOGL", qty=4, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            ),
        )
        submitted["id"] = str(order.id)
        await wait_until(
            lambda: any(u.event == "fill" and str(u.order.id) == submitted["id"] for u in updates),
            60,
        )
        await stream.stop_ws()
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    mine = [u for u in updates if str(u.order.id) == submitted["id"]]
    assert mine[0].event == "new"
    fill = next(u for u in mine if u.event == "fill")
    assert isinstance(fill.execution_id, uuid.UUID)
    assert fill.qty == 4 and fill.position_qty >= 4 and fill.price > 0
    assert fill.order.status == "filled"


async def _raw_data(url: str, messages: list[dict]) -> list[list[dict]]:  # type: ignore[type-arg]
    replies = []
    async with websockets.connect(
        url, additional_headers={"Content-Type": "application/msgpack"}
    ) as ws:
        replies.append(msgpack.unpackb(await ws.recv()))
        for message in messages:
            await ws.send(msgpack.packb(message))
            try:
                replies.append(msgpack.unpackb(await asyncio.wait_for(ws.recv(), 3)))
            except websockets.ConnectionClosed:
                replies.append([{"closed": True}])
                break
    return replies


def test_data_stream_wire_auth_and_subscription_frames(server: dict[str, str]) -> None:
    url = server["alpaca_data_ws"]
    replies = asyncio.run(
        _raw_data(
            url,
            [
                {"action": "subscribe", "bars": ["AAPL"]},
                {"action": "auth", "key": KEY, "secret": SECRET},
                {"action": "subscribe", "bars": ["AAPL"], "trades": ["MSFT"]},
                {"action": "auth", "key": KEY, "secret": SECRET},
                {"nonsense": 1},
            ],
        )
    )
    assert replies[0] == [{"T": "success", "msg": "connected"}]
    assert replies[1] == [{"T": "error", "code": 401, "msg": "not authenticated"}]
    assert replies[2] == [{"T": "success", "msg": "authenticated"}]
    ack = replies[3][0]
    assert ack["T"] == "subscription" and ack["bars"] == ["AAPL"] and ack["trades"] == ["MSFT"]
    assert replies[4] == [{"T": "error", "code": 403, "msg": "already authenticated"}]
    assert replies[5] == [{"T": "error", "code": 400, "msg": "invalid syntax"}]


def test_data_stream_wrong_key_is_402_auth_failed_then_closed(server: dict[str, str]) -> None:
    replies = asyncio.run(
        _raw_data(server["alpaca_data_ws"], [{"action": "auth", "key": "x", "secret": "y"}])
    )
    assert replies[1] == [{"T": "error", "code": 402, "msg": "auth failed"}]


def test_data_stream_speaks_json_to_clients_that_do_not_ask_for_msgpack(
    server: dict[str, str],
) -> None:
    async def talk() -> list[object]:
        async with websockets.connect(server["alpaca_data_ws"]) as ws:
            first = await ws.recv()
            await ws.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
            second = await ws.recv()
            await ws.send(json.dumps({"action": "subscribe", "bars": ["*"]}))
            await ws.recv()
            bar = await asyncio.wait_for(ws.recv(), 5)
            return [first, second, bar]

    first, second, bar = asyncio.run(talk())
    assert isinstance(first, str) and json.loads(first) == [{"T": "success", "msg": "connected"}]
    assert json.loads(second)[0]["msg"] == "authenticated"
    frames = json.loads(bar)
    assert frames[0]["T"] == "b" and frames[0]["t"].endswith("Z")


def test_trading_stream_wire_binary_json_frames_and_unauthorized(server: dict[str, str]) -> None:
    async def talk(key: str) -> list[object]:
        async with websockets.connect(server["alpaca_trading_ws"]) as ws:
            await ws.send(json.dumps({"action": "auth", "key": key, "secret": SECRET}))
            answers = [await ws.recv()]
            if key == KEY:
                await ws.send(
                    json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}})
                )
                answers.append(await ws.recv())
            else:
                with pytest.raises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 3)
            return answers

    good = asyncio.run(talk(KEY))
    assert all(isinstance(frame, bytes) for frame in good)  # Alpaca sends binary frames
    assert json.loads(good[0]) == {
        "stream": "authorization",
        "data": {"action": "authenticate", "status": "authorized"},
    }
    assert json.loads(good[1]) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
    bad = asyncio.run(talk("wrong"))
    assert json.loads(bad[0])["data"]["status"] == "unauthorized"
