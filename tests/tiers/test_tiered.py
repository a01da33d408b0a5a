"""TieredBroker with fake brokers: routing at the tier boundaries, cancel and
replace to the broker holding the order, aggregation, one alert per crossing,
and an order's broker found again after a restart."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import ReplaceOrder, Side, SubmitOrder
from core.errors import BadInput
from core.events import Bar
from core.money import price_from_decimal
from core.tiers import AccountTier, tier_for_equity
from gateway.brokers.base import NotFound, RejectedRequest, StreamSinks, TradeEvent
from gateway.brokers.tiered import TieredBroker
from tests.tiers.fakes import FakeBroker

RETAIL, SEMI, INST = (
    AccountTier.RETAIL,
    AccountTier.SEMI_INSTITUTIONAL,
    AccountTier.INSTITUTIONAL,
)


def usd(text: str) -> int:
    return price_from_decimal(Decimal(text), "equity")


class Account:
    """The equity the tier is derived from, moved by the test."""

    def __init__(self, equity: str) -> None:
        self.equity = usd(equity)
        self.changes: list[tuple[AccountTier, AccountTier]] = []

    def tier(self) -> AccountTier:
        return tier_for_equity(self.equity)

    def alert(self, old: AccountTier, new: AccountTier) -> None:
        self.changes.append((old, new))


def make(equity: str = "50000", *, semi: bool = True, inst: bool = True):  # type: ignore[no-untyped-def]
    account = Account(equity)
    alpaca, ibkr, fix = FakeBroker("alpaca"), FakeBroker("ibkr"), FakeBroker("fix")
    tiered = TieredBroker(
        alpaca,
        ibkr if semi else None,
        fix if inst else None,
        tier_of=account.tier,
        on_tier_change=account.alert,
    )
    return account, tiered, alpaca, ibkr, fix


def order(n: int, qty: int = 10) -> SubmitOrder:
    return SubmitOrder(n, f"o{n}", None, "AAPL", Side.BUY, qty)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.parametrize(
    ("equity", "expected"),
    [
        ("99999.99", "alpaca"),
        ("100000", "ibkr"),
        ("100000.00", "ibkr"),
        ("999999.99", "ibkr"),
        ("1000000", "fix"),
        ("1000000.01", "fix"),
        ("1", "alpaca"),
    ],
)
def test_each_new_order_goes_to_the_broker_of_its_tier(equity: str, expected: str) -> None:
    account, tiered, *brokers = make(equity)
    placed = run(tiered.submit(order(1), "c1"))
    by_name = {b.name: b for b in brokers}
    assert by_name[expected].calls == [("submit", "c1")]
    assert placed.broker_order_id.startswith(expected)
    assert tiered.owner("c1") is by_name[expected]
    assert sum(len(b.calls) for b in brokers) == 1
    assert account.changes == []  # the first order sets the tier; nothing crossed


def test_crossing_100k_and_1m_changes_routing_at_the_next_order_and_alerts_once() -> None:
    account, tiered, alpaca, ibkr, fix = make("99999.99")

    async def scenario() -> None:
        await tiered.submit(order(1), "c1")
        await tiered.submit(order(2), "c2")
        account.equity = usd("100000")  # crosses $100K between two orders
        await tiered.submit(order(3), "c3")
        await tiered.submit(order(4), "c4")
        account.equity = usd("999999.99")
        await tiered.submit(order(5), "c5")
        account.equity = usd("1000000")  # crosses $1M
        await tiered.submit(order(6), "c6")
        account.equity = usd("99999.99")  # a crash straight back to retail
        await tiered.submit(order(7), "c7")

    run(scenario())
    assert [c for _, c in alpaca.calls] == ["c1", "c2", "c7"]
    assert [c for _, c in ibkr.calls] == ["c3", "c4", "c5"]
    assert [c for _, c in fix.calls] == ["c6"]
    assert account.changes == [(RETAIL, SEMI), (SEMI, INST), (INST, RETAIL)]
    assert tiered.tier_changes == 3
    assert tiered.routed == {"alpaca": 3, "ibkr": 3, "fix": 1}


def test_a_tier_change_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    account, tiered, *_ = make("99999.99")
    run(tiered.submit(order(1), "c1"))
    account.equity = usd("150000")
    with caplog.at_level("WARNING", logger="gateway.tiers"):
        run(tiered.submit(order(2), "c2"))
    [record] = [r for r in caplog.records if "tier change" in r.getMessage()]
    assert "retail -> semi_institutional" in record.getMessage()
    assert "ibkr" in record.getMessage()


def test_equity_moving_inside_a_tier_alerts_nothing() -> None:
    account, tiered, _, ibkr, _ = make("100000")

    async def scenario() -> None:
        for n, equity in enumerate(["100000", "500000", "999999.99", "100000.01"]):
            account.equity = usd(equity)
            await tiered.submit(order(n), f"c{n}")

    run(scenario())
    assert len(ibkr.calls) == 4 and account.changes == []


def test_a_failing_alert_does_not_stop_the_order() -> None:
    account, tiered, _alpaca, ibkr, _ = make("99999.99")

    def broken(_old: AccountTier, _new: AccountTier) -> None:
        raise RuntimeError("telegram is down")

    tiered.bind(account.tier, broken)
    run(tiered.submit(order(1), "c1"))
    account.equity = usd("200000")
    run(tiered.submit(order(2), "c2"))
    assert ibkr.calls == [("submit", "c2")] and tiered.tier_changes == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=3_000_000), min_size=1, max_size=30))
def test_alerts_are_exactly_the_crossings_between_orders(dollars: list[int]) -> None:
    account, tiered, alpaca, ibkr, fix = make("1")

    async def scenario() -> None:
        for n, d in enumerate(dollars):
            account.equity = usd(str(d))
            await tiered.submit(order(n), f"c{n}")

    run(scenario())
    tiers = [tier_for_equity(usd(str(d))) for d in dollars]
    crossings = [(a, b) for a, b in itertools.pairwise(tiers) if a is not b]
    assert account.changes == crossings
    names = {RETAIL: "alpaca", SEMI: "ibkr", INST: "fix"}
    sent = {b.name: [c for _, c in b.calls] for b in (alpaca, ibkr, fix)}
    for n, tier in enumerate(tiers):
        assert f"c{n}" in sent[names[tier]]


def test_missing_tiers_fall_back_to_the_tier_below(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="gateway.tiers"):
        _account, tiered, _alpaca, ibkr, fix = make("2000000", inst=False)
    assert any("institutional has no broker" in r.getMessage() for r in caplog.records)
    run(tiered.submit(order(1), "c1"))
    assert ibkr.calls == [("submit", "c1")] and fix.calls == []
    account2, only_retail, alpaca2, _, _ = make("2000000", semi=False, inst=False)
    run(only_retail.submit(order(1), "c1"))
    assert alpaca2.calls == [("submit", "c1")]
    assert only_retail.brokers == [alpaca2] and only_retail.name == "tiered(alpaca)"
    # the tier still changes (the engine's order types follow it); the route does not
    account2.equity = usd("50000")
    run(only_retail.submit(order(2), "c2"))
    assert account2.changes == [(INST, RETAIL)]


def test_cancel_and_replace_go_to_the_broker_holding_the_order() -> None:
    account, tiered, alpaca, ibkr, fix = make("50000")

    async def scenario() -> None:
        await tiered.submit(order(1), "c1")  # at Alpaca
        account.equity = usd("250000")
        await tiered.submit(order(2), "c2")  # at IBKR
        await tiered.cancel("c1")  # still Alpaca's, though the tier is semi now
        replace = ReplaceOrder(3, "c1r", "c1", "AAPL", Side.BUY, 5)
        await tiered.replace(replace, "c1", "c1r")
        await tiered.cancel("c1r")  # the replacement lives where the original did
        await tiered.cancel("c2")

    run(scenario())
    assert alpaca.calls == [
        ("submit", "c1"),
        ("cancel", "c1"),
        ("replace", "c1"),
        ("cancel", "c1r"),
    ]
    assert ibkr.calls == [("submit", "c2"), ("cancel", "c2")]
    assert fix.calls == []


def test_a_restart_relearns_where_orders_live() -> None:
    account, first, alpaca, ibkr, fix = make("50000")

    async def before() -> None:
        await first.submit(order(1), "c1")
        account.equity = usd("5000000")
        await first.submit(order(2), "c2")

    run(before())
    # A new process: nothing remembered, the tier is institutional now.
    restarted = TieredBroker(alpaca, ibkr, fix, tier_of=account.tier)
    assert restarted.owner("c1") is None

    async def after() -> tuple[object, object, object]:
        await restarted.cancel("c1")  # found at Alpaca by asking
        seen = await restarted.order("c2")
        missing = await restarted.order("nope")
        return seen, missing, restarted.owner("c1")

    seen, missing, owner = run(after())
    assert ("cancel", "c1") in alpaca.calls and ("cancel", "c1") not in fix.calls
    assert seen is not None and seen.broker_order_id.startswith("fix")  # type: ignore[attr-defined]
    assert missing is None and owner is alpaca
    assert fix.calls.count(("order", "c2")) == 1  # found once, not asked again
    # open_orders teaches the owners too, without one lookup per order
    third = TieredBroker(alpaca, ibkr, fix, tier_of=account.tier)
    listed = run(third.open_orders())
    assert {o.broker_client_id for o in listed} == {"c1", "c2"}
    assert third.owner("c1") is alpaca and third.owner("c2") is fix


def test_unknown_order_cancel_is_not_found_and_an_unreachable_broker_is_not_unknown() -> None:
    _, tiered, alpaca, ibkr, fix = make("50000")
    with pytest.raises(NotFound):
        run(tiered.cancel("ghost"))
    ibkr.down = True  # it might hold the order: "unknown" would be a guess
    with pytest.raises(RejectedRequest):
        run(tiered.order("ghost"))
    with pytest.raises(RejectedRequest):
        run(tiered.cancel("ghost"))
    assert alpaca.calls[-1] == ("order", "ghost") and fix.calls[-1] == ("order", "ghost")


def test_trade_events_teach_the_owner_and_all_brokers_stream_trades() -> None:
    _, tiered, alpaca, ibkr, fix = make("50000")
    trades: list[TradeEvent] = []
    bars: list[Bar] = []

    async def on_bar(bar: Bar) -> None:
        bars.append(bar)

    async def on_trade(event: TradeEvent) -> None:
        trades.append(event)

    async def on_bad(_what: str, _exc: Exception) -> None:
        return None

    async def on_connected() -> None:
        return None

    async def scenario() -> None:
        await tiered.stream(StreamSinks(on_bar, on_trade, on_bad, on_connected))
        await ibkr.emit_fill("x-ib", 3)
        await fix.emit_fill("x-fix", 4)
        await alpaca.emit_fill("x-al", 5)
        bar = Bar("AAPL", 60 * 10**9, 10, 10, 10, 10, 1)
        await alpaca.emit_bar(bar)
        await ibkr.emit_bar(bar)  # a second source of the same minute: dropped
        await fix.emit_bar(bar)

    run(scenario())
    assert [t.cum_filled for t in trades] == [3, 4, 5]
    assert len(bars) == 1
    assert tiered.owner("x-ib") is ibkr and tiered.owner("x-fix") is fix


def test_data_can_come_from_the_semi_institutional_broker() -> None:
    alpaca, ibkr = FakeBroker("alpaca"), FakeBroker("ibkr")
    ibkr.clock_ns = 777
    tiered = TieredBroker(alpaca, ibkr, None, data_source=SEMI)
    assert tiered.data is ibkr
    assert run(tiered.clock()).time_ns == 777
    run(tiered.restart_data_stream("silent"))
    assert ibkr.restarts == ["silent"] and alpaca.restarts == []
    with pytest.raises(BadInput):
        TieredBroker(alpaca, ibkr, None, data_source=INST)


def test_positions_open_orders_and_account_add_up() -> None:
    _account, tiered, alpaca, ibkr, fix = make("50000")
    alpaca.held = {"AAPL": 10, "MSFT": -3}
    ibkr.held = {"AAPL": 5, "MSFT": 3}
    fix.held = {"NVDA": 100}
    alpaca.equity, ibkr.equity, fix.equity = usd("60000"), usd("100000"), usd("1000000")
    assert run(tiered.positions()) == {"AAPL": 15, "NVDA": 100}  # MSFT nets to zero
    acct = run(tiered.account())
    assert acct.equity == usd("1160000") and acct.cash == usd("580000")
    assert acct.status == "ACTIVE"
    alpaca.rate_limited, fix.rate_limited = 2, 3
    assert tiered.rate_limited == 5
    run(tiered.close())
    assert alpaca.closed and ibkr.closed and fix.closed


def test_tier_of_must_answer_a_tier() -> None:
    alpaca = FakeBroker("alpaca")
    tiered = TieredBroker(alpaca, tier_of=lambda: "retail")  # type: ignore[arg-type,return-value]
    with pytest.raises(BadInput) as info:
        run(tiered.submit(order(1), "c1"))
    assert info.value.field == "tier_of"
    assert alpaca.calls == []


def test_unbound_tier_is_retail() -> None:
    alpaca, ibkr = FakeBroker("alpaca"), FakeBroker("ibkr")
    tiered = TieredBroker(alpaca, ibkr)
    run(tiered.submit(order(1), "c1"))
    assert alpaca.calls == [("submit", "c1")]


async def _quiet(*_args: object) -> None:
    return None


def test_an_order_reducing_a_position_goes_to_the_broker_holding_it() -> None:
    account, tiered, alpaca, ibkr, fix = make("50000")
    fix.held = {"NVDA": 100}  # known from the positions read at stream start
    ibkr.held = {"AAPL": 4}

    def sell(n: int, symbol: str) -> SubmitOrder:
        return SubmitOrder(n, f"s{n}", None, symbol, Side.SELL, 5)

    async def scenario() -> None:
        await tiered.stream(StreamSinks(_quiet, _quiet, _quiet, _quiet))
        await tiered.submit(order(1), "c1")  # retail: Alpaca buys AAPL...
        await alpaca.emit_fill("c1", 5)  # ...and holds 5
        await alpaca.emit_fill("c1", 5)  # the same execution again: counted once
        account.equity = usd("300000")  # semi now
        await tiered.submit(sell(2, "AAPL"), "s2")  # IBKR holds AAPL too: the tier's own
        await tiered.submit(sell(3, "NVDA"), "s3")  # only the prime broker holds NVDA
        await tiered.submit(sell(4, "MSFT"), "s4")  # a new short: the tier's broker
        await tiered.submit(order(5), "c5")  # adding to a long: the tier's broker
        account.equity = usd("50000")  # back to retail
        await tiered.submit(sell(6, "GOOGL"), "s6")  # nobody holds GOOGL: Alpaca

    run(scenario())
    assert [c for _, c in ibkr.calls] == ["s2", "s4", "c5"]
    assert [c for _, c in fix.calls] == ["s3"]
    assert [c for _, c in alpaca.calls] == ["c1", "s6"]
    assert tiered.exits_to_holder == 1


def test_exits_follow_the_largest_holding_when_the_tier_broker_holds_none() -> None:
    _account, tiered, alpaca, ibkr, fix = make("2000000")  # institutional: the prime broker
    alpaca.held = {"AAPL": 3}
    ibkr.held = {"AAPL": 40}

    async def scenario() -> None:
        await tiered.positions()  # the runtime's start-up check reads them too
        await tiered.submit(SubmitOrder(1, "s1", None, "AAPL", Side.SELL, 43), "s1")
        await tiered.submit(SubmitOrder(2, "b2", None, "AAPL", Side.BUY, 43), "b2")

    run(scenario())
    assert ibkr.calls == [("submit", "s1")] and fix.calls == [("submit", "b2")]
    assert alpaca.calls == []


def test_a_broker_down_at_start_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, tiered, alpaca, ibkr, fix = make("50000")

    async def refuse(*_args: object) -> None:
        raise RejectedRequest(None, "not connected to TWS / IB Gateway")

    ibkr.stream = refuse  # type: ignore[method-assign]
    with caplog.at_level("WARNING", logger="gateway.tiers"):
        run(tiered.stream(StreamSinks(_quiet, _quiet, _quiet, _quiet)))
    assert alpaca.sinks is not None and fix.sinks is not None
    assert any("ibkr unavailable at start" in r.getMessage() for r in caplog.records)
    alpaca.stream = refuse  # type: ignore[method-assign]
    with pytest.raises(RejectedRequest):  # the data source is not optional
        run(tiered.stream(StreamSinks(_quiet, _quiet, _quiet, _quiet)))
