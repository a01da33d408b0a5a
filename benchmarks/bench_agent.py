"""``SymbolAgent.on_bar`` with 10⁴, 10⁵ and 10⁶ bars of history absorbed.

Targets (issue 2): median ≤ 2 µs per bar at 10⁶ bars of history, and at most
1.5× growth from 10⁴ to 10⁶. Each round feeds the next fresh bar, so the
history really grows by one bar per call, as in production.
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import synthetic_minute_bars
from core.agent import SymbolAgent
from core.instruments import Instrument

EXTRA = 20_000  # bars fed while measuring


@pytest.mark.parametrize("history", [10_000, 100_000, 1_000_000])
def test_on_bar_with_history(benchmark, history: int) -> None:
    bars = synthetic_minute_bars(history + EXTRA)
    agent = SymbolAgent(Instrument("BENCH"))
    for bar in bars[:history]:
        agent.on_bar(bar)
    fresh = iter(bars[history:])
    on_bar = agent.on_bar

    def next_bar() -> None:
        on_bar(next(fresh))

    benchmark.pedantic(next_bar, rounds=EXTRA - 10, iterations=1, warmup_rounds=0)
    assert agent.bars_seen > history


def test_harness_overhead(benchmark) -> None:
    """The same pedantic loop around a call that does nothing: subtract this
    from the numbers above to see the agent's own cost."""
    values = iter(range(EXTRA))

    def next_value() -> None:
        next(values)

    benchmark.pedantic(next_value, rounds=EXTRA - 10, iterations=1, warmup_rounds=0)
