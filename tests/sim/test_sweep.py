"""``sim sweep`` end to end on a real LocalCluster (2 workers), and its parts.

A 12-point scenario grid (TOML file plus a command-line axis) writes
``sweep.parquet`` and ``sweep.html``; a 12-point replay grid reads a CSV and
a Parquet catalog by path on the workers, and records the points that cannot
run (with their error and reproduce command) while the rest go on.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import plotly.offline
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.bars_csv import read_bars
from sim.sweep import (
    Grid,
    Point,
    apply_urgency,
    build_spec,
    check_urgency,
    daily_sharpe,
    parse_range,
    parse_seeds,
    run_point,
)
from sim.sweep_report import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sim" / "data" / "sample_daily.csv"
DAY = 86_400 * 10**9


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


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


# ------------------------------------------------------- a 12-point sweep
def test_a_12_point_sweep_writes_the_parquet_and_the_report(tmp_path: Path) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        'scenarios = ["trend", "range"]\nseeds = "1-3"\ndays = 2\nsymbols = [["AAPL"]]\n'
        'balances = ["1000000"]\nheatmap = ["balance", "scenario"]\n'
    )
    out = tmp_path / "out"
    done = sim(
        "sweep", str(grid), "--balances", "50000,5000000", "--workers", "2", "--out", str(out)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.findall(r"^point (\d+)/12 ok", done.stdout, re.M) == [str(i) for i in range(12)]
    table = pq.read_table(out / "sweep.parquet")
    assert table.schema.names == SCHEMA.names
    rows = table.to_pylist()
    assert len(rows) == 12 and [r["point"] for r in rows] == list(range(12))
    assert {r["status"] for r in rows} == {"ok"}
    assert sorted((r["scenario"], r["balance"], r["seed"]) for r in rows) == sorted(
        (s, b, n) for s in ("trend", "range") for b in ("50000", "5000000") for n in (1, 2, 3)
    )
    assert all(re.fullmatch(r"[0-9a-f]{64}", r["run_hash"]) for r in rows)
    assert all(r["urgency"] == "medium" and r["days"] == 2 for r in rows)
    assert any(r["sharpe"] is not None for r in rows)
    page = (out / "sweep.html").read_text()
    assert owner_only(out / "sweep.parquet") and owner_only(out / "sweep.html")
    assert page.count("<tr class='ok'>") == 12
    assert 'id="distributions"' in page and 'id="heatmap"' in page
    assert page.count("Plotly.newPlot(") == 2
    # Self-contained: plotly.js inlined once, and nothing else loads from anywhere.
    library = plotly.offline.get_plotlyjs()
    assert page.count(library) == 1
    rest = page.replace(library, "")
    assert not re.search(r"<(script|link|img)\b[^>]*\b(src|href)=", rest)
    assert "http://" not in rest and "https://" not in rest
    assert "table.sortable" in page and "addEventListener('click'" in page
    # A point is the run its reproduce command makes, in this process and via the CLI.
    row = next(
        r for r in rows if (r["scenario"], r["balance"], r["seed"]) == ("range", "5000000", 3)
    )
    again = run_point(Point("range", 3, "5000000", "medium", "AAPL", 2))
    assert again == {k: v for k, v in row.items() if k != "point"}
    argv = shlex.split(row["reproduce"])
    assert argv[:4] == ["python", "-m", "sim", "run"]
    rerun = sim(*argv[3:], "--out", str(tmp_path / "rerun"))
    assert rerun.returncode == 0, rerun.stderr
    assert f"run hash: {row['run_hash']}" in rerun.stdout


# ------------------------------------------------------------- replays
def write_catalog(root: Path) -> None:
    """The bar catalog's layout: hive directories, int64 nano prices, a manifest."""
    with SAMPLE.open(newline="") as stream:
        bars = read_bars(stream).bars
    for symbol in sorted({b.symbol for b in bars}):
        mine = [b for b in bars if b.symbol == symbol]
        folder = root / "timeframe=1Day" / "adjustment=raw" / f"symbol={symbol}"
        folder.mkdir(parents=True)
        columns = {
            "time": pa.array([b.time_ns for b in mine], pa.int64()).cast(
                pa.timestamp("ns", tz="UTC")
            ),
            "symbol": pa.array([symbol] * len(mine)).dictionary_encode(),
            **{
                name: pa.array([getattr(b, name) for b in mine], pa.int64())
                for name in ("open", "high", "low", "close", "volume")
            },
            "timeframe": pa.array(["1Day"] * len(mine)).dictionary_encode(),
        }
        pq.write_table(pa.table(columns), folder / "all.parquet")
    (root / "manifest.json").write_text("{}")


def test_replays_read_csv_and_a_parquet_catalog_and_record_failed_points(
    tmp_path: Path,
) -> None:
    catalog = tmp_path / "catalog"
    write_catalog(catalog)
    missing = tmp_path / "nowhere.csv"
    out = tmp_path / "out"
    done = sim(
        "sweep",
        *("--replay", str(SAMPLE), "--replay", f"file://{catalog}", "--replay", str(missing)),
        *("--replay-symbols", "MSFT", "--replay-symbols", "GOOG"),
        *("--range", "2003-06-01:2003-12-31", "--range", "2004-08-19:2005-06-30"),
        *("--seeds", "1", "--workers", "2", "--out", str(out)),
    )
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    rows = pq.read_table(out / "sweep.parquet").to_pylist()
    assert len(rows) == 12
    ok = [r for r in rows if r["status"] == "ok"]
    # MSFT's sample is 2003, GOOG's 2004-2008: two slices exist, in both sources.
    assert sorted((r["symbols"], r["range"]) for r in ok) == sorted(
        [("MSFT", "2003-06-01:2003-12-31"), ("GOOG", "2004-08-19:2005-06-30")] * 2
    )
    for symbols in ("MSFT", "GOOG"):
        hashes = {r["run_hash"] for r in ok if r["symbols"] == symbols}
        assert len(hashes) == 1, "the CSV and the catalog give the same run"
    failed = [r for r in rows if r["status"] == "error"]
    assert len(failed) == 8
    assert all(r["error"] and r["reproduce"].startswith("python -m sim sweep") for r in failed)
    assert all("cannot be read" in r["error"] for r in failed if r["source"] == str(missing))
    assert sum("holds no bars" in r["error"] for r in failed) == 4
    assert "sweep: 12 points, 8 failed" in done.stdout
    assert (out / "sweep.html").read_text().count("<tr class='error'>") == 8
    # An ok point's reproduce command is a one-point sweep with the same run.
    point = next(r for r in ok if r["source"].startswith("file://"))
    argv = shlex.split(point["reproduce"])
    argv[argv.index("--out") + 1] = str(tmp_path / "again")
    again = sim(*argv[3:])
    assert again.returncode == 0, again.stderr
    [row] = pq.read_table(tmp_path / "again" / "sweep.parquet").to_pylist()
    assert row["run_hash"] == point["run_hash"]


def test_an_unsliced_replay_point_is_sim_replay() -> None:
    from sim.build import replay_spec
    from sim.data.source import load
    from sim.runner import Simulation

    row = run_point(Point("replay", 1, source=str(SAMPLE)))
    assert row["status"] == "ok"
    spec = replay_spec(load([str(SAMPLE)], None), [str(SAMPLE)])
    assert row["run_hash"] == Simulation(spec).run().run_hash


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenarios", "nope"], "scenario='nope'"),
        (["--scenarios", "trend", "--seeds", "3-1"], "--seeds='3-1'"),
        (["--scenarios", "trend", "--seeds", "x"], "--seeds='x'"),
        (["--scenarios", "trend", "--balances", "-5"], "--balances='-5'"),
        (["--scenarios", "trend", "--urgencies", "fast"], "--urgencies='fast'"),
        (["--scenarios", "trend", "--days", "0"], "--days=0"),
        (["--scenarios", "trend", "--symbols", "A A"], "--symbols='A A'"),
        (["--replay", "x.csv", "--range", "2004-13-01:"], "--range='2004-13-01:'"),
        (["--replay", "x.csv", "--range", "2005-01-01:2004-01-01"], "ends before it starts"),
        (["--scenarios", "trend", "--heatmap", "seed"], "--heatmap='seed'"),
        (["--scenarios", "trend", "--heatmap", "seed,colour"], "axes are"),
        (["--scenarios", "trend", "--workers", "0"], "--workers=0"),
        ([], "neither scenarios nor --replay"),
    ],
)
def test_bad_sweep_input_exits_2_naming_the_field(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.__main__ import main

    assert main(["sweep", *args]) == 2  # before any cluster starts
    assert message in capsys.readouterr().err


def test_a_bad_grid_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    """As a user meets it: the real command, no traceback."""
    grid = tmp_path / "grid.toml"
    grid.write_text('scenarios = ["trend"]\ncolour = "blue"\n')
    done = sim("sweep", str(grid))
    assert done.returncode == 2 and f"{grid}: colour='blue'" in done.stderr
    assert "Traceback" not in done.stderr
    grid.write_text("scenarios = [")
    done = sim("sweep", str(grid))
    assert done.returncode == 2 and "is not TOML" in done.stderr


# ------------------------------------------------------------- the parts
def test_grid_points_are_the_product_of_the_axes() -> None:
    grid = Grid(
        scenarios=("trend", "range"),
        seeds=(1, 2),
        balances=("50000", "5000000"),
        symbol_sets=("AAPL", "AAPL,MSFT"),
        replays=("a.csv",),
        replay_symbol_sets=("MSFT",),
        ranges=(("2003-01-01", "2003-12-31"), (None, "2004-06-30")),
    )
    points = grid.points()
    assert len(points) == 2 * 2 * 2 * 2 + 1 * 1 * 2 * 2 * 2
    assert len(set(points)) == len(points)
    assert grid.heatmap_axes() == ("scenario", "source")
    assert Grid(scenarios=("trend",), seeds=(1, 2)).heatmap_axes() is None


def test_seed_and_range_syntax() -> None:
    assert parse_seeds("0-3,7") == (0, 1, 2, 3, 7)
    assert parse_range("2004-01-01:") == ("2004-01-01", None)
    assert parse_range(":2004-01-01") == (None, "2004-01-01")


def test_a_points_urgency_reaches_the_run_and_its_reproduce_command() -> None:
    """The sweep's urgency words are ``sim run --urgency``'s; a point's urgency
    is the run's (``RunSpec.urgency``) and is in the command that reproduces it."""
    point = Point("trend", 1, urgency="high", symbols="AAPL", days=1)
    spec = build_spec(point)
    assert spec.urgency == "high"
    assert "--urgency high" in spec.reproduce
    assert build_spec(Point("trend", 1, symbols="AAPL", days=1)).urgency == "medium"
    assert apply_urgency(spec, "low").urgency == "low"
    with pytest.raises(ValueError, match="must be one of low, medium, high"):
        check_urgency("normal")


def test_daily_sharpe_from_the_equity_curve() -> None:
    initial = 1_000_000
    # Day closes 1,010,000 (+1%), 1,030,200 (+2%), 1,019,898 (-1%); intraday marks ignored.
    equity = [(0, 1_000_000, 0), (DAY - 1, 1_010_000, 0), (DAY + 5, 1_020_000, 0)]
    equity += [(2 * DAY - 1, 1_030_200, 0), (2 * DAY + 1, 1_019_898, 0)]
    returns = [0.01, 0.02, -0.01]
    mean = sum(returns) / 3
    sd = (sum((r - mean) ** 2 for r in returns) / 2) ** 0.5
    assert daily_sharpe(equity, initial) == pytest.approx(mean / sd * 252**0.5, rel=1e-6)
    assert daily_sharpe(equity[:2], initial) is None  # one daily return
    flat = [(0, initial, 0), (DAY, initial, 0), (2 * DAY, initial, 0)]
    assert daily_sharpe(flat, initial) is None
