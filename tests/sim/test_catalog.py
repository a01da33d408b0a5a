"""The Parquet bar catalog: exact round trips, idempotent writes, manifest, permissions."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from core.events import Bar
from sim.data.catalog import SCHEMA, Catalog, day_of, timeframe_ns

ROOT = Path(__file__).resolve().parents[2]
B = 10**9
OPEN_2024_01_02 = 1704205800 * B  # 14:30 UTC


def minute_bars(symbol: str, start_ns: int, n: int, base: int = 100) -> list[Bar]:
    out = []
    for i in range(n):
        price = (base + i % 7) * B + i * 10_000_000
        out.append(Bar(symbol, start_ns + i * 60 * B, price, price + B, price - B, price, 100 + i))
    return out


def test_round_trip_is_exact_and_has_the_one_schema(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    bars = minute_bars("AAPL", OPEN_2024_01_02, 390)
    bars[5] = Bar("AAPL", bars[5].time_ns, 123_456_789_123, 123_456_789_124, 1, 2, 3, 2, 17)
    assert catalog.write(bars, "1Min", "test") == 390
    assert catalog.read_bars(["AAPL"], "1Min", "2024-01-02", "2024-01-02") == bars
    files = list((tmp_path / "cat").rglob("*.parquet"))
    assert [f.name for f in files] == ["2024-01.parquet"]
    assert pq.read_schema(files[0]).remove_metadata() == SCHEMA.remove_metadata()


def test_rewriting_a_range_replaces_it_never_duplicates(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    day1 = minute_bars("AAPL", OPEN_2024_01_02, 390)
    day2 = minute_bars("AAPL", OPEN_2024_01_02 + 86_400 * B, 390, base=200)
    catalog.write(day1 + day2, "1Min", "alpaca")
    catalog.write(day1 + day2, "1Min", "alpaca")
    assert len(catalog.read_bars(["AAPL"], "1Min", "2024-01-01", "2024-01-31")) == 780
    # day 2 fetched again with fewer bars (a corrected feed): day 2 is replaced, day 1 kept
    catalog.write(day2[:100], "1Min", "ibkr")
    again = catalog.read_bars(["AAPL"], "1Min", "2024-01-01", "2024-01-31")
    assert again == day1 + day2[:100]
    held = catalog.manifest()["1Min/raw/AAPL"]
    assert held.days == {"2024-01-02": 390, "2024-01-03": 100}
    assert held.sources == ("alpaca", "ibkr")


def test_covered_days_without_bars_are_recorded_and_clear_old_bars(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    day1 = minute_bars("AAPL", OPEN_2024_01_02, 10)
    day2 = minute_bars("AAPL", OPEN_2024_01_02 + 86_400 * B, 10)
    catalog.write(day1 + day2, "1Min", "x")
    catalog.write(day1, "1Min", "x", covered_days=["2024-01-03"])
    assert catalog.read_bars(["AAPL"], "1Min", "2024-01-01", "2024-01-31") == day1
    assert catalog.manifest()["1Min/raw/AAPL"].days == {"2024-01-02": 10, "2024-01-03": 0}


def test_read_filters_symbols_and_dates_across_month_files(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    jan31 = 1706711400 * B  # 2024-01-31 14:30 UTC
    feb1 = jan31 + 86_400 * B
    a = minute_bars("AAPL", jan31, 5) + minute_bars("AAPL", feb1, 5)
    m = minute_bars("MSFT", feb1, 3)
    catalog.write(a + m, "1Min", "x")
    assert catalog.read_bars(["AAPL"], "1Min", "2024-02-01", "2024-02-29") == a[5:]
    both = catalog.read_bars(["AAPL", "MSFT"], "1Min", "2024-01-31", "2024-02-01")
    assert sorted(both, key=lambda b: (b.symbol, b.time_ns)) == a + m
    assert catalog.read_bars(["NVDA"], "1Min", "2024-01-01", "2024-12-31") == []
    assert sorted(p.stem for p in (tmp_path / "cat").rglob("*.parquet")) == [
        "2024-01",
        "2024-02",
        "2024-02",
    ]


def test_daily_bars_go_in_yearly_files(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    bars = [
        Bar("SPY", (19_723 + i) * 86_400 * B, 400 * B, 401 * B, 399 * B, 400 * B, 1)
        for i in range(400)
    ]
    catalog.write(bars, "1Day", "import", "split")
    assert sorted(p.stem for p in (tmp_path / "cat").rglob("*.parquet")) == ["2024", "2025"]
    assert catalog.read_bars(["SPY"], "1Day", "2000-01-01", "2030-01-01", "split") == bars
    assert catalog.read_bars(["SPY"], "1Day", "2000-01-01", "2030-01-01", "raw") == []


def test_everything_created_is_owner_only(tmp_path: Path) -> None:
    root = tmp_path / "a" / "cat"
    Catalog(root).write(minute_bars("AAPL", OPEN_2024_01_02, 3), "1Min", "x")
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_bad_names_are_refused_with_field_and_value(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    with pytest.raises(BadInput, match="--timeframe='2Weeks'"):
        timeframe_ns("2Weeks")
    with pytest.raises(BadInput, match="--adjustment='half'"):
        catalog.write(minute_bars("AAPL", OPEN_2024_01_02, 1), "1Min", "x", "half")
    with pytest.raises(BadInput, match=r"symbol='\.\./etc'"):
        catalog.write(minute_bars("../etc", OPEN_2024_01_02, 1), "1Min", "x")


def test_unreadable_manifest_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{nope")
    with pytest.raises(BadInput, match=r"unreadable manifest\.json"):
        Catalog(tmp_path).manifest()


@settings(max_examples=40, deadline=None)
@given(
    writes=st.lists(
        st.tuples(st.integers(0, 9), st.integers(1, 5), st.integers(2, 400)),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_writes_holds_the_last_write_of_each_day(
    tmp_path_factory: pytest.TempPathFactory, writes: list[tuple[int, int, int]]
) -> None:
    """Model: a dict day -> the bars of the last write touching that day."""
    catalog = Catalog(tmp_path_factory.mktemp("cat"))
    model: dict[str, list[Bar]] = {}
    for first_day, n_days, base in writes:
        bars: list[Bar] = []
        for d in range(first_day, first_day + n_days):
            bars += minute_bars("AAPL", OPEN_2024_01_02 + d * 86_400 * B, 3 + d % 2, base)
        catalog.write(bars, "1Min", "x")
        for bar in bars:
            model.setdefault(day_of(bar.time_ns), [])
        for day in {day_of(b.time_ns) for b in bars}:
            model[day] = [b for b in bars if day_of(b.time_ns) == day]
    expected = [b for day in sorted(model) for b in model[day]]
    assert catalog.read_bars(["AAPL"], "1Min", "2024-01-01", "2024-12-31") == expected
    held = catalog.manifest()["1Min/raw/AAPL"].days
    assert held == {day: len(rows) for day, rows in model.items()}


def test_sim_data_list_shows_a_table(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    catalog.write(minute_bars("AAPL", OPEN_2024_01_02, 390), "1Min", "alpaca")
    done = subprocess.run(
        [sys.executable, "-m", "sim", "data", "list", "--catalog", str(tmp_path / "cat")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "COLUMNS": "140", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "AAPL" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == [
        "AAPL",
        "1Min",
        "raw",
        "alpaca",
        "2024-01-02",
        "2024-01-02",
        "1",
        "390",
    ]
    manifest = json.loads((tmp_path / "cat" / "manifest.json").read_text())
    assert manifest["datasets"]["1Min/raw/AAPL"]["days"] == {"2024-01-02": 390}


# ------------------------------------------------------- replay / signals from the catalog
def _sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def _two_symbol_catalog(root: Path) -> list[Bar]:
    """Two symbols × 2 XNYS sessions of demo minute bars (2024-02-26 and 02-27)."""
    from sim.demo import demo_bars

    acme = [b for b in demo_bars(7, 2) if b.symbol == "ACME"]
    bars = [Bar("AAPL", b.time_ns, b.open, b.high, b.low, b.close, b.volume) for b in acme]
    other = [
        Bar("MSFT", b.time_ns, b.open * 2, b.high * 2, b.low * 2, b.close * 2, b.volume)
        for b in acme
    ]
    Catalog(root).write(bars + other, "1Min", "test")
    return sorted(bars + other, key=lambda b: b.time_ns)


def test_signals_read_the_catalog_like_a_file(tmp_path: Path) -> None:
    from sim.bars_csv import write_bars

    bars = _two_symbol_catalog(tmp_path / "cat")
    first, last = day_of(bars[0].time_ns), day_of(bars[-1].time_ns)
    source = tmp_path / "same.csv"
    with source.open("w", newline="") as stream:
        write_bars(stream, bars)
    from_catalog = _sim(
        "signals", "--catalog", str(tmp_path / "cat"), "--symbols", "AAPL,MSFT",
        "--start", first, "--end", last,
    )  # fmt: skip
    from_file = _sim("signals", str(source))
    assert from_catalog.returncode == 0, from_catalog.stderr
    assert from_catalog.stdout == from_file.stdout
    assert len(from_catalog.stdout.splitlines()) == len(bars) + 1
    assert "from the catalog" in from_catalog.stderr and "adjustment raw" in from_catalog.stderr


def test_replay_from_the_catalog_equals_replay_of_the_same_bars_as_a_file(tmp_path: Path) -> None:
    from sim.bars_csv import write_bars

    bars = _two_symbol_catalog(tmp_path / "cat")
    first, last = day_of(bars[0].time_ns), day_of(bars[-1].time_ns)
    source = tmp_path / "same.csv"
    with source.open("w", newline="") as stream:
        write_bars(stream, bars)
    a = _sim(
        "replay", "--catalog", str(tmp_path / "cat"), "--symbols", "AAPL,MSFT",
        "--start", first, "--end", last, "--out", str(tmp_path / "a"),
    )  # fmt: skip
    b = _sim("replay", str(source), "--out", str(tmp_path / "b"))
    assert a.returncode == 0, a.stderr + a.stdout
    assert b.returncode == 0, b.stderr + b.stdout
    summary_a = json.loads((tmp_path / "a" / "summary.json").read_text())
    summary_b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary_a["run_hash"] == summary_b["run_hash"]
    assert summary_a["bars"] == len(bars)
    assert f"AAPL, MSFT 1Min bars {first}..{last}, adjustment raw" in summary_a["data"]
    assert "adjustment raw" in a.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--symbols", "NVDA", "--start", "2024-01-02", "--end", "2024-01-03"], "--symbols='NVDA'"),
        (
            ["--symbols", "AAPL", "--start", "2024-13-01", "--end", "2024-01-03"],
            "--start='2024-13-01'",
        ),
        (
            ["--symbols", "AAPL", "--start", "2024-01-05", "--end", "2024-01-03"],
            "--end='2024-01-03'",
        ),
        (["--symbols", "AAPL", "--end", "2024-01-03"], "--start=None"),
        (["--symbols", "AAPL", "--start", "2024-03-01", "--end", "2024-03-03"], "no 1Min raw bars"),
    ],
)
def test_bad_catalog_queries_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    _two_symbol_catalog(tmp_path / "cat")
    done = _sim("replay", "--catalog", str(tmp_path / "cat"), *args, "--out", str(tmp_path / "o"))
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr


def test_symbols_without_catalog_is_refused(tmp_path: Path) -> None:
    done = _sim("signals", "--symbols", "AAPL")
    assert done.returncode == 2
    assert "--symbols='AAPL': needs --catalog" in done.stderr
