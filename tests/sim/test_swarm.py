"""The swarm: the CI run over many seeds, reproduction of one seed, its settings.

``SWARM_SEEDS`` is the CI swarm's size: 200 seeds with two workers took
71–75 s on the 2-core CI box while other suites were running (27–33 s of
CPU). The wall time is printed (``-s``), not asserted: timing belongs in
``benchmarks/``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

from sim import cli
from sim.faults import FaultRates
from sim.swarm import swarm_settings

ROOT = Path(__file__).resolve().parents[2]
SWARM_SEEDS = 200


def sim(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def jsonl(*args: str) -> list[dict[str, object]]:
    done = sim("swarm", *args, "--jsonl")
    assert done.returncode == 0, done.stderr + done.stdout
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


# --------------------------------------------------------------- CI swarm
def test_ci_swarm_has_no_violations() -> None:
    started = time.perf_counter()
    done = sim("swarm", "--seeds", str(SWARM_SEEDS), "--workers", "2")
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"swarm: {SWARM_SEEDS} seeds, 0 violations" in done.stdout
    seeds = [int(s) for s in re.findall(r"^seed (\d+): ok", done.stdout, re.MULTILINE)]
    assert seeds == list(range(SWARM_SEEDS))  # every seed ran, once, reported in order
    fills = [int(n) for n in re.findall(r"— (\d+) fills,", done.stdout)]
    crashes = [int(n) for n in re.findall(r", (\d+) crashes$", done.stdout, re.MULTILINE)]
    assert sum(1 for n in fills if n > 0) >= SWARM_SEEDS // 4, "too few seeds trade"
    assert sum(1 for n in crashes if n > 0) >= SWARM_SEEDS // 10, "too few seeds crash"
    print(f"swarm of {SWARM_SEEDS} seeds took {elapsed:.1f} s")  # reported, never asserted


# ----------------------------------------------------------- reproduction
def test_reproduce_command_reruns_the_seed_with_the_same_hash() -> None:
    block = jsonl("--first", "40", "--seeds", "3")
    assert [o["seed"] for o in block] == [40, 41, 42]
    middle = block[1]
    assert middle["reproduce"] == "python -m sim swarm --first 41 --seeds 1"
    argv = shlex.split(str(middle["reproduce"]))
    assert argv[:4] == ["python", "-m", "sim", "swarm"]
    [again] = jsonl(*argv[4:])
    assert again["hash"] == middle["hash"]
    assert again["settings"] == middle["settings"]
    assert again["fills"] == middle["fills"] and again["crashes"] == middle["crashes"]


def test_same_seed_same_hash_in_process_and_in_a_worker() -> None:
    outcome = cli._swarm_one(7)
    [worker] = jsonl("--first", "7", "--seeds", "1")
    assert outcome["hash"] == worker["hash"]
    assert outcome["ok"] is True


def test_parallel_and_serial_swarms_agree(capsys: pytest.CaptureFixture[str]) -> None:
    serial = jsonl("--first", "60", "--seeds", "4")
    assert cli.swarm(4, 60, 2, False) == cli.EXIT_OK
    text = capsys.readouterr().out
    assert "swarm: 4 seeds, 0 violations" in text
    assert [int(s) for s in re.findall(r"^seed (\d+): ok", text, re.MULTILINE)] == [60, 61, 62, 63]
    assert len({o["hash"] for o in serial}) == 4


def test_planted_bug_fails_the_swarm_with_a_reproduce_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A venue that loses one execution report: the swarm exits 1 and says how to re-run."""
    from sim.venues import VenueSimulator

    original = VenueSimulator._fill

    def lose_first(self, now_ns, order, quantity, price, *when):
        out = original(self, now_ns, order, quantity, price, *when)
        if out and not getattr(self, "_lost", False):
            self._lost = True
            return []
        return out

    monkeypatch.setattr(VenueSimulator, "_fill", lose_first)
    seed = next(s for s in range(1, 200) if _trades(s))
    code = cli.swarm(1, seed, 1, False)
    text = capsys.readouterr().out
    assert code == cli.EXIT_VIOLATION
    assert "1 violations" in text
    assert f"reproduce: python -m sim swarm --first {seed} --seeds 1" in text
    assert "never delivered" in text


def _trades(seed: int) -> bool:
    """Whether a seed's swarm run fills anything (cheap enough to probe a few)."""
    return int(cli._swarm_one(seed)["fills"]) > 0


# --------------------------------------------------------------- settings
def test_swarm_settings_are_deterministic() -> None:
    for seed in (0, 1, 17, 123_456):
        assert swarm_settings(seed) == swarm_settings(seed)
        assert swarm_settings(seed).describe() == swarm_settings(seed).describe()


def test_swarm_settings_vary_across_seeds() -> None:
    settings = [swarm_settings(seed) for seed in range(100)]
    assert len({s.scenario for s in settings}) >= 4
    assert len({len(s.symbols) for s in settings}) >= 2
    assert len({s.days for s in settings}) >= 2
    assert len({s.balance for s in settings}) >= 2
    assert len({s.faults for s in settings}) == 100
    for item in fields(FaultRates):
        values = [getattr(s.faults, item.name) for s in settings]
        assert any(v == 0 for v in values), f"{item.name} never switched off"
        assert any(v > 0 for v in values), f"{item.name} never switched on"
        assert all(0 <= v <= 1 for v in values)


def test_swarm_settings_are_valid_run_inputs() -> None:
    from sim.build import scenario_spec

    for seed in range(5):
        settings = swarm_settings(seed)
        spec = scenario_spec(
            settings.scenario,
            seed,
            settings.days,
            ",".join(settings.symbols),
            settings.balance,
            settings.faults,
        )
        assert spec.seed == seed
        assert spec.faults == settings.faults
        assert {i.symbol for i in spec.feed.instruments} == set(settings.symbols)
        assert spec.feed.bars
