"""Swarm testing: each seed picks its own scenario shape and fault mix.

Swarm testing (Groce et al., 2012) switches features on and off at random
per run instead of running everything at once, which finds bugs that a
uniform mix hides. Settings derive from the seed alone, so a failing seed is
its own reproduction, and a seed's outcome cannot depend on which process or
machine ran it: that is what makes re-running a lost batch elsewhere safe.

This module is the deterministic part (settings, one seed, one batch, how
seeds are cut into batches); ``sim.swarm_cli`` is the shell that spreads the
batches over a Dask cluster and prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

from sim.faults import FaultRates
from sim.rng import stream
from sim.scenarios import DEFAULT_FIVE

# Upper bounds of each fault's rate when the swarm switches it on.
_MAX_RATES = {
    "reject": 0.2,
    "partial": 0.4,
    "cancel_race": 0.5,
    "duplicate": 0.2,
    "reorder": 0.3,
    "delay": 0.05,
    "drop_bar": 0.01,
    "stale": 0.002,
    "outage": 0.001,
    "crash": 0.002,
}
_BALANCES = ("50000", "500000", "5000000")
_REGIMES = ("range", "capitulation", "trend", "gaps", "flash_crash")

# Batching (benchmarks/bench_swarm.py measures both numbers; docs/distributed.md).
# A seed costs 0.10-0.25 s of one core (median ~0.17 s); a Dask task costs
# TASK_OVERHEAD_S end to end (submit, schedule, run the wrapper, send the
# result back, as_completed) when many are in flight. A batch must carry at
# least 20x its overhead in work (overhead < 5%), and there must be enough
# batches per worker that the last ones finish together.
SEED_COST_S = 0.17
TASK_OVERHEAD_S = 0.004
MAX_OVERHEAD = 0.05
BATCHES_PER_WORKER = 4


@dataclass(frozen=True)
class SwarmSettings:
    scenario: str
    symbols: tuple[str, ...]
    days: int
    balance: str
    faults: FaultRates

    def describe(self) -> str:
        on = ", ".join(
            f"{f.name}={getattr(self.faults, f.name):.4f}"
            for f in fields(self.faults)
            if getattr(self.faults, f.name) > 0
        )
        return (
            f"{self.scenario} {','.join(self.symbols)} {self.days}d ${self.balance} "
            f"faults[{on or 'none'}]"
        )


def swarm_settings(seed: int) -> SwarmSettings:
    rng = stream(seed, "swarm")
    scenario = _REGIMES[int(rng.integers(0, len(_REGIMES)))]
    count = int(rng.integers(1, 4))
    symbols = tuple(DEFAULT_FIVE[:count])
    days = int(rng.integers(2, 4))
    balance = _BALANCES[int(rng.integers(0, len(_BALANCES)))]
    rates = {
        name: float(rng.uniform(0.0, top)) if rng.random() < 0.5 else 0.0
        for name, top in _MAX_RATES.items()
    }
    return SwarmSettings(scenario, symbols, days, balance, FaultRates(**rates))


def reproduce_command(seed: int) -> str:
    return f"python -m sim swarm --first {seed} --seeds 1"


def run_seed(seed: int) -> dict[str, object]:
    """One seed's full run; the outcome is a plain dict (JSON and pickle friendly).

    A bug that raises instead of tripping an invariant is an outcome too
    (``ok`` false, the exception as the violation): the swarm reports it
    with its reproduce command rather than losing the seed's neighbours.
    """
    from sim.build import scenario_spec
    from sim.runner import RunSpec, Simulation

    settings = swarm_settings(seed)
    reproduce = reproduce_command(seed)
    try:
        spec = scenario_spec(
            settings.scenario,
            seed,
            settings.days,
            ",".join(settings.symbols),
            settings.balance,
            settings.faults,
        )
        spec = RunSpec(
            spec.scenario, spec.seed, spec.feed, spec.initial_cash, spec.faults, reproduce
        )
        result = Simulation(spec).run()
    except Exception as exc:  # a crash is a finding, reported like a violation
        return {
            "seed": seed,
            "settings": settings.describe(),
            "ok": False,
            "violation": f"crashed: {type(exc).__name__}: {exc}",
            "checks": 0,
            "fills": 0,
            "crashes": 0,
            "hash": "",
            "reproduce": reproduce,
        }
    return {
        "seed": seed,
        "settings": settings.describe(),
        "ok": result.violation is None,
        # the headline only: outcome_line and the summary add the reproduce line once
        "violation": None if result.violation is None else result.violation.headline,
        "checks": result.invariant_checks,
        "fills": len(result.fills),
        "crashes": result.crashes,
        "hash": result.run_hash,
        "reproduce": reproduce,
    }


def run_batch(seeds: Sequence[int]) -> list[dict[str, object]]:
    """The unit of work a Dask task carries: consecutive seeds, in order."""
    return [run_seed(seed) for seed in seeds]


def batch_size(seeds: int, workers: int) -> int:
    """Seeds per task: enough that overhead stays under ``MAX_OVERHEAD`` of the
    work, few enough that every worker gets ``BATCHES_PER_WORKER`` batches
    (the tail balances) — when both cannot hold, balance wins, because then
    the swarm is small and its overhead is small in absolute terms."""
    for_overhead = math.ceil(TASK_OVERHEAD_S / (MAX_OVERHEAD * SEED_COST_S))
    for_balance = max(1, seeds // (BATCHES_PER_WORKER * max(1, workers)))
    return max(1, min(for_overhead, for_balance))


def batches(first: int, seeds: int, size: int) -> list[range]:
    """``seeds`` consecutive seeds from ``first`` cut into ranges of ``size``."""
    end = first + seeds
    return [range(start, min(start + size, end)) for start in range(first, end, size)]


def outcome_line(outcome: dict[str, object]) -> str:
    """The per-seed report: settings, and for a failure the violation and how to re-run."""
    status = "ok" if outcome["ok"] else "VIOLATION"
    line = (
        f"seed {outcome['seed']}: {status} — {outcome['settings']} — "
        f"{outcome['fills']} fills, {outcome['checks']} checks, {outcome['crashes']} crashes"
    )
    if not outcome["ok"]:
        line += f"\n  {outcome['violation']}\n  reproduce: {outcome['reproduce']}"
    return line
