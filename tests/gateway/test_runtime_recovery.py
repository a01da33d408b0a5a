"""The runtime's recovery paths, in process and deterministic: the real Gateway
and Engine, the stand-in's order book as the broker, a crash in the middle."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.commands import Fill, OrdStatus, Side
from core.errors import BadInput
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.session import MarketTime
from gateway.storage import Storage
from standins.market import load_market
from tests.gateway.agreement import compare
from tests.gateway.inprocess import InProcessBroker

CONFIG = """
[broker]
type = "alpaca"
[alpaca]
api_key = "k-inproc"
secret_key = "s-inproc"
[portfolio]
initial_balance = 50000
[universe]
symbols = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
"""


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return load_market("range", 1, history_days=0, days=2)


def gateway(db: Path, broker: InProcessBroker) -> Gateway:
    """An in-process gateway whose market time is the bars' and the broker's
    clock readings only: never extrapolated with the wall clock, so what it
    decides (the stale-entry rule, timers) does not depend on the machine's
    speed or load."""
    config = parse_config(CONFIG, env={}, base=db.parent)
    g = Gateway(config, broker, Storage(db), None, RuntimeOptions())
    g.state.market = MarketTime(monotonic=lambda: 0.0)
    return g


def snapshot(g: Gateway) -> tuple[object, ...]:
    e = g.engine
    return (
        e.positions(),
        e.cash,
        [o.client_order_id for o in e.open_orders()],
        sorted(p.parent_id for p in e.parents()),
        e.counters()["fills"],
    )


async def _publish(broker: InProcessBroker, g: Gateway | None, bars) -> None:  # type: ignore[no-untyped-def]
    for bar in bars:
        await broker.publish(bar)
        if g is not None:
            await g.settle()


def test_crash_with_missed_fills_recovers_exactly(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> dict[str, object]:
        bars = list(market.live)
        db = tmp_path / "g.db"
        broker = InProcessBroker(market)
        first = gateway(db, broker)
        await first.start(loops=False)
        # Trade past the first fill, then crash while an order is at the broker
        # unfilled: its fill will happen while nobody listens.
        cut = None
        for i, bar in enumerate(bars):
            await _publish(broker, first, [bar])
            live = [o for o in first.engine.open_orders() if o.status is OrdStatus.NEW]
            if first.counters.fills and live:
                cut = i
                break
        assert cut is not None, "no fill followed by a working order in the first session"
        before = snapshot(first)
        await first.crash()
        broker.disconnect()
        # While down, the market moves on and resting orders can fill unseen.
        down = bars[cut + 1 : cut + 1 + 600]
        await _publish(broker, None, down)
        # Restart on the same database.
        second = gateway(db, broker)
        replayed = gateway(db, broker)
        replayed.inputs.replay()
        assert snapshot(replayed) == before  # the journal rebuilds the engine exactly
        await second.start(loops=False)
        await _publish(broker, second, bars[cut + 1 + 600 :])
        await second.reconcile(startup=False, grace=0.0)
        await second.settle()
        same = await second.reconciler.check_positions("end")
        return {"second": second, "broker": broker, "same": same}

    result = asyncio.run(scenario())
    second: Gateway = result["second"]  # type: ignore[assignment]
    broker: InProcessBroker = result["broker"]  # type: ignore[assignment]
    agreement = compare(second.storage.path, broker.book.state_json())
    assert agreement.problems == []
    assert agreement.db_executions >= 2
    assert result["same"] is True
    assert broker.lost_events >= 1 and agreement.reconciled_executions >= 1
    print(f"\nin-process crash: {agreement}, lost stream events {broker.lost_events}")
    assert second.counters.replayed > 0


def test_duplicate_and_already_reconciled_executions_are_dropped(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[Gateway, int, int]:
        broker = InProcessBroker(market)
        g = gateway(tmp_path / "d.db", broker)
        await g.start(loops=False)
        fills_before = 0
        for bar in market.live:
            await _publish(broker, g, [bar])
            if g.counters.fills:
                break
        fills_before = g.engine.counters()["fills"]
        row = g.storage.booked.executions()[0]
        again = Fill(
            int(row["time_ns"]),
            str(row["client_order_id"]),
            str(row["exec_id"]),  # type: ignore[call-overload]
            str(row["symbol"]),
            g.engine.order(str(row["client_order_id"])).side,  # type: ignore[union-attr]
            int(row["quantity"]),
            int(row["price"]),
        )  # type: ignore[call-overload]
        await g.feed(again)  # the broker repeats an execution
        # the same quantity again under another id, as a stream would after reconciliation
        fill_event = broker.book.fills[0]
        from gateway.brokers.alpaca import trade_event_from_raw

        order = broker.book.find_by_client_id(fill_event["client_order_id"])
        event = trade_event_from_raw(
            {
                "stream": "trade_updates",
                "data": {
                    "event": "fill",
                    "execution_id": "11111111-2222-4333-8444-555555555555",
                    "timestamp": fill_event["timestamp"],
                    "price": fill_event["price"],
                    "qty": fill_event["qty"],
                    "order": broker.book.order_json(order),
                },
            }
        )
        await g.streams.on_trade(event)
        return g, fills_before, g.engine.counters()["fills"]

    g, before, after = asyncio.run(scenario())
    assert after == before
    assert g.counters.duplicate_executions == 2
    assert g.storage.count("executions") == before


def test_malformed_input_is_counted_and_changes_nothing(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[Gateway, tuple[object, ...], tuple[object, ...]]:
        broker = InProcessBroker(market)
        g = gateway(tmp_path / "m.db", broker)
        await g.start(loops=False)
        await _publish(broker, g, market.live[:50])
        before = snapshot(g)
        inputs = g.storage.count("inputs")
        await g.streams.on_bad("bar", BadInput("bar.t", "garbage", "is not an ISO-8601 time"))
        await g.streams.on_bar(market.live[10])  # an old bar again: ignored
        await g.settle()
        assert g.storage.count("inputs") == inputs
        return g, before, snapshot(g)

    g, before, after = asyncio.run(scenario())
    assert before == after and g.counters.bad_inputs == 1


def test_order_decided_but_never_sent_is_sent_once_on_restart(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[InProcessBroker, Gateway, str]:
        broker = InProcessBroker(market)
        db = tmp_path / "u.db"
        first = gateway(db, broker)
        await first.start(loops=False)
        first._tasks[0].cancel()  # the sender dies: decisions are journaled, never sent
        order_id = ""
        for bar in market.live:
            await broker.publish(bar)
            while not first.streams.bars.empty() or first.streams.pumping:
                await asyncio.sleep(0.001)
            pending = [
                o
                for o in first.engine.open_orders()
                if o.status is OrdStatus.PENDING_NEW and o.side is Side.BUY
            ]
            if pending:
                order_id = pending[0].client_order_id
                break
        assert order_id
        await first.crash()
        broker.disconnect()
        second = gateway(db, broker)
        await second.start(loops=False)
        await second.settle()
        return broker, second, second.ids.broker(order_id)

    broker, second, bcid = asyncio.run(scenario())
    sent = [o for o in broker.book.orders.values() if o.client_order_id == bcid]
    assert len(sent) == 1
    stored = second.storage.orders.order(bcid.removeprefix(second.ids.prefix))
    assert stored is not None and stored.sent


class _Interrupted(Exception):
    """Stands for the process dying between the journal commit and the records."""


def test_records_lost_in_a_crash_window_are_rewritten_and_the_order_sent(
    tmp_path: Path,
    market,  # type: ignore[no-untyped-def]
) -> None:
    async def scenario() -> tuple[InProcessBroker, Gateway, str]:
        broker = InProcessBroker(market)
        db = tmp_path / "w.db"
        first = gateway(db, broker)
        await first.start(loops=False)
        real = first.inputs.apply_records
        hit: list[str] = []

        def dying(seq, at_ns, event, commands, engine):  # type: ignore[no-untyped-def]
            buys = [c for c in commands if type(c).__name__ == "SubmitOrder" and c.side is Side.BUY]
            if buys and not hit:
                hit.append(buys[0].client_order_id)
                raise _Interrupted
            real(seq, at_ns, event, commands, engine)

        first.inputs.apply_records = dying  # type: ignore[method-assign]
        for bar in market.live:
            await broker.publish(bar)
            while (not first.streams.bars.empty() or first.streams.pumping) and not hit:
                await asyncio.sleep(0.001)
            if hit:
                break
        # Let the pump hit the failure (its exception ends that task, like a crash).
        for _ in range(200):
            if first._tasks[1].done():
                break
            await asyncio.sleep(0.001)
        assert hit
        assert first.storage.orders.order(hit[0]) is None  # the records transaction never happened
        await first.crash()
        broker.disconnect()
        second = gateway(db, broker)
        await second.start(loops=False)
        await second.settle()
        return broker, second, hit[0]

    broker, second, order_id = asyncio.run(scenario())
    stored = second.storage.orders.order(order_id)
    assert stored is not None and stored.sent
    sent = [
        o for o in broker.book.orders.values() if o.client_order_id == second.ids.broker(order_id)
    ]
    assert len(sent) == 1
    applied = int(second.storage.meta("applied_seq") or 0)
    last = second.storage.db.execute("SELECT MAX(seq) FROM inputs").fetchone()[0]
    assert applied == last


def test_stream_fill_racing_reconciliation_is_booked_once(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    from gateway.brokers.alpaca import trade_event_from_raw

    async def scenario() -> tuple[Gateway, str, int, int]:
        broker = InProcessBroker(market)
        g = gateway(tmp_path / "r.db", broker)
        await g.start(loops=False)
        bars = list(market.live)
        working = None
        for i, bar in enumerate(bars):
            await _publish(broker, g, [bar])
            live = [o for o in g.engine.open_orders() if o.status is OrdStatus.NEW]
            if live:
                working, index = live[0], i
                break
        assert working is not None
        engine_id = working.client_order_id
        broker._on_trade = None  # the fill's stream event is lost...
        bcid = g.ids.broker(engine_id)
        for bar in bars[index + 1 :]:
            await _publish(broker, g, [bar])
            if any(f["client_order_id"] == bcid for f in broker.book.fills):
                break
        fill = [f for f in broker.book.fills if f["client_order_id"] == bcid][-1]
        broker_order = await broker.order(bcid)
        assert broker_order is not None and broker_order.filled > 0
        order = broker.book.find_by_client_id(fill["client_order_id"])
        late = trade_event_from_raw(
            {
                "stream": "trade_updates",
                "data": {
                    "event": "fill",
                    "execution_id": fill["execution_id"],
                    "timestamp": fill["timestamp"],
                    "price": fill["price"],
                    "qty": fill["qty"],
                    "order": broker.book.order_json(order),
                },
            }
        )
        # ...then arrives late, at the same moment reconciliation books it: both
        # have looked at the book before either gets the input lock.
        async with g.inputs.lock:
            racing = [
                asyncio.create_task(g.reconciler.book_missed_fills(engine_id, broker_order)),
                asyncio.create_task(g.streams.on_trade(late)),
            ]
            await asyncio.sleep(0.01)
        await asyncio.gather(*racing)
        booked = sum(
            int(r["quantity"])
            for r in g.storage.booked.executions()  # type: ignore[call-overload]
            if r["client_order_id"] == engine_id
        )
        return g, engine_id, booked, broker_order.filled

    g, engine_id, booked, filled = asyncio.run(scenario())
    assert booked == filled
    assert g.engine.order(engine_id).filled == filled  # type: ignore[union-attr]


class _ForgetfulBroker(InProcessBroker):
    """The broker's book loses track of the orders in ``forgotten``."""

    forgotten: set[str]

    async def order(self, broker_client_id: str):  # type: ignore[no-untyped-def]
        if broker_client_id in self.forgotten:
            return None
        return await super().order(broker_client_id)

    async def open_orders(self):  # type: ignore[no-untyped-def]
        return [o for o in await super().open_orders() if o.broker_client_id not in self.forgotten]


def test_an_acknowledged_order_the_broker_no_longer_knows_is_ended_once(tmp_path, market) -> None:  # type: ignore[no-untyped-def]
    """It was fed as NEW -> REJECTED, an illegal transition the engine refuses, so
    the order stayed live here and was re-reported every reconcile cycle (seen
    in the institutional e2e run: "live here (new) but unknown to the broker")."""

    async def scenario() -> tuple[Gateway, str]:
        broker = _ForgetfulBroker(market)
        broker.forgotten = set()
        g = gateway(tmp_path / "g.db", broker)
        await g.start(loops=False)
        live = []
        for bar in market.live:
            await _publish(broker, g, [bar])
            live = [o for o in g.engine.open_orders() if o.status is OrdStatus.NEW]
            if live:
                break
        assert live, "no working order in the session"
        cid = live[0].client_order_id
        broker.forgotten.add(g.ids.broker(cid))
        for _ in range(3):
            await g.reconcile(startup=False, grace=0.0)
            await g.settle()
        return g, cid

    g, cid = asyncio.run(scenario())
    order = g.engine.order(cid)
    assert order is not None and order.status is OrdStatus.CANCELED
    assert cid not in [o.client_order_id for o in g.engine.open_orders()]
