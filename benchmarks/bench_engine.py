"""Engine.handle latency (pytest-benchmark).

Targets: a bar that produces no order ≤ 3 µs median with 30 symbols loaded;
a bar that starts a VWAP parent order is reported (no target in the SPEC).
The agent is the real ``core.agent.SymbolAgent`` when it is importable,
otherwise the scripted test double (see the ``agent`` column in the output).

Run: ``python -m pytest benchmarks/bench_engine.py --benchmark-only``
"""

from __future__ import annotations

import numpy as np
import pytest

from core.clock import ManualClock
from core.engine import Engine
from core.events import Bar
from core.execution.cost_model import Urgency
from core.instruments import Instrument
from core.signals import Reason, Signal
from tests.fakes import ScriptedAgent

D = 10**9
MIN = 60 * D
T0 = 1_699_920_000 * D  # a UTC midnight
SYMBOLS = [f"S{i:02d}" for i in range(30)]


def _bar(symbol: str, k: int, volume: int = 10_000) -> Bar:
    price = 100 * D + (k % 17) * D // 100
    return Bar(symbol, T0 + k * MIN, price, price + D // 4, price - D // 4, price, volume)


def _engine(factory, urgency=Urgency.NORMAL) -> tuple[Engine, ManualClock]:
    clock = ManualClock(T0)
    engine = Engine(
        [Instrument(s) for s in SYMBOLS],
        500_000 * D,
        clock,
        np.random.default_rng(1),
        agent_factory=factory,
        urgency=urgency,
    )
    return engine, clock


def test_bar_without_order_30_symbols_scripted_agent(benchmark) -> None:
    """The engine's own cost per bar (agent = trivial scripted double)."""
    engine, clock = _engine(ScriptedAgent)
    for k in range(200):
        for s in SYMBOLS:
            engine.handle(_bar(s, k))
    state = {"k": 200}

    def one_bar() -> None:
        k = state["k"]
        state["k"] = k + 1
        engine.handle(_bar("S00", k))

    benchmark.pedantic(one_bar, rounds=20_000, iterations=1, warmup_rounds=100)
    benchmark.extra_info["agent"] = "scripted"


def test_bar_without_order_30_symbols_real_agent(benchmark) -> None:
    """Engine + the real SymbolAgent (the target is stated for this one)."""
    agent_module = pytest.importorskip("core.agent")

    def factory(instrument):
        return agent_module.SymbolAgent(instrument, self_tracking=False)

    engine, clock = _engine(factory)
    for k in range(200):
        for s in SYMBOLS:
            engine.handle(_bar(s, k))
    state = {"k": 200}

    def one_bar() -> None:
        k = state["k"]
        state["k"] = k + 1
        commands = engine.handle(_bar("S00", k))
        assert not any(getattr(c, "kind", "") == "parent" for c in commands)

    benchmark.pedantic(one_bar, rounds=5_000, iterations=1, warmup_rounds=100)
    benchmark.extra_info["agent"] = "core.agent.SymbolAgent"


def test_bar_that_starts_a_vwap_parent(benchmark) -> None:
    """Sizing, cost model (horizon search), VWAP schedule and first child."""
    history = 1_500  # more than a day of 1-minute bars: the profile is known

    def script(agent, bar):
        if agent.bars_seen == history:
            return Signal.ENTER_LONG, Reason.LEVEL, bar.close - 2 * D
        return Signal.HOLD, None, None

    def setup():
        clock = ManualClock(T0)
        engine = Engine(
            [Instrument("S00")],
            500_000 * D,
            clock,
            np.random.default_rng(1),
            agent_factory=lambda i: ScriptedAgent(i, script),
            urgency=Urgency.LOW,
        )
        for k in range(history):
            engine.handle(_bar("S00", k, 20_000 + 30 * abs(k % 1440 - 720)))
        return (engine, _bar("S00", history, 20_000)), {}

    def start(engine, bar):
        commands = engine.handle(bar)
        assert any(getattr(c, "payload", {}).get("algo") == "vwap" for c in commands)

    benchmark.pedantic(start, setup=setup, rounds=30, iterations=1)
