"""The shared simulated market with all three brokers' stand-ins, in process, and
the real ``Gateway`` trading through a ``TieredBroker`` over real sockets.

In process rather than ``python -m standins`` in a subprocess: the agreement
checks read the stand-ins' own books (the TWS book is not in
``/_control/state``), and the runtime's objects are inspected directly. The
sockets, protocols and adapters are the production ones: Alpaca REST and
websockets (aiohttp), the TWS API (ib_async), FIX (the gateway's initiator).
"""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from core.tiers import AccountTier
from gateway.brokers.tiered import TieredBroker
from gateway.runtime import Gateway
from gateway.storage import Storage
from standins.faults import Faults
from standins.fix_pb.server import FixPrimeBroker
from standins.market import SessionMarket
from standins.server import Options, StandIn
from standins.tws.server import ACCOUNT, TwsServer

DARK_POOLS = ("SIGMA-X", "CROSSFINDER", "MS-POOL", "LEVEL-ATS", "LIQUIDNET")


@dataclass
class Market:
    standin: StandIn
    tws: TwsServer
    pb: FixPrimeBroker
    http_port: int
    tws_port: int
    fix_port: int

    def config(self, balance: str, symbols: list[str]) -> str:
        base = f"127.0.0.1:{self.http_port}"
        return f"""
[broker]
type = "alpaca"
[alpaca]
api_key = "test"
secret_key = "test"
rest_url = "http://{base}"
data_url = "http://{base}"
data_ws_url = "ws://{base}/v2/iex"
trading_ws_url = "ws://{base}/stream"
[ibkr]
port = {self.tws_port}
client_id = 41
account_id = "{ACCOUNT}"
[fix]
port = {self.fix_port}
sender_comp_id = "SOVEREIGN"
target_comp_id = "PRIMEBROKER"
[portfolio]
initial_balance = {balance}
[universe]
symbols = {symbols!r}
""".replace("'", '"')

    @property
    def done(self) -> bool:
        return self.standin._next_live >= len(self.standin.market.live)


@asynccontextmanager
async def market_standins(market: SessionMarket, speed: float) -> AsyncIterator[Market]:
    """Alpaca (HTTP + websockets), TWS and the FIX prime broker on one market."""
    standin = StandIn(market, Options(speed=speed, seed=1), Faults(seed=1))
    runner = web.AppRunner(
        standin.app(), handle_signals=False, access_log=None, shutdown_timeout=0.5
    )
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    tws = TwsServer(standin)
    tws_port = await tws.start()
    pb = FixPrimeBroker(standin)
    fix_port = await pb.start()
    standin.start()
    try:
        yield Market(standin, tws, pb, sock.getsockname()[1], tws_port, fix_port)
    finally:
        await pb.stop()
        await tws.stop()
        if standin._publisher is not None:
            standin._publisher.cancel()
        await runner.cleanup()


def bind_tiers(gateway: Gateway, tiered: TieredBroker) -> list[tuple[AccountTier, AccountTier]]:
    """What ``python -m gateway`` does (the ``Gateway`` binds the tiered broker at
    wiring: the engine's equity picks the tier, a change is a gateway alert), plus a
    list of the changes seen."""
    alert = tiered.on_tier_change
    changes: list[tuple[AccountTier, AccountTier]] = []

    def changed(old: AccountTier, new: AccountTier) -> None:
        changes.append((old, new))
        alert(old, new)

    tiered.on_tier_change = changed
    return changes


@dataclass
class Routed:
    """Each order as it was sent: its broker client id, the tier, the broker."""

    orders: list[tuple[str, AccountTier, str, int]] = field(default_factory=list)


def record_routes(tiered: TieredBroker, gateway: Gateway) -> Routed:
    routed = Routed()
    submit = tiered.submit

    async def watched(command: Any, broker_client_id: str) -> Any:
        equity = gateway.engine.equity()
        try:
            return await submit(command, broker_client_id)
        finally:  # refused orders were routed too
            owner = tiered.owner(broker_client_id)
            assert tiered.tier is not None and owner is not None
            routed.orders.append((broker_client_id, tiered.tier, owner.name, equity))

    tiered.submit = watched  # type: ignore[method-assign]
    return routed


def book_positions(m: Market) -> dict[str, int]:
    """The three stand-ins' books summed: signed quantity per symbol, non-zero only."""
    books: dict[str, int] = defaultdict(int)
    for p in m.standin.broker.state_json()["positions"]:
        books[p["symbol"]] += int(Decimal(p["qty"])) * (-1 if p.get("side") == "short" else 1)
    for s, p in m.tws.book.positions.items():
        books[s] += p.qty
    for s, q in m.pb.book.positions.items():
        books[s] += q
    return {s: q for s, q in books.items() if q}


async def settle_with_books(gateway: Gateway, m: Market, timeout: float = 30.0) -> None:
    """Wait, once the market has published its last bar, until every execution the
    stand-ins made has reached the engine (its positions equal the books'), then
    reconcile. Executions are delivered asynchronously (FIX reports, Alpaca's trade
    stream), so a fixed sleep before comparing positions raced the last of them."""

    async def agreed() -> bool:
        await gateway.settle()
        return gateway.engine.positions() == book_positions(m)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await agreed():
        if loop.time() > deadline:
            raise AssertionError(
                f"positions {gateway.engine.positions()} here, {book_positions(m)} at the"
                f" stand-ins after {timeout}s"
            )
        await asyncio.sleep(0.02)
    await gateway.reconcile(startup=False, grace=0.0)
    await gateway.settle()


def nano(text: object) -> int:
    return int(Decimal(str(text)) * 10**9)


def agreement(storage: Storage, m: Market) -> tuple[list[str], dict[str, int]]:
    """SQLite executions vs the three stand-ins' books: each execution once,
    same quantity and price, positions equal to the books' sum; and every TCA
    record's filled quantity equal to its parent's executions."""
    problems: list[str] = []
    prefix = storage.meta("id_prefix") or ""
    truth: dict[str, tuple[str, str, int, int, str]] = {}  # exec id → (cid, symbol, qty, px, who)
    for f in m.standin.broker.state_json()["fills"]:
        truth[f["execution_id"]] = (
            f["client_order_id"],
            f["symbol"],
            int(Decimal(f["qty"])),
            nano(f["price"]),
            "alpaca",
        )
    for e in m.tws.executions:
        truth[e.view.exec_id] = (
            e.view.order_ref,
            e.view.symbol,
            int(e.view.shares),
            nano(e.view.price),
            "ibkr",
        )
    for e in m.pb.book.executions:
        truth[e["exec_id"]] = (e["cl_ord_id"], e["symbol"], e["qty"], nano(e["price"]), "fix")
    rows = storage.booked.executions()
    seen: set[str] = set()
    per_broker: dict[str, int] = defaultdict(int)
    for r in rows:
        exec_id = str(r["exec_id"])
        if exec_id in seen:
            problems.append(f"execution {exec_id} booked twice")
        seen.add(exec_id)
        if exec_id.startswith("recon:"):
            per_broker["reconciled"] += 1
            continue
        known = truth.get(exec_id)
        if known is None:
            problems.append(f"execution {exec_id} is no stand-in's")
            continue
        cid, symbol, qty, price, who = known
        per_broker[who] += 1
        got = (prefix + str(r["client_order_id"]), r["symbol"], r["quantity"], r["price"])
        if got != (cid, symbol, qty, price):
            problems.append(f"execution {exec_id}: {got} here, {known[:4]} at {who}")
    # Nothing lost, nothing doubled, reconciled fills included: per symbol and
    # side, the quantity booked here is the quantity the brokers executed for us.
    side_of = {str(r["exec_id"]): str(r["side"]) for r in rows}
    theirs_qty: dict[tuple[str, str], int] = defaultdict(int)
    for exec_id, (cid, symbol, qty, _px, who) in truth.items():
        if cid.startswith(prefix):
            side = side_of.get(exec_id) or _side(m, who, exec_id)
            theirs_qty[(symbol, side)] += qty
    ours_qty: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        ours_qty[(str(r["symbol"]), str(r["side"]))] += int(r["quantity"])
    if dict(ours_qty) != dict(theirs_qty):
        problems.append(f"quantities: database {dict(ours_qty)}, brokers {dict(theirs_qty)}")
    net: dict[str, int] = defaultdict(int)
    for r in rows:
        net[str(r["symbol"])] += int(r["quantity"]) * (1 if r["side"] == "buy" else -1)
    mine = {s: q for s, q in net.items() if q}
    theirs = book_positions(m)
    if mine != theirs:
        problems.append(f"positions: database {mine}, stand-ins {theirs}")
    filled_by_parent: dict[str, int] = defaultdict(int)
    parent_of = {  # every id an order has had (after a cancel/replace too): order_ids
        str(o[0]): str(o[1])
        for o in storage.db.execute(
            "SELECT i.client_order_id, o.parent_id FROM order_ids i"
            " JOIN orders o ON o.client_order_id = i.order_id"
        )
        if o[1] is not None
    }
    for r in rows:
        parent = parent_of.get(str(r["client_order_id"]))
        if parent is not None:
            filled_by_parent[parent] += int(r["quantity"])
    records = _tca(storage)
    per_broker["tca"] = len(records)
    for parent_id, payload in records:
        filled = payload["filled"]
        if int(filled) != filled_by_parent.get(parent_id, 0):
            problems.append(
                f"TCA {parent_id}: filled {filled}, executions {filled_by_parent.get(parent_id, 0)}"
            )
    return problems, dict(per_broker)


def _side(m: Market, who: str, exec_id: str) -> str:
    """The side of an execution the database does not have, from its broker."""
    if who == "alpaca":
        fills = m.standin.broker.state_json()["fills"]
        return str(next(f["side"] for f in fills if f["execution_id"] == exec_id))
    if who == "ibkr":
        side = next(e.view.side for e in m.tws.executions if e.view.exec_id == exec_id)
        return "buy" if side in ("BOT", "BUY") else "sell"
    return str(next(e["side"] for e in m.pb.book.executions if e["exec_id"] == exec_id))


def _tca(storage: Storage) -> list[tuple[str, dict[str, Any]]]:
    import json

    return [
        (str(parent), json.loads(payload))
        for parent, payload in storage.db.execute("SELECT parent_id, payload FROM tca")
    ]
