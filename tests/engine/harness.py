"""Small helpers to drive an Engine by hand in tests and benchmarks."""

from __future__ import annotations

import numpy as np

from core.clock import ManualClock
from core.commands import Fill, OrderUpdate, OrdStatus, SubmitOrder
from core.engine import Engine
from core.events import Bar
from core.execution.cost_model import Urgency
from core.instruments import Instrument
from core.signals import Reason, Signal
from tests.engine.fakes import Script, ScriptedAgent, hold

D = 10**9
MIN = 60 * D
T0 = 1_700_000_000 * D - (1_700_000_000 * D) % (86_400 * D)  # a UTC midnight


class Harness:
    def __init__(
        self,
        symbols: list[str] | None = None,
        cash: int = 500_000 * D,
        script: Script = hold,
        urgency: Urgency = Urgency.NORMAL,
        seed: int = 7,
        lot: int = 1,
        **engine_kw: object,
    ) -> None:
        self.clock = ManualClock(T0)
        self.instruments = [Instrument(s, lot=lot) for s in (symbols or ["AAA"])]
        self.agents: dict[str, ScriptedAgent] = {}

        def factory(instrument: Instrument) -> ScriptedAgent:
            agent = ScriptedAgent(instrument, script)
            self.agents[instrument.symbol] = agent
            return agent

        self.engine = Engine(
            self.instruments,
            cash,
            self.clock,
            np.random.default_rng(seed),
            agent_factory=factory,
            urgency=urgency,
            **engine_kw,
        )
        self.k: dict[str, int] = {}
        self.exec_seq = 0

    def bar(
        self,
        symbol: str = "AAA",
        price: int = 100 * D,
        volume: int = 10_000,
        half_range: int = D // 2,
    ) -> tuple[Bar, list]:
        k = self.k.get(symbol, 0)
        self.k[symbol] = k + 1
        t = T0 + k * MIN
        if self.clock.now_ns() < t + MIN:
            self.clock.advance_to(t + MIN)
        bar = Bar(symbol, t, price, price + half_range, price - half_range, price, volume)
        return bar, self.engine.handle(bar)

    def bars(self, n: int, symbol: str = "AAA", **kw) -> list:
        out = []
        for _ in range(n):
            out.extend(self.bar(symbol, **kw)[1])
        return out

    def fill(
        self,
        order: SubmitOrder | str,
        quantity: int | None = None,
        price: int = 100 * D,
        fee: int = 0,
        exec_id: str | None = None,
    ) -> list:
        cid = order if isinstance(order, str) else order.client_order_id
        child = self.engine.order(cid)
        assert child is not None
        symbol, side, qty = child.symbol, child.side, max(1, child.quantity - child.filled)
        self.exec_seq += 1
        event = Fill(
            self.clock.now_ns(),
            cid,
            exec_id or f"X{self.exec_seq}",
            symbol,
            side,
            quantity if quantity is not None else qty,
            price,
            "",
            fee,
        )
        return self.engine.handle(event)

    def update(self, cid: str, status: OrdStatus, reason: str = "") -> list:
        return self.engine.handle(OrderUpdate(self.clock.now_ns(), cid, status, reason))


def signal_at(schedule: dict[int, tuple[Signal, Reason | None, int | None]]) -> Script:
    """A script emitting ``schedule[bars_seen]`` (stop may be relative: see below)."""

    def script(agent: ScriptedAgent, bar: Bar):
        planned = schedule.get(agent.bars_seen)
        if planned is None:
            return Signal.HOLD, None, None
        return planned

    return script


def submits(commands: list) -> list[SubmitOrder]:
    return [c for c in commands if isinstance(c, SubmitOrder)]


def of_kind(commands: list, kind: type) -> list:
    return [c for c in commands if isinstance(c, kind)]


def fill_all(h: Harness, commands: list, price: int = 100 * D) -> list:
    out = []
    for order in submits(commands):
        out.extend(h.fill(order, price=price))
    return out
