"""The imperative shell of ``python -m sim``: progress, tables, files, exit codes."""

from __future__ import annotations

import argparse
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


def _execute(
    spec: RunSpec, out: Path | None, risk_free: float = 0.0
) -> tuple[RunResult, dict[str, object]]:
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
    data = write_outputs(result, out, risk_free) if out is not None else summary(result)
    return result, data


SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("bars", "bars"),
    ("parents", "parent orders"),
    ("orders", "orders"),
    ("fills", "fills"),
    ("trades", "round trips"),
    ("hit_rate", "hit rate"),
    ("initial_equity", "initial equity"),
    ("final_equity", "final equity"),
    ("pnl", "P&L"),
    ("return", "return"),
    ("max_drawdown", "max drawdown (intraday)"),
    ("cagr", "CAGR"),
    ("annual_volatility", "volatility (annualised)"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("calmar", "Calmar"),
    ("risk_free_rate", "risk-free rate"),
    ("max_drawdown_daily", "max drawdown (daily)"),
    ("drawdown_dates", "peak → trough → recovery"),
    ("gross_exposure", "gross exposure"),
    ("net_exposure", "net exposure"),
    ("turnover", "turnover"),
    ("fees", "fees paid"),
    ("slippage_vs_arrival", "slippage vs arrival"),
    ("benchmark_return", "buy & hold return"),
    ("benchmark_max_drawdown", "buy & hold max drawdown"),
    ("excess_return", "excess over buy & hold"),
    ("alpha", "alpha (annualised)"),
    ("beta", "beta"),
    ("alerts", "alerts"),
    ("invariant_checks", "invariant checks"),
)


def _print_summary(result: RunResult, data: dict[str, object], out: Path | None) -> None:
    console = _console()
    provenance = result.spec.provenance
    if provenance:
        style = "bold yellow" if provenance.startswith("SYNTHETIC") else "bold"
        console.print(provenance, style=style, soft_wrap=True)
    table = Table(title=f"{result.spec.scenario} — seed {result.spec.seed}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    shown = data.get("display") or {}
    assert isinstance(shown, dict)
    for key, label in SUMMARY_ROWS:
        value = shown.get(key, data.get(key))
        if value is not None and value != "":
            table.add_row(label, str(value))
    table.add_row("crashes recovered", str(data.get("crashes_recovered")))
    positions = data.get("positions") or {}
    assert isinstance(positions, dict)
    table.add_row("positions", ", ".join(f"{s} {q:,}" for s, q in positions.items()) or "flat")
    faults = data.get("faults") or {}
    assert isinstance(faults, dict)
    if faults:
        table.add_row("faults", ", ".join(f"{k} {v}" for k, v in faults.items()))
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
    urgency: str = "medium",
    broker: str | None = None,
    risk_free: str | None = None,
) -> int:
    default = Path("out") / f"{name}-seed{seed}"
    return _run_and_report(
        lambda: scenario_spec(name, seed, days, symbols, balance, urgency=urgency, broker=broker),
        out,
        default,
        risk_free,
    )


def replay(
    args: argparse.Namespace,
    seed: int,
    balance: str | None,
    out: str | None,
    urgency: str = "medium",
    broker: str | None = None,
    risk_free: str | None = None,
) -> int:
    """``sim replay FILE...`` or ``sim replay --catalog DIR --symbols ... --start/--end ...``."""
    from sim.data.source import load, query_from, source_command

    def make() -> RunSpec:
        loaded = load(args.files, query_from(args))
        return replay_spec(
            loaded,
            source_command(args),
            balance or "1000000",
            seed,
            urgency=urgency,
            broker=broker,
        )

    files = getattr(args, "files", [])
    name = Path(files[0]).stem if files else (getattr(args, "symbols", None) or "catalog")
    default = Path("out") / f"replay-{name.replace(',', '-')}"
    return _run_and_report(make, out, default, risk_free)


def parse_risk_free(text: str | None) -> float:
    """``--risk-free`` as an annual fraction (0.04) or percentage (4%), 0 to 25%."""
    if text is None:
        return 0.0
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise BadInput("--risk-free", text, "must be an annual rate like 0.04 or 4%") from None
    if not 0.0 <= value <= 0.25:
        raise BadInput("--risk-free", text, "must be between 0 and 25% a year")
    return value


def _run_and_report(
    make_spec: Callable[[], RunSpec], out: str | None, default: Path, risk_free: str | None = None
) -> int:
    """Build the run (bad input: exit 2), run it, write everything, print the summary."""
    try:
        rate = parse_risk_free(risk_free)
        spec = make_spec()
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    target = Path(out) if out else default
    problem = _prepare_out(target)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    result, data = _execute(spec, target, rate)
    return _finish(result, data, target)


def _prepare_out(target: Path) -> str | None:
    """Create the output directory; a message naming --out when that is impossible."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"--out={str(target)!r}: cannot create the directory ({exc.strerror})"
    return None
