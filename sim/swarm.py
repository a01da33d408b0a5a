"""Swarm testing: each seed picks its own scenario shape and fault mix.

Swarm testing (Groce et al., 2012) switches features on and off at random
per run instead of running everything at once, which finds bugs that a
uniform mix hides. Settings derive from the seed alone, so a failing seed is
its own reproduction.
"""

from __future__ import annotations

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
