"""Engine.handle latency (pytest-benchmark).

Targets: a bar that produces no order ≤ 3 µs median with 30 symbols loaded
(the real compiled ``SymbolAgent`` included); a bar that starts a VWAP parent
order is reported (no target in the SPEC). Bars are built before timing:
only ``Engine.handle`` is measured.

Run: ``python -m pytest benchmarks/bench_engine.py``
"""

from __future__ import annotations

import numpy as np

from core.agent import SymbolAgent
from core.clock import ManualClock
from core.engine import Engine
from core.events import Bar
from core.execution.cost_model import Urgency
from core.instruments import Instrument
from core.signals import AgentSignal, Reason, Signal
from tests.engine.fakes import ScriptedAgent

D = 10**9
MIN = 60 * D
T0 = 1_699_920_000 * D  # a UTC midnight
SYMBOLS = [f"S{i:02d}" for i in range(30)]
WARM = 300
ROUNDS = 20_000


def _bar(symbol: str, k: int, volume: int = 10_000) -> Bar:
    price = 100 * D + (k % 17) * D // 100
    return Bar(symbol, T0 + k * MIN, price, price + D // 4, price - D // 4, price, volume)


class HoldAgent:
    """Answers HOLD at no cost: isolates the engine's own per-bar overhead."""

    def __init__(self, instrument: Instrument) -> None:
        self._hold = AgentSignal(
            instrument.symbol, 0, Signal.HOLD, None, None, None, None, None, False, None, None
        )
        self.atr = D // 2

    def on_bar(self, bar: Bar) -> AgentSignal:
        return self._hold

    def set_position(self, direction: int, stop: int | None) -> None:
        raise AssertionError("no fills in this benchmark")


def _loaded_engine(factory) -> tuple[Engine, list[Bar]]:
    engine = Engine(
        [Instrument(s) for s in SYMBOLS],
        500_000 * D,
        ManualClock(T0),
        np.random.default_rng(1),
        agent_factory=factory,
    )
    for k in range(WARM):
        for s in SYMBOLS:
            engine.handle(_bar(s, k))
    timed = [_bar("S00", WARM + k) for k in range(ROUNDS + 200)]
    return engine, timed


def _bench_bars(benchmark, engine: Engine, bars: list[Bar]) -> None:
    it = iter(bars)
    handle = engine.handle

    def one_bar() -> None:
        if handle(next(it)):
            raise AssertionError("this bar was expected to produce no command")

    benchmark.pedantic(one_bar, rounds=ROUNDS, iterations=1, warmup_rounds=100)


def test_bar_without_order_30_symbols_real_agent(benchmark) -> None:
    """Engine + the real (compiled when built) SymbolAgent: the target case."""
    engine, bars = _loaded_engine(lambda i: SymbolAgent(i, self_tracking=False))
    _bench_bars(benchmark, engine, bars)


def test_bar_without_order_30_symbols_engine_only(benchmark) -> None:
    """The engine's own share: the agent answers HOLD for free."""
    engine, bars = _loaded_engine(HoldAgent)
    _bench_bars(benchmark, engine, bars)


def test_bar_that_starts_a_vwap_parent(benchmark) -> None:
    """Sizing, cost model (horizon search), VWAP schedule, routing, first child."""
    history = 1_500  # more than a day of 1-minute bars: the profile is known

    def script(agent, bar):
        if agent.bars_seen == history:
            return Signal.ENTER_LONG, Reason.LEVEL, bar.close - 2 * D
        return Signal.HOLD, None, None

    def setup():
        engine = Engine(
            [Instrument("S00")],
            500_000 * D,
            ManualClock(T0),
            np.random.default_rng(1),
            agent_factory=lambda i: ScriptedAgent(i, script),
            urgency=Urgency.LOW,
        )
        for k in range(history):
            engine.handle(_bar("S00", k, 20_000 + 30 * abs(k % 1440 - 720)))
        return (engine, _bar("S00", history, 20_000)), {}

    def start(engine, bar):
        commands = engine.handle(bar)
        if not any(getattr(c, "payload", {}).get("algo") == "vwap" for c in commands):
            raise AssertionError("expected a VWAP parent")

    benchmark.pedantic(start, setup=setup, rounds=30, iterations=1)
