"""Sweeps: the same system over a grid of settings, one full run per point.

The grid's axes are scenarios × symbol sets × days × balances × urgencies
× seeds, plus replays of data files (or a bar catalog) × replay symbol sets
(the data's own tickers, hence a separate axis) × date ranges × balances ×
urgencies × seeds. A point is plain parameters; the
worker that runs it builds everything else (the market, or the slice of
data it reads itself: ``sim.replay_source``), so a point's row depends on
its parameters alone. This module is the deterministic part; the Dask
shell is ``sim.sweep_cli`` and the files are ``sim.sweep_report``.
"""

from __future__ import annotations

import itertools
import math
import re
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from core.errors import BadInput
from sim.build import URGENCIES
from sim.runner import RunResult, RunSpec

DEFAULT_URGENCY = "medium"
"""``sim run``'s default: risk-priced entries (the engine's NORMAL)."""

DAY_NS = 86_400 * 10**9
TRADING_DAYS = 252
MAX_POINTS = 100_000
REPLAY_BALANCE = "1000000"  # sim replay's default
AXES = ("scenario", "source", "symbols", "range", "days", "balance", "urgency", "seed")
METRICS = ("return", "max_drawdown", "sharpe")
_TICKER = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,15}$")


@dataclass(frozen=True)
class Point:
    """One run of the sweep, as parameters only (cheap to ship to a worker)."""

    scenario: str  # a scenario name, or "replay"
    seed: int
    balance: str | None = None  # None: the scenario's own
    urgency: str = DEFAULT_URGENCY
    symbols: str | None = None  # "AAPL,MSFT"; None: the scenario's / every symbol in the data
    days: int | None = None  # scenarios only; None: the scenario's
    source: str | None = None  # replays only: a path or URL the worker can read
    start: str | None = None  # replays only: ISO dates, inclusive
    end: str | None = None

    @property
    def is_replay(self) -> bool:
        return self.source is not None

    @property
    def range(self) -> str | None:
        if not self.is_replay:
            return None
        return f"{self.start or ''}:{self.end or ''}"

    def axis(self, name: str) -> object:
        return self.range if name == "range" else getattr(self, name)

    def label(self) -> str:
        """Everything but the seed: points with one label differ only by seed."""
        parts = [self.scenario if not self.is_replay else f"replay {self.source}"]
        if self.symbols:
            parts.append(self.symbols)
        if self.is_replay and self.range != ":":
            parts.append(str(self.range))
        if self.days is not None:
            parts.append(f"{self.days}d")
        if self.balance is not None:
            parts.append(f"${self.balance}")
        parts.append(self.urgency)
        return " ".join(parts)

    def reproduce(self) -> str:
        """The exact command that re-runs this point alone."""
        if not self.is_replay:
            command = ["python", "-m", "sim", "run", self.scenario, "--seed", str(self.seed)]
            for flag, value in (
                ("--days", self.days),
                ("--symbols", self.symbols),
                ("--balance", self.balance),
            ):
                if value is not None:
                    command += [flag, str(value)]
            if self.urgency != DEFAULT_URGENCY:
                command += ["--urgency", self.urgency]
            return shlex.join(command)
        command = ["python", "-m", "sim", "sweep", "--replay", str(self.source)]
        command += ["--seeds", str(self.seed), "--urgencies", self.urgency]
        if self.symbols is not None:
            command += ["--replay-symbols", self.symbols]
        if self.range != ":":
            command += ["--range", str(self.range)]
        if self.balance is not None:
            command += ["--balances", self.balance]
        return shlex.join([*command, "--workers", "1", "--out", f"out/sweep-point-{self.seed}"])


@dataclass(frozen=True)
class Grid:
    scenarios: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (1,)
    balances: tuple[str | None, ...] = (None,)
    urgencies: tuple[str, ...] = (DEFAULT_URGENCY,)
    symbol_sets: tuple[str | None, ...] = (None,)
    days: tuple[int | None, ...] = (None,)
    replays: tuple[str, ...] = ()
    replay_symbol_sets: tuple[str | None, ...] = (None,)  # None: every symbol in the data
    ranges: tuple[tuple[str | None, str | None], ...] = ((None, None),)
    heatmap: tuple[str, str] | None = None

    def points(self) -> list[Point]:
        out = [
            Point(name, seed, balance, urgency, symbols, days)
            for name, symbols, days, balance, urgency, seed in itertools.product(
                self.scenarios,
                self.symbol_sets,
                self.days,
                self.balances,
                self.urgencies,
                self.seeds,
            )
        ]
        out += [
            Point("replay", seed, balance, urgency, symbols, None, source, start, end)
            for source, symbols, (start, end), balance, urgency, seed in itertools.product(
                self.replays,
                self.replay_symbol_sets,
                self.ranges,
                self.balances,
                self.urgencies,
                self.seeds,
            )
        ]
        return out

    def heatmap_axes(self) -> tuple[str, str] | None:
        """The two axes of the report's heat map: as asked, else the first two
        that vary (the seed last: a heat map over seeds says little)."""
        if self.heatmap is not None:
            return self.heatmap
        points = self.points()
        varying = [a for a in AXES if len({p.axis(a) for p in points}) > 1]
        return (varying[0], varying[1]) if len(varying) >= 2 else None


# ------------------------------------------------------------------ parsing
def parse_seeds(text: str, field: str = "--seeds") -> tuple[int, ...]:
    """``1,2,7`` or ``0-99`` (inclusive) or a mix: ``0-9,20``."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise BadInput(field, text, f"{part!r} is not a seed or a range A-B of seeds >= 0")
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise BadInput(field, text, f"range {part!r} runs backwards")
        seeds.extend(range(low, high + 1))
    if len(set(seeds)) != len(seeds):
        raise BadInput(field, text, "names a seed twice")
    return tuple(seeds)


def parse_symbol_set(text: str, field: str = "--symbols") -> str:
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise BadInput(field, text, "names no symbol")
    for symbol in symbols:
        if not _TICKER.match(symbol):
            raise BadInput(field, text, f"{symbol!r} is not a ticker")
    if len(set(symbols)) != len(symbols):
        raise BadInput(field, text, "names a symbol twice")
    return ",".join(symbols)


def parse_range(text: str, field: str = "--range") -> tuple[str | None, str | None]:
    """``START:END`` (ISO dates, both inclusive; either may be empty)."""
    if text.count(":") != 1:
        raise BadInput(field, text, "must be START:END, e.g. 2004-01-01:2004-12-31")
    start, end = (part.strip() or None for part in text.split(":"))
    for value in (start, end):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise BadInput(field, text, f"{value!r} is not an ISO date") from None
    if start is not None and end is not None and end < start:
        raise BadInput(field, text, "ends before it starts")
    return start, end


def check_urgency(text: str, field: str = "--urgencies") -> str:
    """One of ``sim run --urgency``'s words: low, medium (the default), high."""
    if text not in URGENCIES:
        raise BadInput(field, text, f"must be one of {', '.join(URGENCIES)}")
    return text


def validate(grid: Grid) -> Grid:
    """Everything that can be checked before a worker starts (bad input: exit 2)."""
    from sim.build import parse_balance
    from sim.scenarios import scenario

    for name in grid.scenarios:
        scenario(name)
    if not grid.scenarios and not grid.replays:
        raise BadInput("--scenarios", "", "the grid has neither scenarios nor --replay sources")
    if not grid.seeds:
        raise BadInput("--seeds", "", "names no seed")
    for seed in grid.seeds:
        if seed < 0:
            raise BadInput("--seeds", seed, "must be >= 0")
    for balance in grid.balances:
        if balance is not None:
            parse_balance(balance, "--balances")
    for urgency in grid.urgencies:
        check_urgency(urgency)
    for days in grid.days:
        if days is not None and not 1 <= days <= 260:
            raise BadInput("--days", days, "must be between 1 and 260 trading days")
    for symbols in (*grid.symbol_sets, *grid.replay_symbol_sets):
        if symbols is not None:
            parse_symbol_set(symbols)
    if grid.heatmap is not None:
        for axis in grid.heatmap:
            if axis not in AXES:
                raise BadInput("--heatmap", ",".join(grid.heatmap), f"axes are {', '.join(AXES)}")
        if grid.heatmap[0] == grid.heatmap[1]:
            raise BadInput("--heatmap", ",".join(grid.heatmap), "needs two different axes")
    count = len(grid.points())
    if count > MAX_POINTS:
        raise BadInput("grid", count, f"has more than {MAX_POINTS} points")
    return grid


def with_axes(grid: Grid, **axes: Any) -> Grid:
    """The grid with the axes given (command line over TOML); None leaves one alone."""
    return replace(grid, **{k: v for k, v in axes.items() if v is not None})


# ------------------------------------------------------------------ urgency
def apply_urgency(spec: RunSpec, urgency: str) -> RunSpec:
    """The one place a point's urgency reaches the run (``sim run --urgency``'s words)."""
    return replace(spec, urgency=check_urgency(urgency, "urgency"))


# ------------------------------------------------------------------ running
def build_spec(point: Point) -> RunSpec:
    from sim.build import scenario_spec
    from sim.replay_source import replay_point_spec

    if point.is_replay:
        symbols = None if point.symbols is None else tuple(point.symbols.split(","))
        spec = replay_point_spec(
            str(point.source),
            symbols,
            point.start,
            point.end,
            point.balance or REPLAY_BALANCE,
            point.seed,
            point.reproduce(),
        )
    else:
        spec = scenario_spec(point.scenario, point.seed, point.days, point.symbols, point.balance)
        spec = replace(spec, reproduce=point.reproduce())
    return apply_urgency(spec, point.urgency)


def run_point(point: Point) -> dict[str, object]:
    """One sweep row: the point's parameters, its status, run hash and metrics.

    A point that cannot be built or crashes is a row too (status ``error``,
    the message, the reproduce command): one bad point never stops a sweep.
    """
    from sim.outputs import summary
    from sim.runner import Simulation

    row: dict[str, object] = {**asdict(point), "range": point.range, "label": point.label()}
    row["reproduce"] = point.reproduce()
    try:
        result = Simulation(build_spec(point)).run()
    except BadInput as exc:
        return {**row, "status": "error", "error": str(exc)}
    except Exception as exc:  # a crash in the system under test: record it, go on
        return {**row, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
    data = summary(result)
    violation = data.get("violation")
    row.update(
        status="ok" if violation is None else "violation",
        error=None if violation is None else str(result.violation),
        run_hash=data["run_hash"],
        bars=data["bars"],
        orders=data["orders"],
        parents=data["parents"],
        fills=data["fills"],
        trades=data["trades"],
        hit_rate=data["hit_rate"],
        initial_equity=data["initial_equity"],
        final_equity=data["final_equity"],
        pnl=data["pnl"],
        invariant_checks=data["invariant_checks"],
        crashes_recovered=data["crashes_recovered"],
        max_drawdown=data["max_drawdown"],
        sharpe=data["sharpe"] if "sharpe" in data else sharpe(result),
    )
    row["return"] = data["return"]
    return row


def sharpe(result: RunResult) -> float | None:
    """Annualised Sharpe ratio of daily returns (risk-free rate 0) from the
    run's equity curve: each UTC day's last mark against the day before's
    (the initial balance before the first). None with fewer than two daily
    returns or none that differ."""
    return daily_sharpe(result.equity, result.spec.initial_cash)


def daily_sharpe(equity: Sequence[tuple[int, int, int]], initial: int) -> float | None:
    closes: dict[int, int] = {}
    for time_ns, value, _ in equity:
        closes[time_ns // DAY_NS] = value
    previous = initial
    returns = []
    for day in sorted(closes):
        if previous > 0:
            returns.append((closes[day] - previous) / previous)
        previous = closes[day]
    if len(returns) < 2:
        return None
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    if variance <= 0:
        return None
    return round(mean / math.sqrt(variance) * math.sqrt(TRADING_DAYS), 10)
