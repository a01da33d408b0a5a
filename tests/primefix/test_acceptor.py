"""The prime-broker acceptor over TCP: our FIX initiator and OrderMapper against it."""

from __future__ import annotations

import asyncio

from core.commands import CancelOrder, OrderType, OrdStatus, ReplaceOrder, Side, SubmitOrder
from fix.framing import FixMessage
from fix.orders import OrderMapper
from fix.session import Session, SessionConfig
from fix.store import MemoryStore
from fix.transport import FixInitiator
from tests.primefix.conftest import prime_standin, run, wait_until


class Client:
    def __init__(self, port: int) -> None:
        config = SessionConfig("FIX.4.4", "SOVEREIGN", "PRIMEBROKER", initiator=True)
        self.session = Session(config, MemoryStore())
        self.received: list[FixMessage] = []
        self.initiator = FixInitiator(self.session, "127.0.0.1", port, on_app=self.received.append)
        self.mapper = OrderMapper()

    async def __aenter__(self) -> Client:
        self.initiator.start()
        await asyncio.wait_for(self.initiator.logged_on.wait(), 5)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.initiator.stop()

    def reports(self, cl: str) -> list[FixMessage]:
        return [m for m in self.received if m.get(11) == cl.encode() or m.get(41) == cl.encode()]


def test_dark_midpoint_peg_with_min_qty_fills_at_the_midpoint_or_not_at_all():
    async def scenario() -> None:
        async with prime_standin() as running, Client(running.port) as client:
            now = running.standin.market_now()
            for i, venue in enumerate(["SIGMA-X", "CROSSFINDER", "MS-POOL", "LEVEL-ATS"]):
                cmd = SubmitOrder(
                    now,
                    f"D{i}",
                    None,
                    "AAPL",
                    Side.BUY,
                    30_000,
                    OrderType.PEGGED_MIDPOINT,
                    venue=venue,
                    min_quantity=2_000,
                )
                client.initiator.send(*client.mapper.new_order_single(cmd))
            await wait_until(lambda: len(running.pb.book.executions) >= 4, 20)
            execs = running.pb.book.executions
            for e in execs:
                assert e["qty"] >= 2_000 and e["order_type"] == "pegged_midpoint"
            await wait_until(
                lambda: len([m for m in client.received if m.get(150) == b"F"]) >= len(execs)
            )
            fills = [m for m in client.received if m.get(150) == b"F"]
            assert {m[17].decode() for m in fills} >= {e["exec_id"] for e in execs[:4]}
            for m in fills:
                assert m.get(18) == b"M" and m.get(40) == b"P" and int(m[32]) >= 2_000
                assert m.get(30) in (b"SIGMA-X", b"CROSSFINDER", b"MS-POOL", b"LEVEL-ATS")
                assert int(m[110]) == 2_000
            assert client.session.counters["rejects_sent"] == 0  # every report validated

    run(scenario())


def test_lit_order_cancel_replace_and_status_over_fix():
    async def scenario() -> None:
        async with prime_standin() as running, Client(running.port) as client:
            m, now = client.mapper, running.standin.market_now()
            lit = SubmitOrder(now, "L1", None, "MSFT", Side.BUY, 500, venue="NASDAQ")
            rest = SubmitOrder(
                now, "P1", None, "MSFT", Side.BUY, 100, OrderType.LIMIT, 10**9, venue="ARCA"
            )
            client.initiator.send(*m.new_order_single(lit))
            client.initiator.send(*m.new_order_single(rest))
            await wait_until(lambda: any(x.get(39) == b"2" for x in client.reports("L1")))
            fill = next(x for x in client.reports("L1") if x.get(150) == b"F")
            assert fill.get(30) == b"NASDAQ" and fill.get(12) == b"1.5"  # 500 × $0.003
            client.initiator.send(
                *m.replace_request(ReplaceOrder(now, "P2", "P1", "MSFT", Side.BUY, 200, 2 * 10**9))
            )
            await wait_until(lambda: any(x.get(150) == b"5" for x in client.reports("P2")))
            replaced = next(x for x in client.reports("P2") if x.get(150) == b"5")
            assert (replaced[41], replaced[38], replaced[44]) == (b"P1", b"200", b"2")
            client.initiator.send(b"H", [(11, "P1"), (54, b"1"), (55, "MSFT"), (790, "q1")])
            await wait_until(lambda: any(x.get(790) == b"q1" for x in client.received))
            status = next(x for x in client.received if x.get(790) == b"q1")
            assert (status[150], status[11], status[39]) == (b"I", b"P2", b"0")
            client.initiator.send(b"AF", [(584, "all"), (585, 7)])
            await wait_until(lambda: any(x.get(584) == b"all" for x in client.received))
            mass = [x for x in client.received if x.get(584) == b"all"]
            assert [(x[11], x[911], x.get(912)) for x in mass] == [(b"P2", b"1", b"Y")]
            client.initiator.send(
                *m.cancel_request(CancelOrder(now, "P2-x", "P2", "MSFT", Side.BUY))
            )
            await wait_until(lambda: any(x.get(150) == b"4" for x in client.reports("P2")))
            client.initiator.send(
                *m.cancel_request(CancelOrder(now, "P2-y", "P2", "MSFT", Side.BUY))
            )
            await wait_until(lambda: any(x.msg_type == b"9" for x in client.received))
            (reject,) = [x for x in client.received if x.msg_type == b"9"]
            assert reject[41] == b"P2" and b"too late" in reject[58]
            events = [e for x in client.received if x.get(150) != b"I" for e in m.on_message(x, 0)]
            assert events[-1].status is OrdStatus.CANCELED
            assert running.pb.book.positions == {"MSFT": 500}

    run(scenario())


def test_orders_the_book_cannot_take_are_rejected_with_the_field_named():
    async def scenario() -> None:
        async with prime_standin() as running, Client(running.port) as client:
            base = [(21, b"1"), (54, b"1"), (55, b"AAPL"), (60, b"20240104-14:30:00")]
            client.initiator.send(b"D", [(11, "B1"), (38, 100), (40, b"P"), *base])
            client.initiator.send(b"D", [(11, "B2"), (38, b"10.5"), (40, b"1"), *base])
            client.initiator.send(b"D", [(11, "B3"), (38, 100), (40, b"2"), *base])
            client.initiator.send(b"D", [(11, "B4"), (38, 100), (40, b"1"), (59, b"6"), *base])
            await wait_until(lambda: len([x for x in client.received if x[150] == b"8"]) == 4)
            texts = {x[11]: x[58] for x in client.received if x[150] == b"8"}
            assert b"ExecInst(18)" in texts[b"B1"]
            assert b"OrderQty(38)" in texts[b"B2"]
            assert b"Price(44)" in texts[b"B3"]
            assert b"TimeInForce(59)" in texts[b"B4"]
            assert running.pb.app.counters["bad_orders"] == 4
            assert running.pb.book.executions == []
            client.initiator.send(b"g", [(263, b"0"), (335, "t1")])  # not a prime broker's
            await wait_until(lambda: any(x.msg_type == b"j" for x in client.received))

    run(scenario())
