"""The Engine with the real SymbolAgent and a minimal in-test venue.

The venue acks every child, fills market/pegged children at the next bar's
open and limit children when the next bar trades through the limit; it
answers cancels and replaces. Over a seeded random market the books must
reconcile, the agents must follow the portfolio, and a rerun must produce the
identical command stream.
"""

from __future__ import annotations

import numpy as np

from core.agent import SymbolAgent
from core.clock import ManualClock
from core.commands import (
    CancelOrder,
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    Record,
    ReplaceOrder,
    ScheduleTimer,
    SubmitOrder,
    Timer,
)
from core.engine import Engine
from core.events import Bar
from core.instruments import CENT, Instrument
from core.portfolio import notional

D = 10**9
MIN = 60 * D
T0 = 1_699_920_000 * D
SYMBOLS = ["AAA", "BBB", "CCC"]


def market(seed: int, count: int) -> dict[str, list[Bar]]:
    rng = np.random.default_rng(seed)
    out = {}
    for s in SYMBOLS:
        price = 10_000
        bars = []
        for i in range(count):
            # a mean-reverting range with wicks and occasional capitulation volume
            step = int(rng.integers(-8, 9)) + (10_000 - price) // 50
            close = max(500, price + step)
            high = max(price, close) + int(rng.integers(0, 6))
            low = max(1, min(price, close) - int(rng.integers(0, 6)))
            volume = int(rng.integers(1_000, 5_000)) * (20 if rng.random() < 0.05 else 1)
            bars.append(
                Bar(s, T0 + i * MIN, price * CENT, high * CENT, low * CENT, close * CENT, volume)
            )
            price = close
        out[s] = bars
    return out


def run(seed: int, count: int = 600, cash: int = 500_000 * D, agent_class=SymbolAgent):
    clock = ManualClock(T0)
    engine = Engine(
        [Instrument(s) for s in SYMBOLS],
        cash,
        clock,
        np.random.default_rng(seed),
        agent_factory=lambda i: agent_class(i, self_tracking=False),
    )
    bars = market(seed, count)
    working: dict[str, SubmitOrder] = {}
    timers: list[ScheduleTimer] = []
    log: list[object] = []
    exec_seq = 0

    def feed(event) -> None:
        commands = engine.handle(event)
        log.extend(commands)
        for c in commands:
            if isinstance(c, SubmitOrder):
                working[c.client_order_id] = c
                feed(OrderUpdate(clock.now_ns(), c.client_order_id, OrdStatus.NEW))
            elif isinstance(c, CancelOrder):
                if working.pop(c.orig_client_order_id, None) is not None:
                    feed(OrderUpdate(clock.now_ns(), c.client_order_id, OrdStatus.CANCELED))
            elif isinstance(c, ReplaceOrder):
                old = working.pop(c.orig_client_order_id, None)
                if old is not None:
                    order = engine.order(c.orig_client_order_id)
                    working[c.client_order_id] = SubmitOrder(
                        c.time_ns,
                        c.client_order_id,
                        old.parent_id,
                        old.symbol,
                        old.side,
                        c.quantity,
                        old.order_type,
                        c.limit_price,
                    )
                    assert order is not None
                    feed(OrderUpdate(clock.now_ns(), c.client_order_id, OrdStatus.REPLACED))
            elif isinstance(c, ScheduleTimer):
                timers.append(c)

    for i in range(count):
        t = T0 + (i + 1) * MIN
        due = sorted((x for x in timers if x.time_ns <= t), key=lambda x: (x.time_ns, x.key))
        for timer in due:
            timers.remove(timer)
            clock.advance_to(max(clock.now_ns(), timer.time_ns))
            feed(Timer(timer.time_ns, timer.key))
        clock.advance_to(t)
        for s in SYMBOLS:
            bar = bars[s][i]
            # the venue fills what was working during this bar
            for cid, order in list(working.items()):
                if order.symbol != s:
                    continue
                price = bar.open
                if order.order_type is OrderType.LIMIT:
                    crossed = (
                        bar.low <= order.limit_price
                        if order.side.sign > 0
                        else bar.high >= order.limit_price
                    )
                    if not crossed:
                        continue
                    price = order.limit_price
                child = engine.order(cid)
                if child is None or child.is_terminal:
                    working.pop(cid)
                    continue
                exec_seq += 1
                feed(
                    Fill(
                        clock.now_ns(),
                        cid,
                        f"X{exec_seq}",
                        s,
                        order.side,
                        child.quantity - child.filled,
                        price,
                        "SIM",
                        1_000_000,
                    )
                )
                working.pop(cid, None)
            feed(bar)
            check(engine)
    return engine, log


def check(engine: Engine) -> None:
    booked = [f for o in engine.orders() for f in o.fills]
    for s in SYMBOLS:
        position = sum(f.side.sign * f.quantity for f in booked if f.symbol == s)
        assert engine.position(s) == position
        direction, _stop = engine.agent(s).position
        assert direction == (position > 0) - (position < 0)
    cash = engine.initial_cash - sum(
        f.side.sign * notional(f.quantity, f.price) + f.fee for f in booked
    )
    assert engine.cash == cash


def test_real_agents_trade_and_follow_the_portfolio():
    engine, log = run(11)
    records = [c for c in log if isinstance(c, Record)]
    entries = [r for r in records if r.kind == "parent" and r.payload["purpose"] == "entry"]
    exits = [r for r in records if r.kind == "parent" and r.payload["purpose"] == "exit"]
    assert entries and exits
    assert any(r.kind == "tca" for r in records)
    assert engine.counters()["rejected_inputs"] == 0


def test_a_rerun_is_identical():
    assert run(5, count=300)[1] == run(5, count=300)[1]


def test_a_missing_bar_is_alerted_as_a_gap():
    clock = ManualClock(T0)
    engine = Engine([Instrument("AAA")], 500_000 * D, clock, np.random.default_rng(0))
    bars = market(1, 20)["AAA"]
    alerts = []
    for i, bar in enumerate(bars):
        if i == 10:
            continue  # the feed drops one bar
        alerts += [c for c in engine.handle(bar) if getattr(c, "kind", "").startswith("health")]
    assert [a.kind for a in alerts] == ["health_gap"]


def test_compiled_and_pure_agents_drive_the_engine_identically(monkeypatch):
    import core.agent
    from core.sr import PyTravelProfile
    from core.volume import PyVolumeTracker

    compiled = run(23, count=400)[1]
    monkeypatch.setattr(core.agent, "TravelProfile", PyTravelProfile)
    monkeypatch.setattr(core.agent, "VolumeTracker", PyVolumeTracker)
    pure = run(23, count=400, agent_class=core.agent.PySymbolAgent)[1]
    assert any(getattr(c, "kind", "") == "parent" for c in pure)
    assert pure == compiled
