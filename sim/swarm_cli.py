"""``python -m sim swarm``: seeds spread over a Dask cluster, reported in seed order.

Batches are streamed back as they finish (``as_completed``) and feed the
progress bar at once; the per-seed lines are printed as soon as every
earlier seed is in, so the output is the same, byte for byte, whichever
worker finished first. Exit status: 0 no violation, 1 a violation (or a
seed that crashed or was lost), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from core.cells import as_int
from core.errors import BadInput
from sim import cluster
from sim.swarm import batch_size, batches, outcome_line, reproduce_command, run_batch

EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def lost_outcome(seed: int, error: str) -> dict[str, object]:
    """A seed whose task failed on the cluster itself (not in the simulation)."""
    from sim.swarm import swarm_settings

    return {
        "seed": seed,
        "settings": swarm_settings(seed).describe(),
        "ok": False,
        "violation": f"lost on the cluster: {error}",
        "checks": 0,
        "fills": 0,
        "crashes": 0,
        "hash": "",
        "reproduce": reproduce_command(seed),
    }


def _validate(seeds: int, first: int, workers: int | None, batch: int | None) -> int:
    if seeds < 1:
        raise BadInput("--seeds", seeds, "must be at least 1")
    if first < 0:
        raise BadInput("--first", first, "must be >= 0")
    if batch is not None and batch < 1:
        raise BadInput("--batch", batch, "must be at least 1")
    return cluster.check_workers(workers)


def swarm(
    seeds: int,
    first: int = 0,
    workers: int | None = None,
    scheduler: str | None = None,
    jsonl: bool = False,
    batch: int | None = None,
) -> int:
    try:
        count = _validate(seeds, first, workers, batch)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    outcomes: list[dict[str, object]] = []

    def emit(outcome: dict[str, object]) -> None:
        outcomes.append(outcome)
        if jsonl:
            print(json.dumps(outcome, sort_keys=True), flush=True)
        else:
            print(outcome_line(outcome), flush=True)

    try:
        in_order = cluster.InOrder(first, emit, key=lambda o: int(o["seed"]))
        _run(seeds, first, count, scheduler, batch, in_order)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(
            f"swarm: interrupted after {len(outcomes)} of {seeds} seeds; "
            "queued and running batches cancelled",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    failed = [o for o in outcomes if not o["ok"]]
    if not jsonl:
        checks = sum(as_int(o["checks"]) for o in outcomes)
        print(f"swarm: {len(outcomes)} seeds, {len(failed)} violations, {checks} invariant checks")
        for outcome in failed:
            print(f"  seed {outcome['seed']}: {outcome['violation']}")
            print(f"  reproduce: {outcome['reproduce']}")
    return EXIT_VIOLATION if failed else EXIT_OK


def _run(
    seeds: int,
    first: int,
    workers: int,
    scheduler: str | None,
    batch: int | None,
    out: cluster.InOrder,
) -> None:
    # A local cluster never needs more workers than there are seeds.
    with cluster.connect(scheduler, min(workers, seeds)) as client:
        cluster.check_same_code(client)
        size = batch or batch_size(seeds, cluster.worker_count(client, workers))
        run_on(client, first, seeds, size, out.add)


def run_on(
    client: Any,
    first: int,
    seeds: int,
    size: int,
    on_outcome: Callable[[dict[str, object]], None],
    function: Callable[[range], list[dict[str, object]]] = run_batch,
) -> None:
    """The swarm on a connected client: one task per batch, outcomes streamed
    to ``on_outcome`` as batches finish (tests pass their own ``function``,
    e.g. one that gets its worker killed, around ``run_batch``)."""
    console = Console(stderr=True)
    parts = batches(first, seeds, size)
    violations = 0
    with Progress(
        TextColumn("[bold]swarm[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} seeds"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(f"{len(parts)} batches of ≤{size}", total=seeds)
        for done in cluster.stream(client, function, parts):
            if done.error is not None:
                results = [lost_outcome(s, done.error) for s in parts[done.index]]
            else:
                results = done.value
            for outcome in results:
                violations += not outcome["ok"]
                on_outcome(outcome)
            progress.update(
                task,
                advance=len(results),
                description=f"{len(parts)} batches of ≤{size}, {violations} violations",
            )
