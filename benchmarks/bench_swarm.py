"""Swarm throughput on Dask: seeds/s on 1 vs 2 workers, and the per-task overhead.

    python benchmarks/bench_swarm.py [--seeds 2000] [--noop 2000]

Not a pytest benchmark (minutes, not milliseconds); run it by hand. Each
measurement starts a fresh ``LocalCluster`` (the product's own
``sim.cluster.connect``), warms every worker up (imports, the calendar)
and times only the swarm itself, through the product's ``run_on``:

- *seeds/s* for the same ``--seeds`` seeds with the default batch size, on
  1 worker and on 2; scaling efficiency = rate(2) / (2 × rate(1));
- *per-task overhead*: ``--noop`` tasks that do nothing, streamed back the
  same way (submit, schedule, run, return, ``as_completed``); wall time per
  task with that many in flight, and as a fraction of one batch's work.

The load average is printed before and after: on a shared machine it says
how far to trust the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim import cluster, swarm_cli
from sim.swarm import SEED_COST_S, batch_size


def noop(seeds: range) -> list[dict[str, object]]:
    return []


def warm(seed: int) -> int:
    from sim.swarm import run_seed

    run_seed(seed)
    return os.getpid()


def swarm_rate(workers: int, seeds: int) -> dict[str, float]:
    started = time.perf_counter()
    with cluster.connect(None, workers) as client:
        client.wait_for_workers(workers)
        ready = time.perf_counter() - started
        pids = set(client.run(warm, 10_000).values())
        assert len(pids) == workers
        size = batch_size(seeds, workers)
        done: list[dict[str, object]] = []
        t0 = time.perf_counter()
        swarm_cli.run_on(client, 0, seeds, size, done.append)
        elapsed = time.perf_counter() - t0
    assert len(done) == seeds and all(o["ok"] for o in done)
    return {
        "workers": workers,
        "startup_s": ready,
        "batch": size,
        "tasks": -(-seeds // size),
        "elapsed_s": elapsed,
        "seeds_per_s": seeds / elapsed,
    }


def task_overhead(workers: int, tasks: int) -> float:
    with cluster.connect(None, workers) as client:
        client.wait_for_workers(workers)
        client.run(warm, 10_000)
        parts = [range(i, i + 1) for i in range(tasks)]
        list(cluster.stream(client, noop, parts[:100]))  # warm the scheduler path
        t0 = time.perf_counter()
        list(cluster.stream(client, noop, parts))
        return (time.perf_counter() - t0) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--noop", type=int, default=2000)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    overhead = {w: task_overhead(w, args.noop) for w in (1, 2)}
    for w, value in overhead.items():
        print(f"per-task overhead, {w} worker(s): {value * 1e3:.2f} ms", flush=True)
    one = swarm_rate(1, args.seeds)
    print(json.dumps(one), flush=True)
    two = swarm_rate(2, args.seeds)
    print(json.dumps(two), flush=True)
    efficiency = two["seeds_per_s"] / (2 * one["seeds_per_s"])
    seed_cost = 1 / one["seeds_per_s"]
    batch_work = seed_cost * two["batch"]
    print(f"load average after: {os.getloadavg()}")
    print(
        f"\n{args.seeds} seeds: 1 worker {one['seeds_per_s']:.2f} seeds/s "
        f"({one['elapsed_s']:.1f} s), 2 workers {two['seeds_per_s']:.2f} seeds/s "
        f"({two['elapsed_s']:.1f} s); scaling efficiency {efficiency:.0%}\n"
        f"a seed costs {seed_cost * 1e3:.0f} ms of one worker (model: {SEED_COST_S * 1e3:.0f} ms); "
        f"batch of {two['batch']} = {batch_work * 1e3:.0f} ms of work; per-task overhead "
        f"{overhead[2] * 1e3:.2f} ms = {overhead[2] / batch_work:.1%} of a batch"
    )


if __name__ == "__main__":
    main()
