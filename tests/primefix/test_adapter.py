"""PrimeFixBroker through the Broker protocol against the prime-broker stand-in."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from core.commands import OrderType, ReplaceOrder, Side, SubmitOrder
from core.errors import BadInput
from core.events import Bar
from gateway.brokers.base import MarketClock, NotFound, RejectedRequest, StreamSinks
from gateway.brokers.prime_fix import PrimeFixBroker, PrimeFixSettings
from tests.primefix.conftest import Recorder, prime_standin, run, settings, wait_until


class DataOnly:
    """The market-data half (Alpaca in production): clock and bars."""

    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns
        self.calls: list[str] = []

    async def clock(self) -> MarketClock:
        self.calls.append("clock")
        return MarketClock(self.now_ns, True, self.now_ns, self.now_ns + 10**12)

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        self.calls.append("bars")
        return [Bar("AAPL", start_ns, 10**11, 10**11, 10**11, 10**11, 100)]

    async def stream(self, sinks: StreamSinks) -> None:
        self.calls.append("stream")

    async def close(self) -> None:
        self.calls.append("close")


def test_orders_fills_and_positions_agree_with_the_stand_in(tmp_path):
    async def scenario() -> None:
        async with prime_standin() as running:
            data = DataOnly(running.standin.market_now())
            broker = PrimeFixBroker(settings(running.port, tmp_path / "fix.db"), data)
            rec = Recorder()
            await rec.attach(broker)
            assert await broker.connect()
            now = running.standin.market_now()
            dark = SubmitOrder(
                now,
                "e1",
                None,
                "AAPL",
                Side.BUY,
                8_000,
                OrderType.PEGGED_MIDPOINT,
                venue="SIGMA-X",
                min_quantity=1_000,
            )
            lit = SubmitOrder(now, "e2", None, "MSFT", Side.SELL, 700, venue="NYSE")
            choice = SubmitOrder(now, "e3", None, "NVDA", Side.BUY, 300)
            rest = SubmitOrder(
                now, "e4", None, "AMZN", Side.BUY, 100, OrderType.LIMIT, 10**9, venue="IEX"
            )
            placed = [
                await broker.submit(c, f"acct-{c.client_order_id}")
                for c in (dark, lit, choice, rest)
            ]
            assert [p.status for p in placed] == ["new"] * 4
            assert [p.broker_order_id for p in placed] == ["PB1", "PB2", "PB3", "PB4"]
            await wait_until(lambda: sum(f.quantity for f in rec.fills) == 9_000, 30)
            book = running.pb.book
            assert [f.exec_id for f in rec.fills] == [e["exec_id"] for e in book.executions]
            assert {f.client_order_id for f in rec.fills} == {"acct-e1", "acct-e2", "acct-e3"}
            assert all(
                f.venue == "SIGMA-X" and f.quantity >= 1_000
                for f in rec.fills
                if f.client_order_id == "acct-e1"
            )
            assert await broker.positions() == book.positions
            filled = await broker.order("acct-e1")
            assert filled is not None and (filled.status, filled.filled) == ("filled", 8_000)
            assert (
                filled.filled_notional
                == sum(f.quantity * f.price for f in rec.fills if f.client_order_id == "acct-e1")
                // 8_000
                * 8_000
            )
            assert await broker.order("never-sent") is None
            (open_one,) = await broker.open_orders()
            assert (open_one.broker_client_id, open_one.open) == ("acct-e4", True)
            # replace, then cancel by the engine's original id
            cmd = ReplaceOrder(now, "e4b", "e4", "AMZN", Side.BUY, 200, 2 * 10**9)
            new = await broker.replace(cmd, "acct-e4", "acct-e4b")
            assert new.broker_client_id == "acct-e4b"
            await wait_until(lambda: any(t.event == "replaced" for t in rec.trades))
            replaced = next(t for t in rec.trades if t.event == "replaced")
            assert replaced.broker_client_id == "acct-e4" and replaced.update is None
            old = await broker.order("acct-e4")
            assert old is not None and (old.status, old.replaced_by) == ("replaced", "acct-e4b")
            await broker.cancel("acct-e4")
            await wait_until(lambda: any(t.event == "canceled" for t in rec.trades))
            canceled = next(t for t in rec.trades if t.event == "canceled")
            assert canceled.broker_client_id == "acct-e4b"
            assert canceled.update is not None and canceled.update.client_order_id == "acct-e4b"
            with pytest.raises(RejectedRequest):
                await broker.cancel("acct-e4")
            with pytest.raises(NotFound):
                await broker.cancel("nobody")
            assert await broker.open_orders() == []
            # the market-data half is the data broker's
            assert (await broker.clock()).time_ns == data.now_ns
            await broker.bars(["AAPL"], 0, 60 * 10**9)
            account = await broker.account()
            assert account.cash == -sum(
                (1 if f.side is Side.BUY else -1) * f.quantity * f.price + f.fee for f in rec.fills
            )
            assert rec.bad == [] and broker.counters["duplicates"] == 0
            await broker.close()
            assert data.calls == ["stream", "clock", "bars", "close"]
            assert running.pb.session.state.value == "disconnected"  # logged out

    run(scenario())


def test_rejects_and_cancel_rejects_reach_the_runtime(tmp_path):
    async def scenario() -> None:
        async with prime_standin() as running:
            broker = PrimeFixBroker(settings(running.port, tmp_path / "fix.db"))
            rec = Recorder()
            await rec.attach(broker)
            now = running.standin.market_now()
            bad = SubmitOrder(now, "x", None, "AAPL", Side.BUY, 100, venue="NOWHERE")
            placed = await broker.submit(bad, "acct-x")
            assert (placed.status, placed.open) == ("rejected", False)
            await wait_until(lambda: any(t.event == "rejected" for t in rec.trades))
            (reject,) = [t for t in rec.trades if t.event == "rejected"]
            assert "unknown venue NOWHERE" in reject.update.reason
            with pytest.raises(RejectedRequest, match="limit"):
                await broker.submit(
                    SubmitOrder(now, "y", None, "AAPL", Side.BUY, 100, OrderType.LIMIT), "acct-y"
                )
            with pytest.raises(RejectedRequest):
                await broker.clock()  # no market-data source composed in
            await broker.close()

    run(scenario())


def test_settings_refuse_bad_values_by_name(tmp_path):
    good = dict(host="h", port=1, sender_comp_id="A", target_comp_id="B", store_path=tmp_path)
    for key, value, field in [
        ("port", 0, "fix.port"),
        ("sender_comp_id", "", "fix.sender_comp_id"),
        ("begin_string", "FIX.4.2", "fix.begin_string"),
        ("heartbeat_s", 0, "fix.heartbeat_interval"),
        ("host", "", "fix.host"),
    ]:
        with pytest.raises(BadInput) as info:
            PrimeFixSettings(**{**good, key: value})
        assert info.value.field == field


def test_malformed_reports_are_counted_and_never_corrupt_the_book(tmp_path):
    async def scenario() -> None:
        async with prime_standin() as running:
            broker = PrimeFixBroker(settings(running.port, tmp_path / "fix.db"))
            rec = Recorder()
            await rec.attach(broker)
            assert await broker.connect()
            now = running.standin.market_now()
            await broker.submit(SubmitOrder(now, "a", None, "AAPL", Side.BUY, 100), "g-a")
            session = running.pb.session
            base = [
                (6, b"0"),
                (11, b"g-a"),
                (14, b"0"),
                (37, b"PB1"),
                (39, b"1"),
                (54, b"1"),
                (55, b"AAPL"),
                (151, b"100"),
            ]
            bad = [
                [(17, b"bad-1"), (31, b"abc"), (32, b"10"), (150, b"F")],  # LastPx not a number
                [(17, b"bad-2"), (31, b"1.5"), (32, b"0"), (150, b"F")],  # zero LastQty
                [(17, b"bad-3"), (31, b"1.5"), (32, b"2.5"), (150, b"F")],  # fractional
            ]
            for fields in bad:
                running.pb.acceptor.push(
                    session.config.key, session.send(b"8", [*base, *fields], time.time_ns())
                )
            await wait_until(lambda: len(rec.bad) == 2)
            # "abc" is not a PRICE: the session rejects it (373=6) before the adapter sees it
            assert broker.session.counters["rejects_sent"] == 1
            assert [e.field for _, e in rec.bad] == ["LastQty(32)", "LastQty(32)"]
            await wait_until(lambda: len(rec.fills) == 1, 10)  # the real fill still arrives
            assert await broker.positions() == {"AAPL": 100}
            assert broker.counters["bad_reports"] == 2
            assert broker.counters["logons"] == 1 and broker.logged_on  # the session carried on
            await broker.close()

    run(scenario())


def test_resuming_from_the_executions_table_knows_ids_positions_and_cash(tmp_path):
    rows = [
        {
            "exec_id": "X1",
            "client_order_id": "o1",
            "symbol": "AAPL",
            "side": "buy",
            "quantity": 300,
            "price": 10 * 10**9,
            "fee": 10**9,
            "time_ns": 1,
            "source": "fix",
        },
        {
            "exec_id": "X2",
            "client_order_id": "o2",
            "symbol": "AAPL",
            "side": "sell",
            "quantity": 100,
            "price": 12 * 10**9,
            "fee": 0,
            "time_ns": 2,
            "source": "fix",
        },
    ]
    broker = PrimeFixBroker.resuming(
        settings(1, tmp_path / "fix.db", opening_cash=10_000 * 10**9), None, rows
    )
    assert broker.mapper.exec_ids == {"X1", "X2"}

    async def check() -> None:
        assert await broker.positions() == {"AAPL": 200}
        account = await broker.account()
        assert account.cash == (10_000 - 3_000 - 1 + 1_200) * 10**9
        assert account.equity == account.cash + 200 * 12 * 10**9  # marked at the last price

    run(check())
    with pytest.raises(BadInput) as info:
        PrimeFixBroker.resuming(settings(1, tmp_path / "b.db"), None, [{"exec_id": "X"}])
    assert info.value.field.startswith("executions.")


def test_processed_mark_follows_a_counterparty_reset_but_not_a_resend(tmp_path):
    from gateway.brokers.prime_fix.ledger import ProcessedMark as _ProcessedMark

    mark = _ProcessedMark(tmp_path / "m.db", "k")
    assert mark.seq is None
    mark.set(40)
    mark.set(12, poss_dup=True)  # a resend of an old report: the mark stays
    assert mark.seq == 40
    mark.set(2)  # fresh numbering after a reset (Logon 141=Y from the peer)
    assert mark.seq == 2
    mark.close()
    assert _ProcessedMark(tmp_path / "m.db", "k").seq == 2  # durable
