"""A gateway-like process for the kill -9 test: PrimeFixBroker on a store, fills to stdout.

``python -m tests.primefix.adapter_proc --port P --store S [--known FILE] [--order]``
prints one JSON line per booked fill (the "executions table" of this test)
and runs until killed, or for ``--seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from core.commands import OrderType, Side, SubmitOrder
from gateway.brokers.base import StreamSinks, TradeEvent
from gateway.brokers.prime_fix import PrimeFixBroker, PrimeFixSettings


async def main(args: argparse.Namespace) -> None:
    rows = []
    if args.known:
        rows = [json.loads(line) for line in Path(args.known).read_text().splitlines() if line]
    settings = PrimeFixSettings(
        "127.0.0.1",
        args.port,
        "SOVEREIGN",
        "PRIMEBROKER",
        Path(args.store),
        min_backoff_s=0.05,
        max_backoff_s=0.5,
    )
    broker = PrimeFixBroker.resuming(settings, None, rows)
    print(
        json.dumps(
            {
                "start_sender_seq": broker.store.next_sender_seq,
                "start_target_seq": broker.store.next_target_seq,
            }
        ),
        flush=True,
    )

    done = asyncio.Event()

    async def on_trade(event: TradeEvent) -> None:
        fill = event.fill
        if event.event == "canceled":
            done.set()
        if fill is None:
            return
        row = {
            "exec_id": fill.exec_id,
            "client_order_id": fill.client_order_id,
            "symbol": fill.symbol,
            "side": fill.side.value,
            "quantity": fill.quantity,
            "price": fill.price,
            "fee": fill.fee,
            "time_ns": fill.time_ns,
        }
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()

    async def nothing(*_: object) -> None:
        return None

    await broker.stream(StreamSinks(nothing, on_trade, nothing, nothing))
    assert await broker.connect(10)
    if args.order:
        order = SubmitOrder(
            0,
            "big",
            None,
            "AAPL",
            Side.BUY,
            300_000,
            OrderType.PEGGED_MIDPOINT,
            venue="LEVEL-ATS",
            min_quantity=500,
        )
        await broker.submit(order, "proc-big")
    await asyncio.sleep(args.seconds)
    if args.cancel_at_end:  # learn the order from the broker (H), cancel it, wait for the end
        view = await broker.order("proc-big")
        assert view is not None and view.open, view
        await broker.cancel("proc-big")
        while not done.is_set():
            await asyncio.wait_for(done.wait(), 10)
        await broker.drain()
    await broker.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--known")
    parser.add_argument("--order", action="store_true")
    parser.add_argument("--seconds", type=float, default=3600)
    parser.add_argument("--cancel-at-end", action="store_true")
    asyncio.run(main(parser.parse_args()))
