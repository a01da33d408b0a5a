"""Resting stop orders over FIX (issue 12): OrdType=3 with StopPx(99).

The gateway's FIX adapter sends the engine's protective stop as a stop order;
the prime-broker stand-in rests it in the simulator's venues, which trigger it
once the tape trades through it (filled at the stop, or at the open of a bar
already beyond it) and leave it resting otherwise; a replace moves StopPx.
"""

from __future__ import annotations

from core.commands import OrderType, ReplaceOrder, Side, SubmitOrder, TimeInForce
from fix.orders import OrderMapper
from gateway.brokers.prime_fix import PrimeFixBroker
from tests.primefix.conftest import Recorder, prime_standin, run, settings, wait_until
from tests.primefix.test_adapter import DataOnly

FAR = 10**13  # $10,000: above any price the stand-in's market prints


def test_the_mapper_sends_ordtype_3_with_stoppx_and_keeps_it_across_a_replace() -> None:
    mapper = OrderMapper("ACCT")
    stop = SubmitOrder(
        0, "s1", None, "AAPL", Side.SELL, 100, OrderType.STOP, None, TimeInForce.GTC,
        stop_price=95 * 10**9,
    )  # fmt: skip
    kind, fields = mapper.new_order_single(stop)
    tags = dict(fields)
    assert (kind, tags[40], tags[99], tags[59]) == (b"D", b"3", "95", b"1")
    assert 44 not in tags
    _, moved = mapper.replace_request(
        ReplaceOrder(0, "s2", "s1", "AAPL", Side.SELL, 60, None, 97 * 10**9)
    )
    assert (dict(moved)[40], dict(moved)[99], dict(moved)[38]) == (b"3", "97", 60)
    _, kept = mapper.replace_request(ReplaceOrder(0, "s3", "s2", "AAPL", Side.SELL, 50))
    assert dict(kept)[99] == "97"


def test_a_stop_rests_at_the_prime_broker_and_triggers_when_traded_through(tmp_path) -> None:
    async def scenario() -> None:
        async with prime_standin() as running:
            data = DataOnly(running.standin.market_now())
            broker = PrimeFixBroker(settings(running.port, tmp_path / "fix.db"), data)
            rec = Recorder()
            await rec.attach(broker)
            assert await broker.connect()
            now = running.standin.market_now()

            def stop(cid: str, side: Side, price: int) -> SubmitOrder:
                return SubmitOrder(
                    now, cid, None, "AAPL", side, 100, OrderType.STOP, None, TimeInForce.GTC,
                    stop_price=price,
                )  # fmt: skip

            # A sell stop above the market: the next bar is through it -> filled at its open.
            through = await broker.submit(stop("s1", Side.SELL, FAR), "acct-s1")
            resting = await broker.submit(stop("s2", Side.BUY, FAR), "acct-s2")
            assert (through.status, resting.status) == ("new", "new")
            await wait_until(lambda: sum(f.quantity for f in rec.fills) == 100, 30)
            (fill,) = rec.fills
            assert fill.client_order_id == "acct-s1" and fill.side is Side.SELL
            assert fill.price < FAR  # the open of the bar that gapped through the stop
            book = running.pb.book
            assert book.orders["acct-s1"].order_type is OrderType.STOP
            # the buy stop far above rests, untouched, and a replace moves it
            (open_one,) = await broker.open_orders()
            assert open_one.broker_client_id == "acct-s2"
            moved = ReplaceOrder(now, "s2b", "s2", "AAPL", Side.BUY, 100, None, FAR * 2)
            await broker.replace(moved, "acct-s2", "acct-s2b")
            await wait_until(lambda: any(t.event == "replaced" for t in rec.trades))
            assert book.orders["acct-s2b"].stop_price == FAR * 2
            assert [f.client_order_id for f in rec.fills] == ["acct-s1"]
            await broker.close()

    run(scenario())
