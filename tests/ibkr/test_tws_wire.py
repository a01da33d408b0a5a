"""The unmodified ib_async client against the TWS stand-in: the wire, message by message."""

from __future__ import annotations

import asyncio
import struct

import pytest
from ib_async import IB, ExecutionFilter, LimitOrder, MarketOrder, Stock, TagValue

from core.money import format_price
from gateway.brokers.ibkr.mapping import to_price
from standins.tws import protocol as p
from standins.tws.book import commission
from standins.tws.server import ACCOUNT
from tests.ibkr.conftest import Running, run, tws_standin, wait_until

AAPL = Stock("AAPL", "SMART", "USD")


def nano(price: float) -> int:
    """A wire float → nano-units, exactly (shortest repr)."""
    return to_price(price, "test")


async def connected(r: Running, client_id: int = 1) -> IB:
    ib = IB()
    await ib.connectAsync("127.0.0.1", r.port, client_id, timeout=5)
    return ib


def test_handshake_negotiates_178_and_sends_accounts_and_next_id() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r, 11)
            assert ib.client.serverVersion() == p.SERVER_VERSION == 178
            assert ib.managedAccounts() == [ACCOUNT]
            assert ib.client.getReqId() >= 1  # nextValidId arrived
            clash = IB()
            with pytest.raises(Exception):  # noqa: B017 - ib_async raises several types
                await clash.connectAsync("127.0.0.1", r.port, 11, timeout=3)
            assert ib.isConnected()
            ib.disconnect()

    run(body())


def test_a_client_outside_the_version_range_is_refused() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            reader, writer = await asyncio.open_connection("127.0.0.1", r.port)
            text = b"v100..150"
            writer.write(b"API\0" + struct.pack(">I", len(text)) + text)
            await writer.drain()
            assert await asyncio.wait_for(reader.read(), 3) == b""  # closed, no answer
            assert r.tws.counters["bad_handshakes"] == 1
            reader, writer = await asyncio.open_connection("127.0.0.1", r.port)
            text = b"v157..178"
            writer.write(b"API\0" + struct.pack(">I", len(text)) + text)
            await writer.drain()
            size = struct.unpack(">I", await reader.readexactly(4))[0]
            fields = (await reader.readexactly(size)).decode().split("\0")[:-1]
            assert fields[0] == "178" and fields[1].endswith("US/Eastern")
            writer.close()

    run(body())


def test_contracts_qualify_and_unknown_symbols_do_not() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            aapl, nope = await ib.qualifyContractsAsync(
                Stock("AAPL", "SMART", "USD"), Stock("NOPE", "SMART", "USD")
            )
            assert aapl is not None and aapl.conId == r.tws.con_ids["AAPL"]
            assert aapl.primaryExchange == "NASDAQ"
            assert nope is None
            [details] = await ib.reqContractDetailsAsync(aapl)
            assert details.timeZoneId == "US/Eastern" and ":" in details.liquidHours
            ib.disconnect()

    run(body())


def test_market_order_reports_open_order_status_execution_and_commission() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r, 3)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            statuses: list[str] = []
            trade = ib.placeOrder(contract, MarketOrder("BUY", 25, orderRef="eng-1", tif="DAY"))
            trade.statusEvent += lambda t: statuses.append(t.orderStatus.status)
            await wait_until(lambda: trade.orderStatus.status == "Filled")
            await wait_until(lambda: trade.fills and trade.fills[-1].commissionReport.execId)
            assert trade.order.permId > 0 and trade.order.orderRef == "eng-1"
            assert statuses[0] in ("PreSubmitted", "Submitted") and statuses[-1] == "Filled"
            [fill] = trade.fills
            ex = fill.execution
            [truth] = r.tws.executions
            assert ex.execId == truth.view.exec_id
            assert (ex.side, ex.shares, ex.cumQty) == ("BOT", 25.0, 25.0)
            assert ex.orderRef == "eng-1" and ex.acctNumber == ACCOUNT
            assert ex.clientId == 3 and ex.permId == trade.order.permId
            book_fill = r.tws.book.fills[-1]
            assert format_price(nano(ex.price)) == book_fill["price"]
            expected = commission(25, nano(ex.price)) / 1e9
            assert fill.commissionReport.commission == pytest.approx(expected)
            assert fill.commissionReport.currency == "USD"
            assert trade.orderStatus.avgFillPrice == pytest.approx(ex.price)
            await wait_until(lambda: ib.positions())
            [position] = ib.positions()
            assert position.position == 25 and position.contract.symbol == "AAPL"
            assert r.tws.book.positions["AAPL"].qty == 25
            ib.disconnect()

    run(body())


def test_limit_order_rests_and_cancels() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            trade = ib.placeOrder(contract, LimitOrder("BUY", 5, 1.00, orderRef="low"))
            await wait_until(lambda: trade.orderStatus.status == "Submitted")
            await asyncio.sleep(0.3)  # a few minutes pass: a $1 bid never trades
            assert trade.orderStatus.status == "Submitted" and not trade.fills
            [opened] = await ib.reqOpenOrdersAsync()
            assert opened.order.lmtPrice == 1.0 and opened.order.orderRef == "low"
            ib.cancelOrder(trade.order)
            await wait_until(lambda: trade.orderStatus.status == "Cancelled")
            book_order = r.tws.book.orders[r.tws.orders[(1, trade.order.orderId)].book_id]
            assert book_order.status == "canceled"
            assert await ib.reqOpenOrdersAsync() == []
            ib.disconnect()

    run(body())


def test_ib_algos_are_validated_and_echoed() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            vwap = MarketOrder("BUY", 3, orderRef="vwap")
            vwap.algoStrategy = "Vwap"
            vwap.algoParams = [TagValue("maxPctVol", "0.1"), TagValue("allowPastEndTime", "1")]
            trade = ib.placeOrder(contract, vwap)
            await wait_until(lambda: trade.orderStatus.status == "Filled")
            [echo] = [
                o for o in await ib.reqCompletedOrdersAsync(False) if o.order.orderRef == "vwap"
            ]
            assert echo.order.algoStrategy == "Vwap"
            assert (echo.order.algoParams[0].tag, echo.order.algoParams[0].value) == (
                "maxPctVol",
                "0.1",
            )
            bad = MarketOrder("BUY", 3, orderRef="adaptive-no-priority")
            bad.algoStrategy = "Adaptive"
            refused = ib.placeOrder(contract, bad)
            await wait_until(lambda: refused.orderStatus.status == "Cancelled")
            assert any(e.errorCode == 201 for e in refused.log)
            assert r.tws.counters["rejected_orders"] == 1
            ib.disconnect()

    run(body())


def test_account_values_and_summary_match_the_book() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            trade = ib.placeOrder(contract, MarketOrder("BUY", 100))
            await wait_until(lambda: trade.orderStatus.status == "Filled")
            book = r.tws.book

            def pushed() -> dict:  # type: ignore[type-arg]
                return {(v.tag, v.currency): v.value for v in ib.accountValues() if not v.modelCode}

            # the next minute's account push carries the fill: wait for it, not 0.15 s
            await wait_until(
                lambda: pushed().get(("TotalCashValue", "USD")) == format_price(book.cash), 60
            )
            values = pushed()
            assert values[("TotalCashValue", "USD")] == format_price(book.cash)
            assert values[("NetLiquidation", "USD")] == format_price(book.equity())
            assert values[("BuyingPower", "USD")] == format_price(book.buying_power())
            summary = {v.tag: v.value for v in await ib.accountSummaryAsync()}
            assert summary["TotalCashValue"] == format_price(book.cash)
            portfolio = ib.portfolio()
            assert [(i.contract.symbol, i.position) for i in portfolio] == [("AAPL", 100.0)]
            ib.disconnect()

    run(body())


def test_historical_bars_are_the_tape_and_keep_up_to_date_streams() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            await asyncio.sleep(0.3)
            bars = await ib.reqHistoricalDataAsync(contract, "", "2 D", "1 min", "TRADES", True, 2)
            first, last = (int(bars[i].date.timestamp()) * 10**9 for i in (0, -1))
            tape = [b for b in r.standin.tape.bars["AAPL"] if first <= b.time_ns <= last]
            assert first in r.standin.market.sessions[1]  # "2 D": yesterday's open on
            assert len(bars) == len(tape) > 390
            for got, want in zip(bars, tape, strict=True):
                assert int(got.date.timestamp()) * 10**9 == want.time_ns
                assert (format_price(nano(got.close)), int(got.volume)) == (
                    format_price(want.close),
                    want.volume,
                )
            dated = await ib.reqHistoricalDataAsync(
                contract, "", "600 S", "1 min", "TRADES", True, 1
            )
            assert dated and dated[-1].date.tzinfo is not None
            live = await ib.reqHistoricalDataAsync(
                contract, "", "300 S", "1 min", "TRADES", True, 2, keepUpToDate=True
            )
            before = len(live)
            await wait_until(lambda: len(live) > before + 1)
            newest = live[-1]
            published = {b.time_ns: b for b in r.standin.tape.bars["AAPL"]}
            assert format_price(nano(newest.close)) == format_price(
                published[int(newest.date.timestamp()) * 10**9].close
            )
            ib.disconnect()

    run(body())


def test_real_time_bars_aggregate_to_the_published_minute() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            rt = ib.reqRealTimeBars(contract, 5, "TRADES", False)
            await wait_until(lambda: len(rt) >= 24)
            ib.cancelRealTimeBars(rt)
            first_minute = [
                b for b in rt if int(b.time.timestamp()) // 60 == int(rt[0].time.timestamp()) // 60
            ]
            assert len(first_minute) == 12
            start = int(first_minute[0].time.timestamp()) * 10**9
            [want] = [b for b in r.standin.tape.bars["AAPL"] if b.time_ns == start]
            assert nano(first_minute[0].open_) == want.open
            assert nano(max(b.high for b in first_minute)) == want.high
            assert nano(min(b.low for b in first_minute)) == want.low
            assert nano(first_minute[-1].close) == want.close
            assert sum(int(b.volume) for b in first_minute) == want.volume
            ib.disconnect()

    run(body())


def test_executions_and_completed_orders_survive_a_reconnect() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r, 4)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            trade = ib.placeOrder(contract, MarketOrder("BUY", 7, orderRef="keep-me"))
            await wait_until(lambda: trade.orderStatus.status == "Filled")
            exec_id = trade.fills[0].execution.execId
            ib.disconnect()
            again = await connected(r, 4)
            fills = await again.reqExecutionsAsync(ExecutionFilter(clientId=4))
            assert [f.execution.execId for f in fills] == [exec_id]
            assert fills[0].execution.orderRef == "keep-me"
            # ib_async keeps the commission on the fill it stored first (at connect),
            # not on the copy a later reqExecutions returns.
            [stored] = [f for f in again.fills() if f.execution.execId == exec_id]
            assert stored.commissionReport.commission > 0
            completed = [t for t in again.trades() if t.order.orderRef == "keep-me"]
            assert completed and completed[0].orderStatus.status == "Filled"
            assert await again.reqExecutionsAsync(ExecutionFilter(symbol="MSFT")) == []
            again.disconnect()

    run(body())


def test_malformed_requests_are_answered_and_counted_not_fatal() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            errors: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
            ib.client.send(3, "not-an-id")  # placeOrder with garbage
            ib.client.send(987, 1)  # a message id TWS does not know
            await wait_until(lambda: 320 in errors and 321 in errors)
            assert r.tws.counters["bad_requests"] == 1 and r.tws.counters["unknown_requests"] == 1
            assert (await ib.reqCurrentTimeAsync()).year >= 2024  # still serving
            ib.disconnect()

    run(body())


def test_the_stand_in_enforces_ib_historical_pacing() -> None:
    async def body() -> None:
        async with tws_standin() as r:
            ib = await connected(r)
            [contract] = await ib.qualifyContractsAsync(AAPL)
            errors: list[int] = []
            ib.errorEvent += lambda req_id, code, text, c: errors.append(code)
            end = "20240103 15:00:00 US/Eastern"  # a history session
            first = await ib.reqHistoricalDataAsync(
                contract, end, "1800 S", "1 min", "TRADES", True, 2
            )
            second = await ib.reqHistoricalDataAsync(
                contract, end, "1800 S", "1 min", "TRADES", True, 2
            )
            assert first and not second and 162 in errors
            assert r.tws.counters["pacing_violations"] == 1
            ib.disconnect()

    run(body())
