"""Crash and reconnect: no lost or duplicated executions; resend, never reset.

Three failures: the TCP connection cut mid-order (the peer resends what we
missed with PossDup, we resend what it missed), the adapter process crashing
and restarting on the same store, and a crash after the session counted a
report but before the runtime booked it (the inbound number is rewound and
the report read again).
"""

from __future__ import annotations

import asyncio

from core.commands import Fill, OrderType, ReplaceOrder, Side, SubmitOrder
from gateway.brokers.base import StreamSinks
from gateway.brokers.prime_fix import PrimeFixBroker
from tests.primefix.conftest import Recorder, Running, prime_standin, run, settings, wait_until

SOH = b"\x01"


def _watch_logons(running: Running) -> list[bytes]:
    """Every Logon the acceptor receives, raw."""
    logons: list[bytes] = []
    router = running.pb.acceptor.router
    original = router.on_bytes

    def on_bytes(conn: int, data: bytes, now_ns: int):
        for part in data.split(b"8=FIX")[1:]:
            if SOH + b"35=A" + SOH in part:
                logons.append(part)
        return original(conn, data, now_ns)

    router.on_bytes = on_bytes  # type: ignore[method-assign]
    return logons


def _dark(now: int, cl: str, qty: int, symbol: str = "AAPL") -> SubmitOrder:
    return SubmitOrder(
        now,
        cl,
        None,
        symbol,
        Side.BUY,
        qty,
        OrderType.PEGGED_MIDPOINT,
        venue="CROSSFINDER",
        min_quantity=500,
    )


def _execs(running: Running) -> list[str]:
    return [e["exec_id"] for e in running.pb.book.executions]


def test_connection_dropped_mid_order_resumes_with_resend_and_loses_nothing(tmp_path):
    async def scenario() -> None:
        async with prime_standin() as running:
            logons = _watch_logons(running)
            # a second of back-off is ten simulated minutes: fills happen while we are away
            broker = PrimeFixBroker(
                settings(running.port, tmp_path / "fix.db", min_backoff_s=1.0, max_backoff_s=1.0)
            )
            rec = Recorder()
            await rec.attach(broker)
            assert await broker.connect()
            now = running.standin.market_now()
            await broker.submit(_dark(now, "big", 150_000), "acct-big")
            for cycle in range(3):
                seen = len(rec.fills)
                await wait_until(lambda seen=seen: len(rec.fills) > seen, 20)  # mid-order
                assert running.pb.drop() == 1
                await asyncio.sleep(0.05)
                # an order sent while the line is down goes out when the peer asks for it
                market = SubmitOrder(
                    running.standin.market_now(), f"m{cycle}", None, "MSFT", Side.BUY, 100
                )
                await broker.submit(market, f"acct-m{cycle}")
                assert await broker.connect(5)
            await wait_until(
                lambda: {"acct-m0", "acct-m1", "acct-m2"} <= {f.client_order_id for f in rec.fills},
                10,
            )
            await wait_until(lambda: len(rec.fills) == len(_execs(running)), 10)
            ids = [f.exec_id for f in rec.fills]
            assert ids == _execs(running)  # every execution, once, in the broker's order
            assert broker.counters["logons"] == 4
            assert len(logons) == 4 and all(b"141=Y" not in raw for raw in logons)
            assert [e.kind for e in broker.events].count("gap") >= 1  # missed reports resent
            assert any(e.kind == "gap" for e in running.pb.events)  # our offline orders too
            assert running.pb.app.counters.get("duplicate_resent_orders", 0) == 0
            # sequence numbers ran on: both sides agree, no reset happened
            assert running.pb.session.store.next_target_seq == broker.store.next_sender_seq
            assert broker.store.next_target_seq == running.pb.session.store.next_sender_seq
            await broker.close()

    run(scenario())


def test_adapter_restart_on_the_same_store_resumes_and_books_each_execution_once(tmp_path):
    async def scenario() -> None:
        async with prime_standin() as running:
            logons = _watch_logons(running)
            store = tmp_path / "fix.db"
            first = PrimeFixBroker(settings(running.port, store))
            rec1 = Recorder()
            await rec1.attach(first)
            assert await first.connect()
            now = running.standin.market_now()
            await first.submit(_dark(now, "big", 200_000), "acct-big")
            await wait_until(lambda: len(rec1.fills) >= 2, 20)
            sent_before = first.store.next_sender_seq
            await first.abort()  # crash: no Logout
            executions_at_crash = len(_execs(running))
            await asyncio.sleep(1.0)  # ten simulated minutes of fills while we are down
            assert len(_execs(running)) > executions_at_crash
            booked = {f.exec_id for f in rec1.fills}
            second = PrimeFixBroker(
                settings(running.port, store), known_exec_ids=booked, booked_fills=rec1.fills
            )
            assert second.store.next_sender_seq == sent_before  # resumed, not reset
            rec2 = Recorder()
            await rec2.attach(second)
            assert await second.connect()
            target = len(_execs(running))
            await wait_until(lambda: len(rec1.fills) + len(rec2.fills) >= target, 20)
            ids = [f.exec_id for f in rec1.fills + rec2.fills]
            assert len(ids) == len(set(ids))
            assert set(ids) >= set(_execs(running)[:target])
            assert len(logons) == 2 and all(b"141=Y" not in raw for raw in logons)
            assert b"34=1" + SOH not in logons[1]  # the second Logon continues the numbering
            positions = await second.positions()
            await wait_until(lambda: len(rec1.fills) + len(rec2.fills) == len(_execs(running)))
            positions = await second.positions()
            assert positions == running.pb.book.positions
            # the stand-in's view of the session: one continuous sequence
            assert running.pb.session.store.next_target_seq == second.store.next_sender_seq
            # an order sent before the restart can still be replaced: its terms come
            # back from the store (venue, MinQty, peg), and then cancelled
            learnt = await second.order("acct-big")
            assert learnt is not None and learnt.open
            cmd = ReplaceOrder(0, "big2", "big", "AAPL", Side.BUY, 250_000, None)
            await second.replace(cmd, "acct-big", "acct-big2")
            await wait_until(lambda: any(t.event == "replaced" for t in rec2.trades))
            sent = [raw for _, raw in second.store.sent_range(1, second.store.next_sender_seq)]
            (g,) = [raw for raw in sent if SOH + b"35=G" + SOH in raw]
            for field in (b"100=CROSSFINDER", b"110=500", b"18=M", b"40=P", b"38=250000"):
                assert SOH + field + SOH in g
            order = running.pb.book.orders["acct-big2"]
            assert (order.quantity, order.venue, order.min_quantity) == (
                250_000,
                "CROSSFINDER",
                500,
            )
            await second.cancel("acct-big")
            await wait_until(lambda: any(t.event == "canceled" for t in rec2.trades))
            await second.close()

    run(scenario())


def test_crash_before_booking_rereads_the_report_from_the_peer(tmp_path):
    async def scenario() -> None:
        async with prime_standin() as running:
            store = tmp_path / "fix.db"
            first = PrimeFixBroker(settings(running.port, store))
            booked: list = []
            stuck = asyncio.Event()

            async def on_trade(event) -> None:
                if event.fill is None:
                    return
                if booked:  # the runtime dies while booking the second fill
                    stuck.set()
                    await asyncio.Event().wait()
                booked.append(event.fill)

            rec = Recorder()
            await first.stream(StreamSinks(rec.on_bar, on_trade, rec.on_bad, rec.on_connected))
            assert await first.connect()
            now = running.standin.market_now()
            await first.submit(_dark(now, "big", 200_000), "acct-big")
            await asyncio.wait_for(stuck.wait(), 20)
            counted = first.store.next_target_seq
            await first.abort()
            assert len(booked) == 1
            second = PrimeFixBroker(
                settings(running.port, store), known_exec_ids=[f.exec_id for f in booked]
            )
            assert second.store.next_target_seq < counted  # rewound to the unbooked report
            rec2 = Recorder()
            await rec2.attach(second)
            assert await second.connect()
            await wait_until(lambda: len(rec2.fills) >= 1, 20)
            assert rec2.fills[0].exec_id == _execs(running)[1]  # the one that was lost
            await wait_until(lambda: 1 + len(rec2.fills) == len(_execs(running)), 20)
            ids = [booked[0].exec_id] + [f.exec_id for f in rec2.fills]
            assert ids == _execs(running)[: len(ids)]
            await second.close()

    run(scenario())


def test_status_asked_before_stream_leaves_the_resent_fills_to_the_stream(tmp_path):
    """Regression: after a restart the runtime reconciles (``order``) *before*
    ``stream``. The resend has already brought the outage's fills, held for the
    stream; answering with the broker's full CumQty made the runtime book them
    as one synthetic ``recon:`` fill and drop the real executions as "already
    reconciled" — the executions table no longer matched the broker's."""

    async def scenario() -> None:
        async with prime_standin() as running:
            store = tmp_path / "fix.db"
            first = PrimeFixBroker(settings(running.port, store))
            rec1 = Recorder()
            await rec1.attach(first)
            assert await first.connect()
            now = running.standin.market_now()
            await first.submit(_dark(now, "big", 150_000), "acct-big")
            await wait_until(lambda: len(rec1.fills) >= 1, 20)
            await first.abort()  # crash
            booked_qty = sum(f.quantity for f in rec1.fills)
            pb_order = running.pb.book.orders["acct-big"]
            await wait_until(lambda: pb_order.cum > booked_qty, 20)  # fills while we are down
            second = PrimeFixBroker.resuming(
                settings(running.port, store),
                None,
                [
                    {
                        "exec_id": f.exec_id,
                        "client_order_id": f.client_order_id,
                        "symbol": f.symbol,
                        "side": f.side.value,
                        "quantity": f.quantity,
                        "price": f.price,
                    }
                    for f in rec1.fills
                ],
            )
            assert await second.connect()
            cum_at_ask = pb_order.cum
            view = await second.order("acct-big")  # the runtime's startup reconciliation
            assert view is not None
            in_transit = view.filled - booked_qty
            assert in_transit == 0, "reconciliation would book the resent fills a second time"
            assert view.open and view.status in ("new", "partially_filled")
            assert cum_at_ask > booked_qty
            rec2 = Recorder()
            await rec2.attach(second)  # now the held reports reach the runtime, in order
            await wait_until(lambda: len(rec1.fills) + len(rec2.fills) == len(_execs(running)))
            ids = [f.exec_id for f in rec1.fills + rec2.fills]
            assert ids == _execs(running)  # each real execution once, none synthetic
            assert rec2.fills[0].exec_id not in {f.exec_id for f in rec1.fills}
            later = await second.order("acct-big")  # after stream: the broker's whole truth
            assert later is not None and later.filled >= cum_at_ask
            assert await second.positions() == running.pb.book.positions
            await second.close()

    run(scenario())


def test_filled_is_counted_per_clordid_across_a_replace_and_a_restart(tmp_path):
    """Regression: FIX CumQty spans the whole order, the runtime counts fills per
    client order id (as Alpaca, where a replace makes a new order) and books any
    excess as a missed fill. A replaced order with fills under its first
    ClOrdID was booked twice by the next reconciliation (a ``recon:`` fill for
    the first id's quantity, then a position mismatch)."""

    def under(fills, cl: str) -> int:
        return sum(f.quantity for f in fills if f.client_order_id == cl)

    async def scenario() -> None:
        async with prime_standin() as running:
            store = tmp_path / "fix.db"
            first = PrimeFixBroker(settings(running.port, store))
            rec1 = Recorder()
            await rec1.attach(first)
            assert await first.connect()
            now = running.standin.market_now()
            await first.submit(_dark(now, "big", 150_000), "acct-big")
            await wait_until(lambda: under(rec1.fills, "acct-big") > 0, 20)
            cmd = ReplaceOrder(0, "big2", "big", "AAPL", Side.BUY, 400_000, None)
            await first.replace(cmd, "acct-big", "acct-big2")
            await wait_until(lambda: any(t.event == "replaced" for t in rec1.trades), 10)
            await wait_until(lambda: under(rec1.fills, "acct-big2") > 0, 20)
            live = await first.order("acct-big2")
            assert live is not None and live.replaced_by is None
            assert 0 < live.filled <= under(rec1.fills, "acct-big2")  # not the order's CumQty
            old = await first.order("acct-big")
            assert old is not None and old.replaced_by == "acct-big2"
            assert old.filled == under(rec1.fills, "acct-big")
            listed = {o.broker_client_id: o for o in await first.open_orders()}
            assert listed["acct-big2"].filled <= under(rec1.fills, "acct-big2")
            await first.abort()  # crash; the runtime's table names its own ids
            rows = [
                {
                    "exec_id": f.exec_id,
                    "client_order_id": f.client_order_id.removeprefix("acct-"),
                    "symbol": f.symbol,
                    "side": f.side.value,
                    "quantity": f.quantity,
                    "price": f.price,
                }
                for f in rec1.fills
            ]
            second = PrimeFixBroker.resuming(
                settings(running.port, store), None, rows, id_prefix="acct-"
            )
            assert await second.connect()
            view = await second.order("acct-big2")  # startup reconciliation
            assert view is not None
            assert view.filled == under(rec1.fills, "acct-big2")  # exactly what was booked
            rec2 = Recorder()
            await rec2.attach(second)
            await wait_until(lambda: len(rec1.fills) + len(rec2.fills) == len(_execs(running)))
            assert [f.exec_id for f in rec1.fills + rec2.fills] == _execs(running)
            for event in rec2.trades:
                if event.fill is not None:  # cum per ClOrdID, as the runtime compares it
                    assert event.cum_filled <= under(rec1.fills + rec2.fills, "acct-big2")
            await second.close()

    run(scenario())


def test_reports_the_stopping_runtime_ignored_are_read_again_after_restart(tmp_path):
    """Regression: a graceful stop ignores trade events once it is stopping
    (after ``stop_market_data``), yet the adapter marked them processed, so a
    fill arriving during shutdown was never re-read: the next start could only
    book it as a synthetic reconciliation lump. Now the mark freezes when the
    stop begins; the fill comes back by resend and is booked with its ExecID."""

    async def scenario() -> None:
        async with prime_standin() as running:
            store = tmp_path / "fix.db"
            first = PrimeFixBroker(settings(running.port, store))
            booked: list = []
            ignored: list = []
            stopping = False

            async def on_trade(event) -> None:
                if event.fill is not None:
                    (ignored if stopping else booked).append(event.fill)

            rec = Recorder()
            await first.stream(StreamSinks(rec.on_bar, on_trade, rec.on_bad, rec.on_connected))
            assert await first.connect()
            now = running.standin.market_now()
            await first.submit(_dark(now, "big", 150_000), "acct-big")
            await wait_until(lambda: booked, 20)
            await first.stop_market_data()  # the runtime's stop begins
            stopping = True
            await wait_until(lambda: ignored, 20)  # a fill the stopping runtime dropped
            await first.close()
            second = PrimeFixBroker(
                settings(running.port, store), known_exec_ids=[f.exec_id for f in booked]
            )
            rec2 = Recorder()
            await rec2.attach(second)
            assert await second.connect()
            await wait_until(lambda: len(booked) + len(rec2.fills) == len(_execs(running)), 20)
            assert [f.exec_id for f in booked + rec2.fills] == _execs(running)[
                : len(booked) + len(rec2.fills)
            ]
            assert ignored[0].exec_id in {f.exec_id for f in rec2.fills}
            await second.close()

    run(scenario())


def test_a_reconciled_fill_is_in_the_ledger_once_and_its_late_reports_are_not(tmp_path):
    """Regression: FIX has no positions query, so the adapter's positions are its
    ledger of reported executions. A quantity the runtime booked by
    reconciliation (one ``recon:`` fill, reports not yet delivered) never
    reached that ledger, so ``positions()`` disagreed with the engine for the
    rest of the run (the tiered crash test's "0 here and 13723 at the broker").
    Now the ledger learns the reconciled fill, and the reports of the same
    quantity arriving afterwards (which the runtime drops by CumQty) are not
    counted a second time."""

    async def scenario() -> None:
        async with prime_standin() as running:
            broker = PrimeFixBroker(settings(running.port, tmp_path / "fix.db"))
            assert await broker.connect()  # no stream yet: its reports are held
            now = running.standin.market_now()
            await broker.submit(_dark(now, "small", 20_000), "acct-small")
            pb_order = running.pb.book.orders["acct-small"]
            await wait_until(lambda: not pb_order.open, 30)
            filled = pb_order.cum
            assert filled > 0
            lump = Fill(
                running.standin.market_now(),
                "small",
                f"recon:{pb_order.order_id}:{filled}",
                "AAPL",
                Side.BUY,
                filled,
                pb_order.avg_px,
            )
            broker.reconciled("acct-small", lump)  # what the runtime's reconciler does
            assert await broker.positions() == {"AAPL": filled}
            rec = Recorder()
            await rec.attach(broker)  # the held reports arrive now, each cum <= filled
            await wait_until(lambda: len(rec.fills) == len(_execs(running)), 20)
            assert await broker.positions() == running.pb.book.positions == {"AAPL": filled}
            await broker.close()

    run(scenario())
