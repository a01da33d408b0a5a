"""Deposits and withdrawals through the gateway: Alpaca's activities mapping, the
adapter against the stand-in over HTTP (paging), SQLite (durable, once per
transfer id) and the runtime (poll → journal → engine; replay after restart)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from core.commands import CashFlow
from core.errors import BadInput
from core.tiers import AccountTier
from gateway.brokers.alpaca import AlpacaBroker, cash_flow_from_raw
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import MIGRATIONS, DuplicateCashFlow, Storage
from standins.broker import ApiError
from standins.faults import Faults
from standins.market import MINUTE_NS, load_market
from standins.server import Options, StandIn
from tests.gateway.inprocess import InProcessBroker

D = 10**9

CONFIG = """
[broker]
type = "alpaca"
[alpaca]
api_key = "test"
secret_key = "test"
rest_url = "{url}"
data_url = "{url}"
[portfolio]
initial_balance = 95000
[universe]
symbols = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
"""


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return load_market("range", 1, history_days=0, days=1)


# ------------------------------------------------------------------ mapping


def _row(**over: Any) -> dict[str, Any]:
    row = {
        "id": "20240103153415919::f08cfa8e-6944-598b-9185-83f20aa00d16",
        "account_id": "a41f59c2-c2b9-5f05-baa8-ab3c371a77e5",
        "activity_type": "CSD",
        "date": "2024-01-03",
        "net_amount": "150000.25",
        "description": "wire",
        "status": "executed",
    }
    row.update(over)
    return row


def test_alpaca_activities_map_to_exact_cash_flows() -> None:
    flow = cash_flow_from_raw(_row())
    assert flow == CashFlow(1_704_240_000 * D, _row()["id"], 150_000_250_000_000, "CSD wire")
    out = cash_flow_from_raw(_row(activity_type="CSW", net_amount=-0.1 - 0.2, description=""))
    assert out is not None and out.amount == -300_000_000 and out.reason == "CSW"
    assert cash_flow_from_raw(_row(status=None)) is not None
    assert cash_flow_from_raw(_row(status="canceled")) is None  # the money did not move


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("not a row", "activity"),
        (_row(id=None), "activity.id"),
        (_row(id=""), "activity.id"),
        (_row(activity_type="DIV"), "activity.activity_type"),
        (_row(net_amount="lots"), "activity.net_amount"),
        (_row(net_amount="NaN"), "activity.net_amount"),
        (_row(net_amount=None), "activity.net_amount"),
        (_row(net_amount="0"), "activity.net_amount"),
        (_row(net_amount="-5"), "activity.net_amount"),  # a deposit taking money out
        (_row(activity_type="CSW", net_amount="5"), "activity.net_amount"),
        (_row(net_amount="0.0000000001"), "activity.net_amount"),  # finer than nano
        (_row(date="yesterday"), "activity.date"),
    ],
)
def test_untrustworthy_activities_are_bad_input_naming_the_field(row: object, field: str) -> None:
    with pytest.raises(BadInput) as caught:
        cash_flow_from_raw(row)
    assert caught.value.field == field


# ------------------------------------------------------------------ storage


def test_storage_keeps_each_transfer_once_and_replays_it(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    storage = Storage(db)
    assert storage.schema_version() == len(MIGRATIONS) >= 3  # v3 brought cash_flows
    flow = CashFlow(5, "csw-1", -1_500_000_000_000, "CSW")
    seq = storage.journal.append(10, flow, "cash_flow")
    with pytest.raises(DuplicateCashFlow):
        storage.journal.append(11, CashFlow(6, "csw-1", 7 * D), "cash_flow")
    assert storage.journal.has_cash_flow("csw-1") and not storage.journal.has_cash_flow("csw-2")
    assert storage.booked.cash_flows() == [
        {
            "flow_id": "csw-1",
            "amount": -1_500_000_000_000,
            "amount_text": "-1500",
            "reason": "CSW",
            "time_ns": 5,
            "source": "cash_flow",
        }
    ]
    assert list(storage.journal.inputs()) == [(seq, 10, flow)]
    assert storage.count("cash_flows") == storage.count("inputs") == 1
    storage.close()


def test_a_version_2_database_gains_the_cash_flows_table(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, step in enumerate(MIGRATIONS[:2], start=1):
        step(raw)
        raw.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
    raw.close()
    storage = Storage(db)
    assert storage.schema_version() == len(MIGRATIONS) and storage.count("cash_flows") == 0
    storage.close()


# ------------------------------------------------------ adapter over HTTP


async def _serve(market) -> tuple[StandIn, web.AppRunner, str]:  # type: ignore[no-untyped-def]
    standin = StandIn(market, Options(speed=60.0, seed=1), Faults(seed=1))
    runner = web.AppRunner(standin.app(), handle_signals=False, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    standin.start()
    return standin, runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_adapter_pages_through_activities_after_a_time(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    """alpaca-py's generic ``get`` on the stand-in: 105 transfers span two pages
    of 100; only those after ``after_ns`` come back; a malformed row is kept
    aside, not fatal."""

    async def scenario() -> tuple[list[CashFlow], list[CashFlow], list[BadInput], StandIn]:
        standin, runner, url = await _serve(market)
        try:
            config = parse_config(CONFIG.format(url=url), env={}, base=tmp_path)
            broker = AlpacaBroker(config.alpaca, True, config.symbols)
            start = market.live_start_ns
            standin.broker.cash_flow(start - MINUTE_NS, "1")  # before: not wanted
            for i in range(105):
                standin.broker.cash_flow(start + i * 10**6, str(1000 + i))
            standin.broker.cash_flow(start + 200 * 10**6, "-2500.5")
            standin.broker.activities[3]["net_amount"] = "-1"  # a CSD taking money out
            every = await broker.cash_flows(start - 1)
            bad = list(broker.bad_activities)
            late = await broker.cash_flows(start + 100 * 10**6)
            await broker.close()
            return every, late, bad, standin
        finally:
            if standin._publisher is not None:
                standin._publisher.cancel()
            await runner.cleanup()

    every, late, bad, standin = asyncio.run(scenario())
    assert len(every) == 105  # 104 good deposits + 1 withdrawal; one bad row aside
    assert [f.amount for f in every[:3]] == [1000 * D, 1001 * D, 1003 * D]
    assert every[-1].amount == -2_500_500_000_000 and every[-1].reason == "CSW withdrawal"
    assert len({f.flow_id for f in every}) == len(every)
    assert [f.flow_id for f in late] == [f.flow_id for f in every[-5:]]
    assert len(bad) == 1 and bad[0].field == "activity.net_amount"
    assert len(standin.broker.state_json()["activities"]) == 107


def test_the_stand_in_control_refuses_nonsense_and_overdrafts(market) -> None:  # type: ignore[no-untyped-def]
    from standins.broker import Broker

    book = Broker(market=market, seed=1)
    for bad in ("", "abc", "0", True, None, 1.5):
        with pytest.raises(ApiError):
            book.cash_flow(0, bad)
    with pytest.raises(ApiError) as caught:
        book.cash_flow(0, str(-Decimal(book.cash + 1).scaleb(-9)))
    assert caught.value.status == 403
    assert book.activities == []
    book.cash_flow(0, "-1000")
    assert book.activities[0]["activity_type"] == "CSW"
    with pytest.raises(ApiError):
        book.list_activities({"page_token": "nope"})
    with pytest.raises(ApiError):
        book.list_activities({"page_size": "101"})


# ---------------------------------------------------------------- runtime


class CashBroker(InProcessBroker):
    """The in-process broker plus Alpaca's activities, through the real mapping."""

    def __init__(self, market) -> None:  # type: ignore[no-untyped-def]
        super().__init__(market)
        self.polls = 0
        self.bad_activities: list[BadInput] = []

    async def cash_flows(self, after_ns: int) -> list[CashFlow]:
        self.polls += 1
        self.bad_activities = []
        flows = []
        for activity in self.book.activities:
            if activity["_created_ns"] <= after_ns:
                continue
            try:
                flow = cash_flow_from_raw(self.book._activity_json(activity))
            except BadInput as exc:
                self.bad_activities.append(exc)
                continue
            if flow is not None:
                flows.append(flow)
        return flows


def _gateway(db: Path, broker: CashBroker) -> Gateway:
    config = parse_config(CONFIG.format(url="http://unused"), env={}, base=db.parent)
    return Gateway(config, broker, Storage(db), None, RuntimeOptions())


def test_runtime_books_each_transfer_once_and_a_restart_replays_it(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> dict[str, Any]:
        db = tmp_path / "g.db"
        broker = CashBroker(market)
        broker.book.cash_flow(broker.now - MINUTE_NS, "1000000")  # before the first start
        first = _gateway(db, broker)
        await first.start(loops=False)
        assert first.engine.equity() == 95_000 * D  # the old transfer is not ours
        broker.now += MINUTE_NS
        broker.book.cash_flow(broker.now, "150000")
        broker.book.cash_flow(broker.now, "-2000000")  # more than the engine's equity
        broker.book.cash_flow(broker.now, "300")
        broker.book.activities[-1]["net_amount"] = "-300"  # a CSD taking money out
        fed = [await first.poll_cash_flows(), await first.poll_cash_flows()]
        seen = {
            "equity": first.engine.equity(),
            "tier": first.engine.tier().tier,
            "counters": first.engine.counters(),
            "bad": first.counters.bad_inputs,
            "fed": fed,
        }
        await first.crash()
        second = _gateway(db, broker)
        await second.start(loops=False)
        again = await second.poll_cash_flows()
        seen["replayed"] = (second.engine.equity(), second.engine.net_cash_flows, again)
        seen["storage"] = second.storage
        await second.stop()
        return seen

    seen = asyncio.run(scenario())
    assert seen["fed"] == [2, 0]  # then nothing new: each id reaches the engine once
    assert seen["equity"] == 245_000 * D
    assert seen["tier"] is AccountTier.SEMI_INSTITUTIONAL
    counters = seen["counters"]
    assert (counters["cash_flows"], counters["refused_cash_flows"]) == (1, 1)
    assert seen["bad"] == 1  # the malformed row, reported once over two polls
    assert seen["replayed"] == (245_000 * D, 150_000 * D, 0)
    storage: Storage = seen["storage"]
    rows = storage.db.execute("SELECT kind, text FROM alerts ORDER BY id").fetchall()
    kinds = [k for k, _ in rows]
    assert kinds.count("cash_flow") == 1 and kinds.count("cash_flow_refused") == 1
    refused = next(t for k, t in rows if k == "cash_flow_refused")
    assert "amount=-2000000000000000" in refused and "would leave no equity" in refused
    records = storage.db.execute("SELECT kind FROM records").fetchall()
    assert ("cash_flow",) in records and ("cash_flow_refused",) in records
