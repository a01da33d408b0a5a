"""The real Gateway and Engine trading through PrimeFixBroker against the stand-in.

In process and driven bar by bar: an institutional account (equity above $1M)
whose child orders go over FIX to the prime-broker stand-in; then a crash
with orders at the broker and a restart on the same database and FIX store.
The gateway's SQLite must agree with the prime broker's book.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from core.events import Bar
from gateway.brokers.base import MarketClock, StreamSinks
from gateway.brokers.prime_fix import PrimeFixBroker
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import Storage
from standins.faults import Faults
from standins.fix_pb.server import FixPrimeBroker
from standins.market import MINUTE_NS, SessionMarket, load_market
from standins.server import Options, StandIn
from tests.primefix.conftest import Running, run, settings
from tests.primefix.test_recovery import _watch_logons

CONFIG = """
[broker]
type = "fix"
[fix]
sender_comp_id = "SOVEREIGN"
target_comp_id = "PRIMEBROKER"
[portfolio]
initial_balance = 2000000
[universe]
symbols = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
"""


class ManualData:
    """The market-data half, driven by the test: the prime broker trades each bar first."""

    def __init__(self, market: SessionMarket, pb: FixPrimeBroker) -> None:
        self.now = market.live_start_ns
        self.pb = pb
        self.published: list[Bar] = []
        self._on_bar = None

    async def clock(self) -> MarketClock:
        return MarketClock(self.now, True, self.now + 86_400 * 10**9, self.now + 3600 * 10**9)

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        return [b for b in self.published if start_ns <= b.time_ns < end_ns and b.symbol in symbols]

    async def stream(self, sinks: StreamSinks) -> None:
        self._on_bar = sinks.on_bar

    async def restart_data_stream(self, reason: str) -> None:
        return None

    async def close(self) -> None:
        self._on_bar = None

    async def publish(self, bar: Bar, listening: bool = True) -> None:
        self.now = max(self.now, bar.time_ns + MINUTE_NS)
        self.published.append(bar)
        await self.pb.app.on_minute([bar])
        if listening and self._on_bar is not None:
            await self._on_bar(bar)


async def quiesce(g: Gateway | None, broker: PrimeFixBroker, pb: FixPrimeBroker) -> None:
    """Until both sides have read everything the other sent and the runtime is idle."""
    for _ in range(2_000):
        if g is not None:
            await g.settle()
        ours, theirs = broker.store, pb.session.store
        if (
            ours.next_target_seq == theirs.next_sender_seq
            and theirs.next_target_seq == ours.next_sender_seq
            and broker.idle
        ):
            if g is not None:
                await g.settle()
            return
        await asyncio.sleep(0.002)
    raise AssertionError("FIX traffic did not settle")


def _agreement(db: Path, pb: FixPrimeBroker) -> tuple[list[str], int, int]:
    storage = Storage(db)
    rows = storage.booked.executions()
    prefix = storage.db.execute("SELECT value FROM meta WHERE key='id_prefix'").fetchone()[0]
    problems = []
    book = {e["exec_id"]: e for e in pb.book.executions}
    stream_rows = [r for r in rows if not str(r["exec_id"]).startswith("recon:")]
    seen = set()
    for r in stream_rows:
        e = book.get(str(r["exec_id"]))
        if e is None:
            problems.append(f"execution {r['exec_id']} is not the prime broker's")
            continue
        if str(r["exec_id"]) in seen:
            problems.append(f"execution {r['exec_id']} booked twice")
        seen.add(str(r["exec_id"]))
        if (e["qty"], e["symbol"], e["side"]) != (r["quantity"], r["symbol"], r["side"]):
            problems.append(f"execution {r['exec_id']} differs: {e} vs {r}")
    booked: dict[str, int] = defaultdict(int)
    for r in rows:
        booked[str(r["symbol"])] += int(r["quantity"]) * (1 if r["side"] == "buy" else -1)
    ours = {s: q for s, q in booked.items() if q}
    if ours != pb.book.positions:
        problems.append(f"positions {ours} here, {pb.book.positions} at the prime broker")
    mine = [e for e in pb.book.executions if e["cl_ord_id"].startswith(prefix)]
    if len(mine) != len(pb.book.executions):
        problems.append("prime-broker executions without our prefix")
    missing = set(book) - seen
    recon = len(rows) - len(stream_rows)
    if missing and not recon:
        problems.append(f"{len(missing)} executions never booked")
    storage.close()
    return problems, len(stream_rows), recon


def _market() -> SessionMarket:
    return load_market("range", 1, history_days=0, days=2)


def test_institutional_account_trades_over_fix_and_survives_a_crash(tmp_path: Path) -> None:
    market = _market()
    bars = list(market.live)

    async def scenario() -> tuple[list[str], int, int, int, int]:
        standin = StandIn(market, Options(seed=1), Faults(seed=1))
        pb = FixPrimeBroker(standin)
        port = await pb.start()
        logons = _watch_logons(Running(standin, pb, port))
        data = ManualData(market, pb)
        pb.app.market_now = lambda: data.now
        db, store = tmp_path / "g.db", tmp_path / "g.fix"
        config = parse_config(CONFIG, env={}, base=tmp_path)
        broker = PrimeFixBroker(settings(port, store), data)
        first = Gateway(config, broker, Storage(db), None, RuntimeOptions())
        await first.start(loops=False)
        cut = None
        for i, bar in enumerate(bars[:2500]):
            await data.publish(bar)
            await quiesce(first, broker, pb)
            if first.counters.fills >= 3 and first.engine.open_orders():
                cut = i
                break
        assert cut is not None, "no fills with working orders in the first session"
        fills_first = first.counters.fills
        await first.crash()
        await broker.abort()
        for bar in bars[cut + 1 : cut + 301]:  # the prime broker trades on while we are down
            await data.publish(bar, listening=False)
        storage = Storage(db)
        broker2 = PrimeFixBroker.resuming(settings(port, store), data, storage.booked.executions())
        second = Gateway(config, broker2, storage, None, RuntimeOptions())
        await second.start(loops=False)
        await quiesce(second, broker2, pb)
        for bar in bars[cut + 301 : cut + 900]:
            await data.publish(bar)
            await quiesce(second, broker2, pb)
        await second.reconcile(startup=False, grace=0.0)
        await quiesce(second, broker2, pb)
        same = await second.reconciler.check_positions("end")
        await second.stop()
        await pb.stop()
        problems, streamed, recon = _agreement(db, pb)
        if len(logons) != 2 or any(b"141=Y" in raw for raw in logons):
            problems.append(f"session reset or extra logons: {len(logons)}")
        if not same:
            problems.append("runtime position check failed")
        dark = sum(
            1
            for e in pb.book.executions
            if e["venue"] in ("SIGMA-X", "CROSSFINDER", "MS-POOL", "LEVEL-ATS", "LIQUIDNET")
        )
        return problems, streamed, recon, fills_first, dark

    problems, streamed, recon, fills_first, dark = run(scenario(), timeout=110)
    print(
        f"\nFIX runtime: {streamed} streamed, {recon} reconciled executions,"
        f" {fills_first} before the crash, {dark} dark-pool executions"
    )
    assert problems == []
    assert streamed > fills_first  # fills after the restart came over the resumed session
