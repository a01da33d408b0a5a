"""End-to-end simulated bars per second: 30 symbols × 20 trading days of minute bars.

The whole system runs: agents, portfolio, execution algorithms, simulated
venues, journal hashing and the invariant checks after every event. Market
generation is done once, outside the timing.
"""

from __future__ import annotations

import pytest

from sim.build import scenario_spec
from sim.runner import Simulation


@pytest.fixture(scope="module")
def universe_spec():
    return scenario_spec("universe30", seed=1, days=20)


def test_sim_30_symbols_20_days(benchmark, universe_spec) -> None:
    bars = len(universe_spec.feed.bars)

    def run() -> None:
        result = Simulation(universe_spec).run()
        assert result.violation is None

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=0)
    benchmark.extra_info["bars"] = bars
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["bars_per_second"] = bars / benchmark.stats.stats.median
