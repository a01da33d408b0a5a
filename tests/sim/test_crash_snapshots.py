"""Simulated crashes recover the gateway's way: newest snapshot + journal tail.

The recovered engine must be the crashed one bit for bit (its snapshot bytes),
the tail must be shorter than the journal, and a recovery that lost any state
is caught as an invariant violation, with the seed to reproduce it.
"""

from __future__ import annotations

import pytest

from core.engine import Engine
from sim.build import scenario_spec
from sim.faults import FaultRates
from sim.invariants import InvariantViolation
from sim.runner import Simulation

FAULTS = FaultRates(partial=0.3, duplicate=0.1, reorder=0.1, reject=0.03, crash=0.003)


def crashing(seed: int = 1) -> Simulation:
    return Simulation(scenario_spec("default", seed=seed, days=4, faults=FAULTS))


def test_crashes_recover_from_snapshots_and_keep_the_hash() -> None:
    sim = crashing()
    result = sim.run()
    assert result.violation is None
    assert result.crashes > 0
    snapshots = sim._snapshots
    assert snapshots is not None and snapshots.taken >= 4  # one per session close at least
    assert 0 < snapshots.line < result.journal_lines  # the tail is part of the journal only
    again = crashing().run()
    assert again.run_hash == result.run_hash and again.crashes == result.crashes


def test_recovered_engine_is_the_crashed_one_bit_for_bit() -> None:
    sim = crashing(2)
    result = sim.run()
    assert result.violation is None
    before = sim.engine.snapshot()
    sim._recover(sim._clock.now_ns())
    assert sim.engine.snapshot() == before


def test_a_recovery_that_loses_state_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Engine.restore

    def forgetful(self: Engine, data: bytes) -> None:
        original(self, data)
        self._counters["bars"] -= 1  # a snapshot that lost one count

    monkeypatch.setattr(Engine, "restore", forgetful)
    result = crashing().run()
    assert isinstance(result.violation, InvariantViolation)
    assert "differs from the crashed one" in str(result.violation)
