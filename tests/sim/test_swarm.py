"""The swarm on Dask: the CI run over many seeds against the sequential run,
a worker SIGKILLed mid-swarm, Ctrl-C, reproduction of one seed, its settings.

``SWARM_SEEDS`` is the CI swarm's size. The sequential reference (every seed
run in this process, one after another) is computed once per module and
every distributed result is held to it seed by seed. Wall times are printed
(``-s``), never asserted: timing belongs in ``benchmarks/``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path

import psutil
import pytest

from sim import cluster, swarm_cli
from sim.faults import FaultRates
from sim.swarm import (
    BATCHES_PER_WORKER,
    MAX_OVERHEAD,
    SEED_COST_S,
    TASK_OVERHEAD_S,
    batch_size,
    batches,
    outcome_line,
    run_seed,
    swarm_settings,
)
from tests.sim.swarm_hooks import killed_once

ROOT = Path(__file__).resolve().parents[2]
SWARM_SEEDS = 200
KILL_SEEDS, KILL_BATCH, KILL_TARGET = 60, 5, 30  # 12 batches; the 7th is the doomed one
WAIT_S = 180


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


def seed_of(outcome: dict[str, object]) -> int:
    return int(str(outcome["seed"]))


@pytest.fixture(scope="module")
def sequential() -> dict[int, dict[str, object]]:
    """Every CI seed run here, in order, without Dask: the reference."""
    started = time.perf_counter()
    outcomes = {seed: run_seed(seed) for seed in range(SWARM_SEEDS)}
    print(f"sequential reference of {SWARM_SEEDS} seeds took {time.perf_counter() - started:.1f} s")
    return outcomes


# --------------------------------------------------------------- CI swarm
def test_ci_swarm_matches_the_sequential_run_seed_by_seed(
    sequential: dict[int, dict[str, object]],
) -> None:
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
    # Seed by seed, the distributed report is the sequential one, byte for byte.
    expected = [outcome_line(sequential[seed]) for seed in range(SWARM_SEEDS)]
    assert done.stdout.splitlines()[:SWARM_SEEDS] == expected
    print(f"swarm of {SWARM_SEEDS} seeds on 2 workers took {elapsed:.1f} s")  # never asserted


def test_a_worker_sigkilled_mid_swarm_changes_no_result_and_loses_no_seed(
    sequential: dict[int, dict[str, object]], tmp_path: Path
) -> None:
    """The worker that starts the batch holding seed 30 is SIGKILLed while it
    runs it (once it has said so: no sleep, no luck); its batch is re-run by
    another worker and every outcome, hash included, is the sequential one."""
    killed: list[int] = []
    worker_pids: set[int] = set()

    def kill_when_started() -> None:
        pid_file = tmp_path / "pid"
        deadline = time.monotonic() + WAIT_S
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        if pid_file.exists():
            pid = int(pid_file.read_text())
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    outcomes: list[dict[str, object]] = []
    with cluster.connect(None, 2) as client:
        worker_pids.update(client.run(os.getpid).values())
        killer = threading.Thread(target=kill_when_started, daemon=True)
        killer.start()
        task = functools.partial(killed_once, str(tmp_path), KILL_TARGET)
        swarm_cli.run_on(client, 0, KILL_SEEDS, KILL_BATCH, outcomes.append, task)
        killer.join(WAIT_S)
    assert len(killed) == 1 and killed[0] in worker_pids, "a worker of the cluster was killed"
    reruns = [int(p.read_text()) for p in tmp_path.glob("rerun-*")]
    assert len(reruns) == 1 and reruns[0] != killed[0], "the doomed batch ran again elsewhere"
    assert sorted(seed_of(o) for o in outcomes) == list(range(KILL_SEEDS))  # none lost
    for outcome in outcomes:
        assert outcome == sequential[seed_of(outcome)]


def test_ctrl_c_cancels_the_swarm_and_shuts_the_cluster_down() -> None:
    """Ctrl-C in a terminal signals the whole process group."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "swarm", "--seeds", "5000", "--workers", "2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # the swarm is under way
        assert first.startswith("seed 0: ok"), first
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 2  # the two worker processes
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=WAIT_S)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == swarm_cli.EXIT_INTERRUPTED
    assert "swarm: interrupted after" in err and "of 5000 seeds" in err
    assert "Traceback" not in err
    _gone, alive = psutil.wait_procs(children, timeout=WAIT_S)
    assert not alive, f"left behind: {alive}"


# ----------------------------------------------------------- reproduction
def test_reproduce_command_reruns_the_seed_with_the_same_hash(
    sequential: dict[int, dict[str, object]],
) -> None:
    block = jsonl("--first", "40", "--seeds", "3")
    assert [o["seed"] for o in block] == [40, 41, 42]
    assert block == [sequential[s] for s in (40, 41, 42)]  # in a worker = in process
    middle = block[1]
    assert middle["reproduce"] == "python -m sim swarm --first 41 --seeds 1"
    argv = shlex.split(str(middle["reproduce"]))
    assert argv[:4] == ["python", "-m", "sim", "swarm"]
    [again] = jsonl(*argv[4:])
    assert again == middle


def test_planted_bug_fails_the_swarm_with_a_reproduce_command(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sequential: dict[int, dict[str, object]],
) -> None:
    """A venue that loses one execution report: the swarm exits 1 and says how
    to re-run. The cluster's worker is a thread of this process (so it sees the
    planted bug), reached by address like any remote cluster (``--scheduler``)."""
    from distributed import LocalCluster

    from sim.venues import VenueSimulator

    original = VenueSimulator._fill

    def lose_first(self, now_ns, order, quantity, price, *when):
        out = original(self, now_ns, order, quantity, price, *when)
        if out and not getattr(self, "_lost", False):
            self._lost = True
            return []
        return out

    monkeypatch.setattr(VenueSimulator, "_fill", lose_first)
    seed = next(s for s in range(1, SWARM_SEEDS) if str(sequential[s]["fills"]) != "0")
    with LocalCluster(
        n_workers=1, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=None
    ) as local:
        code = swarm_cli.swarm(1, seed, scheduler=local.scheduler_address)
    text = capsys.readouterr().out
    assert code == swarm_cli.EXIT_VIOLATION
    assert "1 violations" in text
    assert f"reproduce: python -m sim swarm --first {seed} --seeds 1" in text
    assert "never delivered" in text


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--seeds", "0"], "--seeds=0"),
        (["--seeds", "3", "--first", "-1"], "--first=-1"),
        (["--seeds", "3", "--workers", "0"], "--workers=0"),
        (["--seeds", "3", "--batch", "0"], "--batch=0"),
    ],
)
def test_bad_swarm_input_exits_2_naming_the_option(args: list[str], field: str) -> None:
    done = sim("swarm", *args)
    assert done.returncode == 2
    assert f"error: {field}" in done.stderr and "Traceback" not in done.stderr


def test_scheduler_and_workers_are_exclusive() -> None:
    done = sim("swarm", "--seeds", "3", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert done.returncode == 2 and "not allowed with argument" in done.stderr


# ---------------------------------------------------------------- batching
@pytest.mark.parametrize("workers", [1, 2, 8, 64])
@pytest.mark.parametrize("seeds", [1, 7, 200, 2_000, 10_000, 100_000])
def test_batches_keep_overhead_small_and_the_tail_balanced(seeds: int, workers: int) -> None:
    size = batch_size(seeds, workers)
    parts = batches(3, seeds, size)
    assert [s for part in parts for s in part] == list(range(3, 3 + seeds))  # each seed once
    enough_work = TASK_OVERHEAD_S / (size * SEED_COST_S) <= MAX_OVERHEAD
    balanced = len(parts) >= min(seeds, BATCHES_PER_WORKER * workers)
    assert balanced
    if seeds >= BATCHES_PER_WORKER * workers * 8:
        assert enough_work  # big swarms: the overhead bound holds


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


def test_a_violation_prints_its_reproduce_command_once() -> None:
    """The violation's headline and one reproduce line (it was printed twice)."""
    from sim.invariants import InvariantViolation
    from sim.swarm import outcome_line

    violation = InvariantViolation(
        "AAPL: position 1 != 2", 7, 99, "python -m sim swarm --first 7 --seeds 1"
    )
    line = outcome_line(
        {"seed": 7, "ok": False, "settings": "s", "fills": 1, "checks": 2, "crashes": 0,
         "violation": violation.headline, "reproduce": violation.reproduce}
    )  # fmt: skip
    assert line.count("reproduce:") == 1 and "AAPL: position 1 != 2" in line
