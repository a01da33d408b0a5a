"""The imperative shell of ``python -m sim``: progress, tables, files, exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from core.errors import BadInput
from sim.build import replay_spec, scenario_spec
from sim.outputs import summary, write_outputs
from sim.runner import RunResult, RunSpec, Simulation
from sim.scenarios import all_scenarios

EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT = 0, 1, 2


def _console() -> Console:
    return Console(width=max(Console().width, 110))


def list_scenarios() -> int:
    table = Table(title="Scenarios")
    for column in ("name", "symbols", "days", "balance", "faults", "description"):
        table.add_column(column)
    for item in all_scenarios():
        table.add_row(
            item.name,
            str(len(item.symbols)),
            str(item.days),
            f"${item.balance}",
            "yes" if item.faults.any else "no",
            item.description,
        )
    _console().print(table)
    return EXIT_OK


def _execute(spec: RunSpec, out: Path | None) -> tuple[RunResult, dict[str, object]]:
    console = _console()
    total = len(spec.feed.bars)
    journal = None
    if out is not None:
        journal = out / "journal.jsonl"
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} bars"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task(spec.scenario, total=total)
        result = Simulation(spec, journal).run(lambda n: progress.update(task, completed=n))
    data = write_outputs(result, out) if out is not None else summary(result)
    return result, data


def _print_summary(result: RunResult, data: dict[str, object], out: Path | None) -> None:
    console = _console()
    table = Table(title=f"{result.spec.scenario} — seed {result.spec.seed}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in (
        "bars",
        "parents",
        "orders",
        "fills",
        "trades",
        "hit_rate",
        "initial_equity",
        "final_equity",
        "pnl",
        "return",
        "max_drawdown",
        "invariant_checks",
        "crashes_recovered",
    ):
        table.add_row(key, str(data.get(key)))
    positions = data.get("positions") or {}
    table.add_row("positions", ", ".join(f"{s} {q}" for s, q in positions.items()) or "flat")
    if data.get("faults"):
        table.add_row("faults", ", ".join(f"{k} {v}" for k, v in data["faults"].items()))
    table.add_row("run hash", str(data["run_hash"]))
    console.print(table)
    if out is not None:
        console.print(f"outputs: {out}/ (report: {out / 'report.html'})")
    print(f"run hash: {data['run_hash']}")


def _finish(result: RunResult, data: dict[str, object], out: Path | None) -> int:
    _print_summary(result, data, out)
    if result.violation is not None:
        print(f"INVARIANT VIOLATION: {result.violation}", file=sys.stderr)
        return EXIT_VIOLATION
    return EXIT_OK


def run(
    name: str,
    seed: int,
    days: int | None,
    symbols: str | None,
    balance: str | None,
    out: str | None,
) -> int:
    default = Path("out") / f"{name}-seed{seed}"
    return _run_and_report(lambda: scenario_spec(name, seed, days, symbols, balance), out, default)


def replay(file: str, seed: int, balance: str | None, out: str | None) -> int:
    path = Path(file)
    default = Path("out") / f"replay-{path.stem}"
    return _run_and_report(lambda: replay_spec(path, balance or "1000000", seed), out, default)


def _run_and_report(make_spec: Callable[[], RunSpec], out: str | None, default: Path) -> int:
    """Build the run (bad input: exit 2), run it, write everything, print the summary."""
    try:
        spec = make_spec()
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    target = Path(out) if out else default
    problem = _prepare_out(target)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result, data = _execute(spec, target)
    return _finish(result, data, target)


def _prepare_out(target: Path) -> str | None:
    """Create the output directory; a message naming --out when that is impossible."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--out={str(target)!r}: cannot create the directory ({exc.strerror})"
    return None
