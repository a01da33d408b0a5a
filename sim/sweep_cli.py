"""``python -m sim sweep``: a grid of full runs on Dask, gathered into one
``sweep.parquet`` and one ``sweep.html``.

The grid comes from a TOML file, the command line, or both (an axis on the
command line replaces the file's). One Dask task per point: a point is a
whole run (seconds), so the per-task overhead (milliseconds) is noise and
batching would only hurt the balance. A point that fails is a row with its
error and reproduce command; the sweep goes on. Exit status: 0 every point
ran clean, 1 a point failed or violated an invariant, 2 bad input, 130
interrupted.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from core.errors import BadInput
from sim import cluster
from sim.sweep import (
    Grid,
    Point,
    check_urgency,
    parse_range,
    parse_seeds,
    parse_symbol_set,
    run_point,
    validate,
    with_axes,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
_TOML_KEYS = {"scenarios", "seeds", "balances", "urgencies", "symbols", "days", "heatmap", "replay"}
_REPLAY_KEYS = {"sources", "symbols", "ranges"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Run every point of a grid (scenarios × symbol sets × days × balances × urgencies × "
        "seeds, and replays × symbol sets × date ranges × balances × urgencies × seeds) and "
        "gather the results into sweep.parquet and sweep.html."
    )
    parser.add_argument("grid", nargs="?", help="a TOML grid file (command-line axes override)")
    parser.add_argument("--scenarios", help="scenario names, comma-separated")
    parser.add_argument("--seeds", help="seeds: 1,2,3 or 0-9 or a mix (default 1)")
    parser.add_argument("--balances", help="initial balances in dollars, comma-separated")
    parser.add_argument("--urgencies", help="low,medium,high (default medium)")
    parser.add_argument(
        "--symbols", action="append", help="one symbol set, AAPL,MSFT (repeat for more sets)"
    )
    parser.add_argument("--days", help="trading days for scenarios, comma-separated")
    parser.add_argument(
        "--replay", action="append", help="a bars CSV or Parquet file/directory, path or URL"
    )
    parser.add_argument(
        "--replay-symbols",
        action="append",
        help="one symbol set to replay, MSFT,GOOG (repeat for more; default: all in the data)",
    )
    parser.add_argument(
        "--range", action="append", help="a replay date range START:END (repeat for more)"
    )
    parser.add_argument("--heatmap", help="the heat map's two axes, e.g. balance,scenario")
    parser.add_argument("--out", help="output directory (default out/sweep)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="a Dask scheduler address, e.g. tcp://host:8786")
    where.add_argument("--workers", type=int, help="local worker processes (default: cores)")


def _list(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _days(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise BadInput("--days", text, "must be a whole number of trading days") from None


def grid_from_toml(path: Path) -> Grid:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput("GRID", str(path), f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput("GRID", str(path), f"is not TOML ({exc})") from None
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        raise BadInput(f"{path}: {unknown[0]}", data[unknown[0]], f"keys are {sorted(_TOML_KEYS)}")
    replay = data.get("replay", {})
    if not isinstance(replay, dict) or set(replay) - _REPLAY_KEYS:
        raise BadInput(f"{path}: replay", replay, f"must be a table with {sorted(_REPLAY_KEYS)}")

    def strings(key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise BadInput(f"{path}: {key}", value, "must be a list of strings")
        return tuple(str(v) for v in value)

    axes: dict[str, Any] = {}
    if "scenarios" in data:
        axes["scenarios"] = strings("scenarios", data["scenarios"])
    if "seeds" in data:
        seeds = data["seeds"]
        if isinstance(seeds, list) and all(type(s) is int for s in seeds):
            axes["seeds"] = parse_seeds(",".join(map(str, seeds)), f"{path}: seeds")
        elif isinstance(seeds, str):
            axes["seeds"] = parse_seeds(seeds, f"{path}: seeds")
        else:
            raise BadInput(f"{path}: seeds", seeds, 'must be a list of integers or "A-B"')
    if "balances" in data:
        axes["balances"] = strings("balances", data["balances"])
    if "urgencies" in data:
        axes["urgencies"] = strings("urgencies", data["urgencies"])
    if "symbols" in data:
        axes["symbol_sets"] = _symbol_sets(data["symbols"], f"{path}: symbols")
    if "symbols" in replay:
        axes["replay_symbol_sets"] = _symbol_sets(replay["symbols"], f"{path}: replay.symbols")
    if "days" in data:
        days = data["days"] if isinstance(data["days"], list) else [data["days"]]
        if not all(type(d) is int for d in days):
            raise BadInput(f"{path}: days", data["days"], "must be whole numbers")
        axes["days"] = tuple(days)
    if "heatmap" in data:
        axes["heatmap"] = _pair(strings("heatmap", data["heatmap"]), f"{path}: heatmap")
    if "sources" in replay:
        axes["replays"] = strings("replay.sources", replay["sources"])
    if "ranges" in replay:
        ranges = strings("replay.ranges", replay["ranges"])
        axes["ranges"] = tuple(parse_range(r, f"{path}: replay.ranges") for r in ranges)
    return with_axes(Grid(), **axes)


def _symbol_sets(sets: Any, field: str) -> tuple[str, ...]:
    """``[["AAPL", "MSFT"], ["NVDA"]]`` or ``["AAPL,MSFT", "NVDA"]``."""
    if not isinstance(sets, list):
        raise BadInput(field, sets, "must be a list of symbol sets")
    return tuple(
        parse_symbol_set(",".join(map(str, s)) if isinstance(s, list) else str(s), field)
        for s in sets
    )


def _pair(values: tuple[str, ...], field: str) -> tuple[str, str]:
    if len(values) != 2:
        raise BadInput(field, ",".join(values), "must name exactly two axes")
    return values[0], values[1]


def grid_from_args(args: argparse.Namespace) -> Grid:
    grid = grid_from_toml(Path(args.grid)) if args.grid else Grid()
    seeds = None if args.seeds is None else parse_seeds(args.seeds)
    urgencies = _list(args.urgencies)
    if urgencies is not None:
        for urgency in urgencies:
            check_urgency(urgency)
    heatmap = _list(args.heatmap)
    return validate(
        with_axes(
            grid,
            scenarios=_list(args.scenarios),
            seeds=seeds,
            balances=_list(args.balances),
            urgencies=urgencies,
            symbol_sets=None
            if args.symbols is None
            else tuple(parse_symbol_set(s) for s in args.symbols),
            days=None if args.days is None else tuple(_days(d) for d in _list(args.days) or ()),
            replays=None if args.replay is None else tuple(args.replay),
            replay_symbol_sets=None
            if args.replay_symbols is None
            else tuple(parse_symbol_set(s, "--replay-symbols") for s in args.replay_symbols),
            ranges=None if args.range is None else tuple(parse_range(r) for r in args.range),
            heatmap=None if heatmap is None else _pair(heatmap, "--heatmap"),
        )
    )


def lost_row(index: int, point: Point, error: str) -> dict[str, object]:
    """A point whose task failed on the cluster itself (a worker lost too often)."""
    from dataclasses import asdict

    return {
        **asdict(point),
        "point": index,
        "range": point.range,
        "label": point.label(),
        "reproduce": point.reproduce(),
        "status": "error",
        "error": f"lost on the cluster: {error}",
    }


def point_line(row: dict[str, object], total: int) -> str:
    head = f"point {row['point']}/{total} {row['status']}: {row['label']} seed {row['seed']}"
    if row["status"] == "error":
        return f"{head}\n  {row['error']}\n  reproduce: {row['reproduce']}"
    line = (
        f"{head} — return {row['return']}, max drawdown {row['max_drawdown']}, "
        f"sharpe {row['sharpe']}, {row['trades']} trades, hash {str(row['run_hash'])[:12]}"
    )
    if row["status"] == "violation":
        line += f"\n  {row['error']}\n  reproduce: {row['reproduce']}"
    return line


def sweep(args: argparse.Namespace) -> int:
    from sim.sweep_report import write_html, write_parquet

    try:
        grid = grid_from_args(args)
        workers = cluster.check_workers(args.workers)
        out = Path(args.out or "out/sweep")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BadInput(
                "--out", str(out), f"cannot create the directory ({exc.strerror})"
            ) from None
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    points = grid.points()
    rows: list[dict[str, object]] = []

    def emit(row: dict[str, object]) -> None:
        rows.append(row)
        print(point_line(row, len(points)), flush=True)

    in_order = cluster.InOrder(0, emit, key=lambda row: int(row["point"]))
    try:
        _run(points, args.scheduler, workers, in_order)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"sweep: interrupted after {len(rows)} of {len(points)} points", file=sys.stderr)
        return EXIT_INTERRUPTED
    write_parquet(rows, out / "sweep.parquet")
    write_html(rows, out / "sweep.html", grid.heatmap_axes(), f"Sweep of {len(points)} points")
    failed = [r for r in rows if r["status"] != "ok"]
    print(f"sweep: {len(rows)} points, {len(failed)} failed; {out}/sweep.parquet, {out}/sweep.html")
    return EXIT_FAILED if failed else EXIT_OK


def _run(points: list[Point], scheduler: str | None, workers: int, out: cluster.InOrder) -> None:
    console = Console(stderr=True)
    with cluster.connect(scheduler, workers) as client:
        cluster.check_same_code(client)
        with Progress(
            TextColumn("[bold]sweep[/]"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} points"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as progress:
            task = progress.add_task("sweep", total=len(points))
            for done in cluster.stream(client, run_point, points):
                point = points[done.index]
                if done.error is not None:
                    row = lost_row(done.index, point, done.error)
                else:
                    row = {**done.value, "point": done.index}
                out.add(row)
                progress.advance(task)
