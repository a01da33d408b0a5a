"""The real Gateway trading through a TieredBroker against the stand-ins, with
the account's equity crossing a tier boundary mid-session.

An account started a few cents above a boundary pays commissions on its first
fills and drops below it: the next order after that goes to the broker of the
lower tier, without a restart, with one ``tier_change`` alert per crossing in
the database. Every execution in SQLite is one of the stand-ins' (once), the
positions are the sum of the brokers' books, and each TCA record's filled
quantity is its parent's executions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from pathlib import Path

from core.money import format_price
from core.tiers import AccountTier, tier_for_equity
from gateway.brokers.tiered import TieredBroker, build_tiered
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import Storage
from standins.market import load_market
from tests.aio import wait_until
from tests.tiers.session import (
    DARK_POOLS,
    Market,
    agreement,
    bind_tiers,
    market_standins,
    record_routes,
    settle_with_books,
)

SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]


def _alerts(storage: Storage, kind: str) -> list[str]:
    return [str(r[0]) for r in storage.db.execute("SELECT text FROM alerts WHERE kind=?", (kind,))]


async def withdraw_below(gateway: Gateway, m: Market, boundary_usd: int, margin_usd: int) -> int:
    """Move the engine's equity to ``margin_usd`` under ``boundary_usd`` by a cash
    withdrawal, as in production: made at the Alpaca stand-in (a CSW activity),
    read by the gateway's poll of ``/v2/account/activities`` and handed to the
    engine as a ``CashFlow``; the engine's own tier (order types, algos) and the
    route both follow from it, as they would from a real loss."""
    async with gateway.inputs.lock:
        amount = gateway.engine.equity() - (boundary_usd - margin_usd) * 10**9
    booked = gateway.engine.counters()["cash_flows"]
    m.standin.broker.cash_flow(m.standin.market_now(), f"-{format_price(amount)}")
    await gateway.poll_cash_flows()
    await wait_until(lambda: gateway.engine.counters()["cash_flows"] == booked + 1, 10)
    assert gateway.engine.equity() < boundary_usd * 10**9
    return amount


def test_semi_institutional_account_falling_below_100k_moves_to_alpaca(tmp_path: Path) -> None:
    balance = "100500"  # the engine's equity: semi-institutional by $500
    # The brokers' accounts hold more cash than the engine trades with, so that
    # Alpaca's cash-account checks do not refuse the engine's (margin-sized) buys.
    market = load_market("default", 3, 2, 4, "1000000")

    async def session():  # type: ignore[no-untyped-def]
        async with market_standins(market, speed=3000.0) as m:
            config = parse_config(m.config(balance, SYMBOLS), env={}, base=tmp_path)
            config = dataclasses.replace(config, fix=None)  # retail and semi only
            storage = Storage(config.database.path)
            tiered = build_tiered(config, storage)
            gateway = Gateway(config, tiered, storage, None, RuntimeOptions())
            changes = bind_tiers(gateway, tiered)
            routed = record_routes(tiered, gateway)
            await gateway.start()
            try:
                await wait_until(lambda: routed.orders and gateway.counters.fills >= 1, 60)
                await withdraw_below(gateway, m, 100_000, 1_000)
                await wait_until(lambda: m.done, timeout=90)
                await settle_with_books(gateway, m)
                same = await gateway.reconciler.check_positions("end")
            finally:
                await gateway.stop()
            problems, per_broker = agreement(storage, m)
            return gateway, tiered, changes, routed, problems, per_broker, same

    started = time.monotonic()
    gateway, tiered, changes, routed, problems, per_broker, same = asyncio.run(
        asyncio.wait_for(session(), 150)
    )
    elapsed = time.monotonic() - started
    orders = routed.orders
    names = {AccountTier.RETAIL: "alpaca", AccountTier.SEMI_INSTITUTIONAL: "ibkr"}
    # every order went where its tier (from the engine's equity as it was sent) says,
    # unless it reduced a position held at the other broker
    exits = 0
    for bcid, tier, broker, equity in orders:
        assert tier is tier_for_equity(equity), (bcid, tier, equity)
        if broker != names[tier]:
            exits += 1
    assert exits == tiered.exits_to_holder
    assert orders[0][1] is AccountTier.SEMI_INSTITUTIONAL and orders[0][2] == "ibkr"
    retail = [o for o in orders if o[1] is AccountTier.RETAIL]
    assert retail, f"no order after the withdrawal: {orders}"
    assert any(o[2] == "alpaca" for o in retail), orders
    # one alert per crossing, in the database as well
    crossings = sum(1 for a, b in itertools.pairwise(orders) if a[1] is not b[1])
    assert len(changes) == crossings == tiered.tier_changes >= 1
    assert changes[0] == (AccountTier.SEMI_INSTITUTIONAL, AccountTier.RETAIL)
    texts = _alerts(gateway.storage, "tier_change")
    assert len(texts) == crossings and "semi_institutional -> retail" in texts[0]
    assert problems == [] and same
    assert per_broker.get("ibkr", 0) >= 1 and per_broker.get("alpaca", 0) >= 1
    assert per_broker["tca"] >= 1
    assert gateway.counters.bad_inputs == 0
    used = [b for _, _, b, _ in orders]
    print(
        f"\ntiers 100K: {len(orders)} orders ({used.count('ibkr')} IBKR,"
        f" {used.count('alpaca')} Alpaca, {exits} exits to the holder), {crossings}"
        f" crossings, executions {per_broker}, {elapsed:.1f}s"
    )


def test_institutional_account_over_fix_falls_below_1m_to_ibkr(
    tmp_path: Path,
) -> None:
    """All three brokers wired: $1,000,500 is institutional, so the execution
    algorithms' child orders go over FIX; after a withdrawal to $990,000 the
    next orders go to IBKR."""
    balance = "1000500"
    market = load_market("default", 3, 2, 4, "10000000")

    async def session():  # type: ignore[no-untyped-def]
        async with market_standins(market, speed=3000.0) as m:
            config = parse_config(m.config(balance, SYMBOLS), env={}, base=tmp_path)
            storage = Storage(config.database.path)
            tiered = build_tiered(config, storage)  # what python -m gateway builds
            assert [b.name for b in tiered.brokers] == ["alpaca", "ibkr", "fix"]
            gateway = Gateway(config, tiered, storage, None, RuntimeOptions())
            changes = bind_tiers(gateway, tiered)
            routed = record_routes(tiered, gateway)
            await gateway.start()
            try:
                await wait_until(lambda: m.pb.book.executions, 60)
                await wait_until(lambda: len(m.pb.book.executions) >= 8 or m.done, 60)
                await withdraw_below(gateway, m, 1_000_000, 10_000)
                await wait_until(lambda: m.done, timeout=90)
                await settle_with_books(gateway, m)
                same = await gateway.reconciler.check_positions("end")
            finally:
                await gateway.stop()
            problems, per_broker = agreement(storage, m)
            dark = sum(1 for e in m.pb.book.executions if e["venue"] in DARK_POOLS)
            return gateway, tiered, changes, routed, problems, per_broker, same, dark

    started = time.monotonic()
    gateway, tiered, changes, routed, problems, per_broker, same, dark = asyncio.run(
        asyncio.wait_for(session(), 170)
    )
    elapsed = time.monotonic() - started
    orders = routed.orders
    names = {
        AccountTier.RETAIL: "alpaca",
        AccountTier.SEMI_INSTITUTIONAL: "ibkr",
        AccountTier.INSTITUTIONAL: "fix",
    }
    exits = sum(1 for _, tier, broker, _ in orders if broker != names[tier])
    for bcid, tier, _broker, equity in orders:
        assert tier is tier_for_equity(equity), (bcid, tier, equity)
    assert exits == tiered.exits_to_holder
    assert orders[0][1] is AccountTier.INSTITUTIONAL and orders[0][2] == "fix"
    assert changes and changes[0] == (AccountTier.INSTITUTIONAL, AccountTier.SEMI_INSTITUTIONAL)
    after = [o for o in orders if o[1] is AccountTier.SEMI_INSTITUTIONAL]
    assert any(o[2] == "ibkr" for o in after), orders
    crossings = sum(1 for a, b in itertools.pairwise(orders) if a[1] is not b[1])
    assert len(changes) == crossings == len(_alerts(gateway.storage, "tier_change"))
    assert problems == [] and same
    # Executions over FIX; whether any child went dark is the engine's choice
    # (DarkPoolRouter picks a pool only for non-urgent, non-passive children; in
    # these sessions it has chosen IEX so far): reported, not required.
    assert per_broker.get("fix", 0) >= 1 and dark >= 0
    assert per_broker["tca"] >= 1
    assert gateway.counters.bad_inputs == 0
    used = [b for _, _, b, _ in orders]
    print(
        f"\ntiers 1M: {len(orders)} orders ({used.count('fix')} FIX, {used.count('ibkr')}"
        f" IBKR, {used.count('alpaca')} Alpaca, {exits} exits to the holder), {crossings}"
        f" crossings, executions {per_broker}, {dark} in dark pools, {elapsed:.1f}s"
    )


def test_a_crash_and_restart_keep_every_order_with_its_broker(tmp_path: Path) -> None:
    """Alpaca and the prime broker only (no [ibkr]: the semi-institutional tier
    falls back to Alpaca). Institutional at the start (FIX), semi after a
    withdrawal (so Alpaca), then the gateway dies without any shutdown and a new
    one starts on the same database: it knows each order's broker from the
    route store, the prime broker resumes from its own executions, and nothing
    is lost or booked twice."""
    balance = "1000500"
    market = load_market("default", 3, 2, 4, "10000000")

    async def kill(gateway: Gateway, tiered: TieredBroker) -> None:
        await gateway.crash()
        for broker in tiered.brokers:
            abort = getattr(broker, "abort", None)
            await (abort() if abort is not None else broker.close())
        assert tiered.routes is gateway.storage.routes
        gateway.storage.close()

    async def session():  # type: ignore[no-untyped-def]
        async with market_standins(market, speed=3000.0) as m:
            config = parse_config(m.config(balance, SYMBOLS), env={}, base=tmp_path)
            config = dataclasses.replace(config, ibkr=None)
            storage = Storage(config.database.path)
            first = build_tiered(config, storage)
            assert first.broker_for(AccountTier.SEMI_INSTITUTIONAL) is first.data
            gateway = Gateway(config, first, storage, None, RuntimeOptions())
            bind_tiers(gateway, first)
            await gateway.start()
            await wait_until(lambda: len(m.pb.book.executions) >= 4, 60)
            await withdraw_below(gateway, m, 1_000_000, 10_000)
            alpaca_fills = lambda: m.standin.broker.state_json()["fills"]  # noqa: E731
            await wait_until(lambda: len(alpaca_fills()) >= 1 or m.done, 60)
            owners = {c: b.name for c, b in first._owner.items()}
            await kill(gateway, first)
            await asyncio.sleep(1.0)  # the market trades on while nobody is there
            storage = Storage(config.database.path)
            second = build_tiered(config, storage)
            relearnt = {c: second.owner(c) for c in owners}
            gateway = Gateway(config, second, storage, None, RuntimeOptions())
            bind_tiers(gateway, second)
            await gateway.start()
            try:
                await wait_until(lambda: m.done, timeout=90)
                await settle_with_books(gateway, m)
                same = await gateway.reconciler.check_positions("end")
            finally:
                await gateway.stop()
            problems, per_broker = agreement(storage, m)
            return owners, relearnt, problems, per_broker, same, gateway

    started = time.monotonic()
    owners, relearnt, problems, per_broker, same, gateway = asyncio.run(
        asyncio.wait_for(session(), 170)
    )
    assert owners and all(
        relearnt[c] is not None and relearnt[c].name == name  # type: ignore[union-attr]
        for c, name in owners.items()
    )
    assert {"fix", "alpaca"} <= set(owners.values())
    assert problems == [] and same
    assert per_broker.get("fix", 0) >= 1 and per_broker.get("alpaca", 0) >= 1
    assert gateway.counters.bad_inputs == 0
    print(
        f"\ntiers restart: {len(owners)} orders routed before the crash, executions"
        f" {per_broker}, {time.monotonic() - started:.1f}s"
    )
