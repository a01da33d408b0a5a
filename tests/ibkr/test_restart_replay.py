"""A gateway restart against TWS, at the adapter: the executions TWS made while no
gateway was connected come back with their own exec ids and commissions before
the stream starts (``replay_executions``), exactly once.

The regression behind it: after a fresh connect, ib_async knows an order that
filled meanwhile only as a *completed order* (its ``orderStatus.filled`` is 0;
the quantity is in ``Order.filledQuantity``), and the runtime's startup
reconciliation, which runs before the stream, booked that quantity as one
synthetic ``recon:`` fill without commission; TWS's real executions, replayed a
moment later, were then dropped as already booked.
"""

from __future__ import annotations

import asyncio

from gateway.brokers.base import StreamSinks, TradeEvent
from gateway.brokers.ibkr import IbkrBroker
from gateway.config import IbkrConfig
from standins.tws.book import commission
from tests.ibkr.conftest import run, tws_standin, wait_until
from tests.ibkr.test_adapter import SYMBOLS, Sink, order, started


def test_executions_made_while_no_gateway_was_connected_are_replayed_once() -> None:
    async def body() -> None:
        async with tws_standin(speed=600.0) as r:
            first, sink = await started(r, client_id=5)
            await first.submit(order("rr-1", qty=30), "rr-1")
            await wait_until(lambda: len(sink.fills()) == 1)
            await first.submit(order("rr-2", "MSFT", 12), "rr-2")
            await first.submit(order("rr-3", qty=8), "rr-3")
            # The gateway dies with two orders working at TWS (kill -9: no goodbye) ...
            first._closing = True
            r.tws.drop()
            await first.close()
            # ... and the orders fill while nobody is connected.
            await wait_until(lambda: len(r.tws.executions) == 3, timeout=15)

            second = IbkrBroker(IbkrConfig(port=r.port, client_id=5), SYMBOLS)
            for ref, qty in (("rr-2", 12), ("rr-3", 8)):
                done = await second.order(ref)
                assert done is not None and done.status == "filled"
                assert done.filled == qty  # from the completed order + its executions
            [trade] = [t for t in second.ib.trades() if t.order.orderRef == "rr-2"]
            assert trade.orderStatus.filled == 0  # what ib_async makes of a completed order

            replayed: list[TradeEvent] = []

            async def on_trade(event: TradeEvent) -> None:
                replayed.append(event)

            assert await second.replay_executions(on_trade) == 3
            truth = {e.view.exec_id: e.view for e in r.tws.executions}
            assert sorted(e.fill.exec_id for e in replayed if e.fill) == sorted(truth)
            for event in replayed:
                assert event.fill is not None
                view = truth[event.fill.exec_id]
                assert (event.broker_client_id, event.fill.quantity) == (
                    view.order_ref,
                    view.shares,
                )
                assert event.fill.fee == commission(event.fill.quantity, event.fill.price) > 0
                assert event.cum_filled == view.cum_qty

            # The stream that starts next, and a second replay, book nothing again.
            assert await second.replay_executions(on_trade) == 0
            later = Sink()
            await second.stream(
                StreamSinks(later.on_bar, later.on_trade, later.on_bad, later.on_connected)
            )
            await wait_until(lambda: later.connected >= 1)
            await asyncio.sleep(0.2)
            assert later.fills() == [] and len(replayed) == 3
            assert await second.positions() == {"AAPL": 38, "MSFT": 12}
            await second.close()

    run(body(), timeout=90)


def test_replay_gives_up_quickly_when_tws_is_not_there() -> None:
    """TWS down at the gateway's start: nothing is replayed (the stream's own replay
    after the connect books the executions), and the start is not held up for
    longer than the connect timeout."""

    async def body() -> None:
        async with tws_standin() as r:
            port = r.port
            await r.tws.stop()
            broker = IbkrBroker(
                IbkrConfig(port=port, client_id=6), SYMBOLS, connect_timeout=0.5, max_backoff=0.5
            )
            got: list[TradeEvent] = []

            async def on_trade(event: TradeEvent) -> None:
                got.append(event)

            loop = asyncio.get_running_loop()
            started_at = loop.time()
            assert await broker.replay_executions(on_trade) == 0
            assert loop.time() - started_at < 5 and got == []
            await broker.close()

    run(body(), timeout=30)
