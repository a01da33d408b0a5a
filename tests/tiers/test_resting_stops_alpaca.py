"""The real gateway with ``[broker] resting_stops = true`` at Alpaca (issue 12).

Against the Alpaca stand-in over HTTP and websockets: after each entry fills
the engine places the position's protective stop as an Alpaca stop order;
Alpaca then holds those shares (``qty_available`` excludes them), so an exit
sent while the stop still rests is refused ("insufficient qty available").
The engine cancels the stop first and sends the exit only once the cancel is
confirmed (or drops it if the stop filled instead). This session shows it:
stops rest at the broker, exits and stop fills both happen, no order of ours
is refused, and the database, the engine and Alpaca's books agree.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.commands import OrderType, Side, SubmitOrder
from gateway.brokers.alpaca import AlpacaBroker
from gateway.brokers.base import RejectedRequest
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import Storage
from standins.market import load_market
from tests.aio import wait_until
from tests.tiers.session import agreement, market_standins, settle_with_books

SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]


def test_resting_stops_at_alpaca_exit_without_a_refusal_and_the_books_agree(
    tmp_path: Path,
) -> None:
    market = load_market("default", 3, 2, 4, "1000000")
    sent: list[tuple[SubmitOrder, int, str | None]] = []  # (order, position then, refusal)

    async def session():  # type: ignore[no-untyped-def]
        async with market_standins(market, speed=3000.0) as m:
            text = m.config("95000", SYMBOLS).replace(
                'type = "alpaca"', 'type = "alpaca"\nresting_stops = true', 1
            )
            config = parse_config(text, env={}, base=tmp_path)
            config = dataclasses.replace(config, ibkr=None, fix=None)
            assert config.broker.resting_stops and config.alpaca is not None
            storage = Storage(config.database.path)
            broker = AlpacaBroker(config.alpaca, config.broker.paper, config.symbols)
            gateway = Gateway(config, broker, storage, None, RuntimeOptions())
            submit = broker.submit

            async def watched(command: SubmitOrder, broker_client_id: str) -> Any:
                position = gateway.engine.position(command.symbol)
                try:
                    placed = await submit(command, broker_client_id)
                except RejectedRequest as exc:
                    sent.append((command, position, exc.reason))
                    raise
                sent.append((command, position, None))
                return placed

            broker.submit = watched  # type: ignore[method-assign]
            await gateway.start()
            try:
                await wait_until(lambda: m.done, timeout=120)
                await settle_with_books(gateway, m)
                same = await gateway.reconciler.check_positions("end")
                positions = gateway.engine.positions()
            finally:
                await gateway.stop()
            problems, per_broker = agreement(storage, m)
            return m, same, problems, per_broker, positions

    started = time.monotonic()
    m, same, problems, per_broker, positions = asyncio.run(asyncio.wait_for(session(), 200))
    book = m.standin.broker.state_json()
    at_alpaca = {o["client_order_id"]: o for o in book["orders"]}
    stops = [(c, p) for c, p, refused in sent if c.order_type is OrderType.STOP and not refused]
    # every protective stop rested at Alpaca as a stop order, against the whole
    # position, on the side that closes it, at the engine's stop price
    assert len(stops) >= 2
    for command, position in stops:
        assert position != 0 and command.quantity == abs(position)
        assert command.side is (Side.SELL if position > 0 else Side.BUY)
        mine = next(
            o for o in at_alpaca.values() if o["client_order_id"].endswith(command.client_order_id)
        )
        assert mine["type"] == "stop" and Decimal(mine["stop_price"]) * 10**9 == command.stop_price
    statuses = sorted(o["status"] for o in at_alpaca.values() if o["type"] == "stop")
    assert (
        "filled" in statuses and "canceled" in statuses
    )  # stops that fired, stops lifted for exits
    # nothing that reduced a position was refused: an exit waits for its stop's
    # cancel to be confirmed (the only refusals are short sales, which a cash
    # account does not allow, resting stops or not)
    for command, position, refused in sent:
        if refused is None:
            continue
        reduces = position * (1 if command.side is Side.BUY else -1) < 0
        assert not reduces, (command, position, refused)
        assert command.side is Side.SELL and position <= 0, (command, position, refused)
    # exits that followed a lifted stop filled
    exits = [
        c
        for c, p, refused in sent
        if refused is None
        and c.order_type is not OrderType.STOP
        and p * (1 if c.side is Side.BUY else -1) < 0
    ]
    assert exits
    assert problems == [] and same
    assert per_broker.get("alpaca", 0) >= 4
    assert positions == {} or all(
        any(
            o["type"] == "stop" and o["symbol"] == s and o["status"] in ("new", "accepted")
            for o in at_alpaca.values()
        )
        for s in positions
    )
    print(
        f"\nresting stops at Alpaca: {len(stops)} stops placed ({statuses}), {len(exits)} exits,"
        f" {sum(1 for *_, r in sent if r)} short sales refused, executions {per_broker},"
        f" {time.monotonic() - started:.1f}s"
    )
