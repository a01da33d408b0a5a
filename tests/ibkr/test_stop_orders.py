"""Resting stop orders through IBKR (issue 12): the adapter sends the engine's
protective stop as an IB STP order (trigger in ``auxPrice``); the TWS stand-in
rests it in the simulator's venues, which trigger it once the tape trades
through it (at the stop, or the open of a bar beyond it) and leave it resting
otherwise; a modify moves ``auxPrice``."""

from __future__ import annotations

from core.commands import OrderType, ReplaceOrder, Side, SubmitOrder, TimeInForce
from gateway.brokers.ibkr.mapping import ib_order
from tests.ibkr.conftest import run, tws_standin, wait_until
from tests.ibkr.test_adapter import started

FAR = 10**14  # $100,000: beyond any price the stand-in's market prints


def stop(ref: str, side: Side, price: int, qty: int = 10) -> SubmitOrder:
    return SubmitOrder(
        0, ref, None, "AAPL", side, qty, OrderType.STOP, None, TimeInForce.GTC,
        algo="STOP", stop_price=price,
    )  # fmt: skip


def test_the_engines_stop_maps_to_an_ib_stp_order() -> None:
    order = ib_order(stop("s1", Side.SELL, 95_500_000_000), "s1", "DU1")
    assert (order.orderType, order.auxPrice, order.action, order.tif) == (
        "STP",
        95.5,
        "SELL",
        "GTC",
    )
    assert order.algoStrategy == ""  # the stop is the broker's, never an IB algo


def test_a_stp_rests_at_tws_and_triggers_when_traded_through() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r)
            await broker.submit(stop("ns-s1", Side.SELL, FAR), "ns-s1")  # above: triggers
            await broker.submit(stop("ns-s2", Side.BUY, FAR), "ns-s2")  # far above: rests
            await wait_until(lambda: sink.fills("ns-s1"))
            [fill] = sink.fills("ns-s1")
            assert fill.quantity == 10 and 0 < fill.price < FAR  # the open through the stop
            assert await broker.positions() == {"AAPL": -10}
            moved = ReplaceOrder(0, "ns-s3", "ns-s2", "AAPL", Side.BUY, 10, None, 2 * FAR)
            await broker.replace(moved, "ns-s2", "ns-s3")
            await wait_until(lambda: any(t.event == "replaced" for t in sink.trades))
            record = next(o for o in r.tws.orders.values() if o.order_ref == "ns-s3")
            assert record.order_type == "STP" and record.aux_text == str(2 * FAR // 10**9)
            assert r.tws.book.orders[record.book_id].stop_price == 2 * FAR
            assert [o.broker_client_id for o in await broker.open_orders()] == ["ns-s3"]
            assert sink.fills("ns-s3") == [] and sink.fills("ns-s2") == []
            await broker.close()

    run(body())
