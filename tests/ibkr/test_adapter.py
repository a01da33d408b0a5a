"""The IBKR adapter end to end through the Broker protocol, against the TWS stand-in."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import pytest

from core.commands import OrderType, OrdStatus, ReplaceOrder, Side, SubmitOrder
from core.errors import BadInput
from core.events import Bar
from core.money import format_price
from gateway.brokers.base import NotFound, RejectedRequest, StreamSinks, TradeEvent
from gateway.brokers.ibkr import IbkrBroker
from gateway.config import IbkrConfig
from standins.tws import protocol as p
from standins.tws.book import commission
from tests.ibkr.conftest import Running, run, tws_standin, wait_until

SYMBOLS = ["AAPL", "MSFT"]


@dataclass
class Sink:
    bars: list[Bar] = field(default_factory=list)
    trades: list[TradeEvent] = field(default_factory=list)
    bad: list[tuple[str, Exception]] = field(default_factory=list)
    connected: int = 0

    async def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)

    async def on_trade(self, event: TradeEvent) -> None:
        self.trades.append(event)

    async def on_bad(self, what: str, exc: Exception) -> None:
        self.bad.append((what, exc))

    async def on_connected(self) -> None:
        self.connected += 1

    def fills(self, ref: str | None = None) -> list:
        return [
            t.fill for t in self.trades if t.fill and (ref is None or t.broker_client_id == ref)
        ]

    def updates(self, ref: str) -> list[OrdStatus]:
        return [t.update.status for t in self.trades if t.update and t.broker_client_id == ref]


def order(ref: str, symbol: str = "AAPL", qty: int = 10, **kw: object) -> SubmitOrder:
    return SubmitOrder(0, ref, None, symbol, Side.BUY, qty, **kw)  # type: ignore[arg-type]


async def started(r: Running, client_id: int = 9, **kw: object) -> tuple[IbkrBroker, Sink]:
    broker = IbkrBroker(IbkrConfig(port=r.port, client_id=client_id), SYMBOLS, **kw)  # type: ignore[arg-type]
    sink = Sink()
    await broker.stream(StreamSinks(sink.on_bar, sink.on_trade, sink.on_bad, sink.on_connected))
    return broker, sink


def test_market_orders_fill_with_the_stand_ins_exec_ids_and_positions_agree() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r)
            placed = await broker.submit(order("ns-a1", qty=30), "ns-a1")
            assert placed.broker_client_id == "ns-a1" and placed.open
            await broker.submit(order("ns-m1", "MSFT", 12), "ns-m1")
            await wait_until(lambda: len(sink.fills()) == 2)
            truth = {e.view.exec_id: e.view for e in r.tws.executions}
            for fill in sink.fills():
                view = truth[fill.exec_id]
                assert (fill.client_order_id, fill.quantity) == (view.order_ref, view.shares)
                assert fill.fee == commission(fill.quantity, fill.price) > 0
                assert fill.venue == "ibkr" and fill.side is Side.BUY
            assert sink.updates("ns-a1")[0] is OrdStatus.NEW
            assert [t.cum_filled for t in sink.trades if t.fill] == [30, 12] or [
                t.cum_filled for t in sink.trades if t.fill
            ] == [12, 30]
            assert await broker.positions() == {"AAPL": 30, "MSFT": 12}
            book = r.tws.book
            assert {s: q.qty for s, q in book.positions.items()} == {"AAPL": 30, "MSFT": 12}
            done = await broker.order("ns-a1")
            assert done is not None and done.status == "filled" and not done.open
            [aapl_fill] = sink.fills("ns-a1")
            assert (done.filled, done.filled_notional) == (30, 30 * aapl_fill.price)
            # the next minute's account push carries the fill: wait for it, not 0.15 s
            deadline = asyncio.get_running_loop().time() + 60
            account = await broker.account()
            while account.cash != book.cash and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.02)
                account = await broker.account()
            assert account.cash == book.cash and account.equity == book.equity()
            assert account.buying_power == book.buying_power()
            assert len({f.exec_id for f in sink.fills()}) == 2 and not sink.bad
            state = r.tws.state_json()
            assert state["positions"] == {"AAPL": 30, "MSFT": 12}
            assert {e["exec_id"] for e in state["executions"]} == {f.exec_id for f in sink.fills()}
            assert state["values"]["TotalCashValue"] == format_price(book.cash)
            await broker.close()

    run(body())


def test_limit_orders_modify_and_cancel() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r)
            await broker.submit(
                order("ns-l1", order_type=OrderType.LIMIT, limit_price=10**9), "ns-l1"
            )
            await wait_until(lambda: sink.updates("ns-l1"))
            replaced = await broker.replace(
                ReplaceOrder(0, "ns-l2", "ns-l1", "AAPL", Side.BUY, 8, 2 * 10**9), "ns-l1", "ns-l2"
            )
            assert (replaced.broker_client_id, replaced.quantity) == ("ns-l2", 8)
            await wait_until(lambda: any(t.event == "replaced" for t in sink.trades))
            [event] = [t for t in sink.trades if t.event == "replaced"]
            assert event.broker_client_id == "ns-l1"
            record = next(iter(r.tws.orders.values()))
            assert (record.order_ref, record.quantity, record.lmt_text) == ("ns-l2", 8, "2")
            assert r.tws.book.orders[record.book_id].limit_price == 2 * 10**9
            await broker.cancel("ns-l2")
            await wait_until(lambda: OrdStatus.CANCELED in sink.updates("ns-l2"))
            after = await broker.order("ns-l2")
            assert after is not None and after.status == "canceled" and not after.open
            with pytest.raises(RejectedRequest):
                await broker.cancel("ns-l2")
            with pytest.raises(NotFound):
                await broker.cancel("never-sent")
            assert await broker.open_orders() == []
            await broker.close()

    run(body())


def test_refusals_surface_as_rejected_requests() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r)
            with pytest.raises(RejectedRequest) as refused:
                await broker.submit(order("ns-big", qty=10**7), "ns-big")
            assert refused.value.status == 201 and "buying power" in refused.value.reason
            assert await broker.order("ns-big") is None  # refused: no order left behind
            await asyncio.sleep(0.1)
            assert sink.updates("ns-big") == []  # told once, by the exception
            with pytest.raises(NotFound):
                await broker.submit(order("ns-x", "NOPE"), "ns-x")
            with pytest.raises(RejectedRequest):
                await broker.submit(order("ns-peg", order_type=OrderType.PEGGED_MIDPOINT), "ns-peg")
            assert r.tws.counters["rejected_orders"] == 1
            await broker.close()

    run(body())


def test_children_carry_ib_algos_by_the_engines_algorithm() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, _sink = await started(r)
            await broker.clock()  # learns the market time for the algo's end time
            await broker.submit(order("ns-v", algo="vwap"), "ns-v")
            await broker.submit(
                order(
                    "ns-ad", order_type=OrderType.LIMIT, limit_price=10**9, algo="adaptive:patient"
                ),
                "ns-ad",
            )
            await broker.submit(order("ns-t", algo="twap"), "ns-t")
            await broker.submit(order("ns-p", algo="pov"), "ns-p")
            by_ref = {o.order_ref: o for o in r.tws.orders.values()}
            assert by_ref["ns-v"].algo == "Vwap"
            assert dict(by_ref["ns-v"].algo_params)["endTime"].endswith("US/Eastern")
            assert dict(by_ref["ns-ad"].algo_params) == {"adaptivePriority": "Patient"}
            assert by_ref["ns-t"].algo == "Twap" and by_ref["ns-p"].algo == ""
            await broker.close()

    run(body())


def test_history_and_live_bars_are_the_markets() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r)
            clock = await broker.clock()
            assert clock.is_open and clock.next_close_ns > clock.time_ns
            assert abs(clock.time_ns - r.standin.market_now()) < 5 * 10**9
            start = r.standin.market.sessions[1][0]
            end = r.standin.market.live_start_ns
            bars = await broker.bars(SYMBOLS, start, end)
            tape = sorted(
                (b for s in SYMBOLS for b in r.standin.tape.bars[s] if start <= b.time_ns < end),
                key=lambda b: (b.time_ns, SYMBOLS.index(b.symbol)),
            )
            assert [(b.symbol, b.time_ns, b.close, b.volume) for b in bars] == [
                (b.symbol, b.time_ns, b.close, b.volume) for b in tape
            ]
            await wait_until(lambda: len(sink.bars) >= 6)
            published = {(b.symbol, b.time_ns): b for s in SYMBOLS for b in r.standin.tape.bars[s]}
            for bar in sink.bars:
                want = published[(bar.symbol, bar.time_ns)]
                assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
                    want.open,
                    want.high,
                    want.low,
                    want.close,
                    want.volume,
                )
            assert r.tws.counters.get("pacing_violations", 0) == 0
            await broker.close()

    run(body())


def test_a_dropped_tws_socket_mid_order_loses_and_duplicates_nothing() -> None:
    async def body() -> None:
        async with tws_standin(speed=60.0) as r:  # a minute per second: the drop comes first
            broker, sink = await started(r)
            for i in range(3):
                await broker.submit(order(f"ns-d{i}", qty=5 + i), f"ns-d{i}")
            assert r.tws.drop() == 1
            await r.tws.stop()  # and TWS stays away while the orders fill
            await wait_until(lambda: len(r.tws.executions) == 3, timeout=15)
            assert sink.fills() == []
            await r.tws.start("127.0.0.1", r.port)
            await wait_until(lambda: len(sink.fills()) == 3, timeout=15)
            assert broker.reconnects >= 1 and sink.connected >= 2
            assert broker.reconciled_fills == 3
            r.tws.drop()  # again, after everything filled: nothing new may be booked
            await wait_until(lambda: sink.connected >= 3, timeout=15)
            await asyncio.sleep(0.3)
            delivered = [f.exec_id for f in sink.fills()]
            assert sorted(delivered) == sorted(e.view.exec_id for e in r.tws.executions)
            assert len(delivered) == len(set(delivered)) == 3
            assert all(f.fee > 0 for f in sink.fills())  # commissions came with the replay
            assert await broker.positions() == {"AAPL": 5 + 6 + 7}
            await broker.close()

    run(body(), timeout=90)


def test_malformed_server_messages_are_counted_bad_input_not_a_crash() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r, commission_wait=0.2)
            r.tws.inject([11, -1, "garbage"])  # execDetails cut short
            r.tws.inject([3, "abc", "Filled", "x", "y"])  # orderStatus with words for numbers
            await wait_until(lambda: len(sink.bad) >= 2)
            assert broker.bad_messages >= 2
            assert all(isinstance(e, BadInput) for _, e in sink.bad)
            await broker.submit(order("ns-ok", qty=4), "ns-ok")
            await wait_until(lambda: sink.fills("ns-ok"))
            record = next(o for o in r.tws.orders.values() if o.order_ref == "ns-ok")
            weird = p.ExecutionView(
                exec_id="bad.side.1",
                order_id=record.order_id,
                client_id=record.client_id,
                perm_id=record.perm_id,
                con_id=record.con_id,
                symbol="AAPL",
                time_text="20240104 09:45:00 US/Eastern",
                account="DU0000001",
                exchange="ISLAND",
                side="XXX",
                shares=1,
                price="185.00",
                cum_qty=5,
                avg_price="185.00",
                order_ref="ns-ok",
                commission="1",
            )
            before = len(sink.bad)
            r.tws.inject(p.exec_details(-1, weird))
            await wait_until(lambda: len(sink.bad) > before)
            what, error = sink.bad[-1]
            assert what == "execution" and isinstance(error, BadInput)
            assert "execution.side" in str(error)
            assert [f.exec_id for f in sink.fills("ns-ok")] == [
                e.view.exec_id for e in r.tws.executions
            ]
            assert await broker.positions() == {"AAPL": 4}  # state untouched
            await broker.close()

    run(body())


def test_connect_backs_off_until_tws_is_up() -> None:
    async def body() -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        async with tws_standin() as r:
            await r.tws.stop()  # the stand-in's market runs; its TWS port is closed
            broker = IbkrBroker(IbkrConfig(port=port, client_id=2), SYMBOLS, connect_timeout=1.0)
            connecting = asyncio.get_running_loop().create_task(broker.connect())
            await asyncio.sleep(1.2)  # a nightly restart: refused, refused...
            assert not connecting.done()
            await r.tws.start("127.0.0.1", port)
            await asyncio.wait_for(connecting, 10)
            account = await broker.account()
            assert account.cash == r.tws.book.cash
            await broker.close()

    run(body())


def test_a_pacing_violation_tws_reports_anyway_is_retried_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import standins.tws.bar_requests as tws_server
    from gateway.brokers.ibkr.pacing import HistoricalPacer

    monkeypatch.setattr(tws_server, "HIST_IDENTICAL_S", 0.5)

    async def body() -> None:
        async with tws_standin() as r:
            # Our pacer is told nothing of the identical-request rule (as if another
            # client on the login spent it): TWS refuses, the adapter waits and retries.
            careless = HistoricalPacer(identical_gap_s=0.0)
            broker, _sink = await started(r, pacer=careless, pacing_retry_s=0.6)
            start = r.standin.market.sessions[1][0]
            end = start + 30 * 60 * 10**9
            first = await broker.bars(["AAPL"], start, end)
            second = await broker.bars(["AAPL"], start, end)
            assert len(first) == 30 and second == first
            assert broker.rate_limited == 1 and r.tws.counters["pacing_violations"] == 1
            await broker.close()

    run(body())


def test_the_ib_account_is_a_margin_account_shorts_allowed() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r)
            before = await broker.account()
            short = SubmitOrder(0, "ns-s", None, "AAPL", Side.SELL, 40)
            await broker.submit(short, "ns-s")
            await wait_until(lambda: sink.fills("ns-s"))
            assert await broker.positions() == {"AAPL": -40}
            [fill] = sink.fills("ns-s")
            book = r.tws.book
            assert book.positions["AAPL"].cost == -40 * fill.price  # received
            assert book.cash == before.cash + 40 * fill.price - fill.fee
            cover = SubmitOrder(0, "ns-c", None, "AAPL", Side.BUY, 40)
            await broker.submit(cover, "ns-c")
            await wait_until(lambda: sink.fills("ns-c"))
            assert await broker.positions() == {}
            await broker.close()

    run(body())


@pytest.mark.parametrize("arrived", [False, True])
def test_an_order_in_flight_when_the_socket_dies_is_placed_exactly_once(
    monkeypatch: pytest.MonkeyPatch, arrived: bool
) -> None:
    """The socket dies between placeOrder and TWS's answer. Whether TWS got the
    order is learnt after the reconnect (its open orders, by orderRef): an order
    that arrived is not placed again, one that did not is."""
    from standins.tws.server import TwsServer

    original = TwsServer._handlers[3]  # placeOrder
    calls: list[int] = []

    def flaky(self: TwsServer, session, f):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 1:
            if arrived:
                original(self, session, f)  # TWS takes it; its answer is lost
            self.drop()
            return None
        return original(self, session, f)

    monkeypatch.setitem(TwsServer._handlers, 3, flaky)

    async def body() -> None:
        async with tws_standin() as r:
            broker, sink = await started(r)
            placed = await broker.submit(order("ns-f", qty=3), "ns-f")
            assert placed.broker_client_id == "ns-f" and broker.reconnects == 1
            assert [o.order_ref for o in r.tws.orders.values()] == ["ns-f"]
            assert len(calls) == (1 if arrived else 2)
            await wait_until(lambda: sink.fills("ns-f"))
            assert await broker.positions() == {"AAPL": 3}
            await broker.close()

    run(body())
