"""``python -m sim signals`` end to end, as a user runs it (subprocess)."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sim.timefmt import parse_time

ROOT = Path(__file__).resolve().parents[2]
HEADER = (
    "time,symbol,signal,reason,conviction,support_low,support_high,resistance_low,"
    "resistance_high,volume_percentile,spike,granularity,stop,health"
)
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# ACME: the designed scenario of tests/core/test_agent.py (true ranges of
# exactly $1, so g = $1; support [9,10), resistance [13,14)), then a loud
# bounce off support: ENTER_LONG with stop 8.99, then a stop-out.
ACME = [
    ("10", "11", "10", "11"), ("11", "12", "11", "11"), ("10", "11", "10", "11"),
    ("11", "12", "11", "11"), ("10", "11", "10", "10"), ("9", "10", "9", "10"),
    ("10", "11", "10", "11"), ("11", "12", "11", "12"), ("12", "13", "12", "12"),
    ("11", "12", "11", "12"), ("12", "13", "12", "12"), ("11", "12", "11", "11"),
    ("10", "11", "10", "11"), ("11", "12", "11", "11.5"),
]  # (open, high, low, close)  # fmt: skip
ACME_VOLUMES = [100] * 14
ACME += [("11", "11.2", "9.8", "10.5"), ("10", "10", "8.9", "9")]
ACME_VOLUMES += [1000, 100]
START = parse_time("2024-03-05T14:30:00Z")  # a Tuesday, NYSE open


def _globex(i: int) -> tuple[str, str, str, str]:
    base = 5000 + (i * 37) % 90 - 45  # cents, a deterministic zig-zag
    return (
        f"{base / 100:.2f}",
        f"{(base + 30) / 100:.2f}",
        f"{(base - 25) / 100:.2f}",
        f"{(base + 5) / 100:.2f}",
    )


def bars_rows() -> list[list[str]]:
    """ACME with ISO times (two spellings), GLOBEX with epoch seconds, interleaved."""
    rows = []
    for i in range(len(ACME)):
        when = START + i * 60 * 10**9
        seconds = when // 10**9
        iso = f"2024-03-05T{14 + (30 + i) // 60:02d}:{(30 + i) % 60:02d}:00"
        iso = iso + "Z" if i % 2 else iso.replace("T", " ")  # naive means UTC
        o, h, low, c = ACME[i]
        rows.append([iso, "ACME", o, h, low, c, str(ACME_VOLUMES[i])])
        o, h, low, c = _globex(i)
        rows.append([str(seconds), "GLOBEX", o, h, low, c, str(500 + (i * 131) % 700)])
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    lines = ["time,symbol,open,high,low,close,volume"] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_sim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def good_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("bars") / "bars.csv", bars_rows())


@pytest.fixture(scope="module")
def good_run(good_csv: Path) -> subprocess.CompletedProcess:
    result = run_sim("signals", str(good_csv))
    assert result.returncode == 0, result.stderr
    return result


def parsed(stdout: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stdout)))


def test_header_and_one_row_per_bar(good_run: subprocess.CompletedProcess) -> None:
    lines = good_run.stdout.splitlines()
    assert lines[0] == HEADER
    rows = parsed(good_run.stdout)
    inputs = bars_rows()
    assert len(rows) == len(inputs)
    for row, bar in zip(rows, inputs, strict=True):
        assert row["symbol"] == bar[1]
        assert ISO_Z.match(row["time"]), row["time"]
        assert parse_time(row["time"]) == parse_time(bar[0])  # ISO and epoch agree
        assert row["spike"] in ("true", "false")
        assert row["signal"] in ("ENTER_LONG", "ENTER_SHORT", "EXIT_LONG", "EXIT_SHORT", "HOLD")
        assert row["health"] in ("ok", "gap", "stale")
    assert rows[0]["time"] == "2024-03-05T14:30:00Z"
    assert rows[1]["time"] == "2024-03-05T14:30:00Z"
    assert f"{len(inputs)} bars, 0 rejected" in good_run.stderr


def test_blanks_where_absent(good_run: subprocess.CompletedProcess) -> None:
    for symbol in ("ACME", "GLOBEX"):
        rows = [r for r in parsed(good_run.stdout) if r["symbol"] == symbol]
        assert rows[0]["volume_percentile"] == ""  # no history yet
        assert rows[1]["volume_percentile"] != ""
        for row in rows[:14]:  # warm-up
            assert row["signal"] == "HOLD"
            for column in ("reason", "conviction", "granularity", "stop"):
                assert row[column] == "", (column, row)
            for column in ("support_low", "support_high", "resistance_low", "resistance_high"):
                assert row[column] == ""
        assert rows[14]["granularity"] != ""
        for row in rows:
            if row["signal"] == "HOLD":
                assert row["reason"] == row["conviction"] == row["stop"] == ""


def test_designed_long_entry_and_stop_out(good_run: subprocess.CompletedProcess) -> None:
    acme = [r for r in parsed(good_run.stdout) if r["symbol"] == "ACME"]
    entry, stop_out = acme[14], acme[15]
    assert entry == {
        "time": "2024-03-05T14:44:00Z",
        "symbol": "ACME",
        "signal": "ENTER_LONG",
        "reason": "level",
        "conviction": "1.0",
        "support_low": "9",
        "support_high": "10",
        "resistance_low": "13",
        "resistance_high": "14",
        "volume_percentile": "1.0",
        "spike": "true",
        "granularity": "1",
        "stop": "8.99",
        "health": "ok",
    }
    assert (stop_out["signal"], stop_out["reason"], stop_out["stop"]) == (
        "EXIT_LONG",
        "stop",
        "8.99",
    )


def test_out_file_matches_stdout(
    good_csv: Path, good_run: subprocess.CompletedProcess, tmp_path: Path
) -> None:
    target = tmp_path / "signals.csv"
    result = run_sim("signals", str(good_csv), "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert target.read_text(encoding="utf-8") == good_run.stdout


def _with_bad_row(tmp_path: Path, index: int, row: list[str]) -> tuple[Path, int]:
    rows = bars_rows()
    rows.insert(index, row)
    return write_csv(tmp_path / "bad.csv", rows), rows.index(row) + 2  # header is line 1


BAD_ROWS = {
    # low above min(open, close)
    "low_above_open": (["2024-03-05T15:30:00Z", "ACME", "10", "11", "10.5", "10.8", "100"], "low"),
    "volume_not_numeric": (
        ["2024-03-05T15:30:00Z", "ACME", "10", "11", "10", "10.8", "lots"],
        "volume",
    ),
    "volume_fractional": (
        ["2024-03-05T15:30:00Z", "ACME", "10", "11", "10", "10.8", "1.5"],
        "volume",
    ),
    # goes back before GLOBEX's earlier bars
    "time_backwards": (["1709649000", "GLOBEX", "50", "50.3", "49.75", "50.05", "600"], "time"),
    "time_garbage": (["yesterday", "ACME", "10", "11", "10", "10.8", "100"], "time"),
    "price_too_fine": (
        ["2024-03-05T15:30:00Z", "ACME", "10", "11.0000000001", "10", "10.8", "100"],
        "high",
    ),
    "empty_symbol": (["2024-03-05T15:30:00Z", "", "10", "11", "10", "10.8", "100"], "symbol"),
}
BAD_VALUES = {
    "volume_not_numeric": "lots",
    "volume_fractional": "1.5",
    "time_backwards": "1709649000",
    "time_garbage": "yesterday",
    "price_too_fine": "11.0000000001",
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_row_exits_2_naming_line_field_value(tmp_path: Path, case: str) -> None:
    row, field = BAD_ROWS[case]
    path, line = _with_bad_row(tmp_path, 7, row)
    result = run_sim("signals", str(path))
    assert result.returncode == 2
    assert result.stdout == ""  # nothing half-written
    assert f"line {line}:" in result.stderr
    assert f"{field}=" in result.stderr
    if case in BAD_VALUES:
        assert BAD_VALUES[case] in result.stderr


# Regression (was a bug, found by this suite): a bar that fails SPEC §3's shape rule is reported
# with the internal nano-unit value (core/events.py Bar.__post_init__ raises BadInput('low',
# 10500000000, ...), and sim/bars_csv.py passes it through), so the CLI says 'low=10500000000'
# for a CSV cell that reads 10.5
def test_shape_error_names_the_value_as_written(tmp_path: Path) -> None:
    path, _line = _with_bad_row(tmp_path, 7, BAD_ROWS["low_above_open"][0])
    result = run_sim("signals", str(path))
    assert result.returncode == 2
    assert "low='10.5'" in result.stderr or "low=10.5" in result.stderr


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_skip_bad_skips_counts_and_keeps_every_good_row(
    tmp_path: Path, case: str, good_run: subprocess.CompletedProcess
) -> None:
    row, _ = BAD_ROWS[case]
    path, line = _with_bad_row(tmp_path, 7, row)
    result = run_sim("signals", str(path), "--skip-bad")
    assert result.returncode == 0, result.stderr
    assert f"line {line}:" in result.stderr
    assert f"{len(bars_rows())} bars, 1 rejected" in result.stderr
    assert result.stdout == good_run.stdout  # the bad row changed nothing


def test_skip_bad_with_several_bad_rows(
    tmp_path: Path, good_run: subprocess.CompletedProcess
) -> None:
    rows = bars_rows()
    rows.insert(20, BAD_ROWS["volume_not_numeric"][0])
    rows.insert(3, BAD_ROWS["low_above_open"][0])
    rows.append(["2024-03-05T14:31:00Z", "ACME", "10", "11", "10", "10.8", "100"])  # old time
    result = run_sim("signals", str(write_csv(tmp_path / "b.csv", rows)), "--skip-bad")
    assert result.returncode == 0
    assert "3 rejected" in result.stderr
    for line in (5, 23, len(rows) + 1):
        assert f"line {line}:" in result.stderr
    assert result.stdout == good_run.stdout


@pytest.mark.parametrize("tick", ["abc", "0", "-0.01", "0.0000000001", "nan"])
def test_bad_tick_exits_2(good_csv: Path, tick: str) -> None:
    result = run_sim("signals", str(good_csv), "--tick", tick)
    assert result.returncode == 2
    assert "--tick" in result.stderr
    assert result.stdout == ""


def test_explicit_tick_is_used(good_csv: Path, good_run: subprocess.CompletedProcess) -> None:
    result = run_sim("signals", str(good_csv), "--tick", "0.01")
    assert result.returncode == 0
    assert result.stdout == good_run.stdout  # $0.01 is the US rule for these prices


def test_missing_file_and_missing_columns_exit_2(tmp_path: Path) -> None:
    result = run_sim("signals", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert "nope.csv" in result.stderr
    bad = tmp_path / "cols.csv"
    bad.write_text("time,symbol,open,high,low,close\n2024-03-05,ACME,1,1,1,1\n", encoding="utf-8")
    result = run_sim("signals", str(bad))
    assert result.returncode == 2
    assert "volume" in result.stderr and "line 1" in result.stderr


def test_signal_demo_runs() -> None:
    result = run_sim("demo", env={"COLUMNS": "160"})
    assert result.returncode == 0, result.stderr
    for word in ("symbol", "support", "resistance", "ACME", "GLOBEX", "INITECH"):
        assert word in result.stdout


def test_output_is_deterministic_across_runs_hash_seeds_and_twins(
    good_csv: Path, good_run: subprocess.CompletedProcess
) -> None:
    outputs = [
        run_sim("signals", str(good_csv), env={"PYTHONHASHSEED": seed}).stdout
        for seed in ("0", "1", "4242")
    ]
    outputs.append(run_sim("signals", str(good_csv), env={"SOVEREIGN_PURE_PYTHON": "1"}).stdout)
    for out in outputs:
        assert out == good_run.stdout
    demo = [run_sim(env={"PYTHONHASHSEED": s, "COLUMNS": "160"}).stdout for s in ("0", "99")]
    assert demo[0] == demo[1]


# Regression (was a bug, found by this suite): a time after 2262-04-11 (≥ 2**63 ns) passes
# sim/timefmt.py parse_time and core/events.py Bar, then crashes the compiled agent
# (core/_agent.pyx on_bar, OverflowError) with a traceback and exit code 1 instead of exit 2
# naming the line
def test_time_beyond_2262_is_a_bad_row(tmp_path: Path) -> None:
    path, line = _with_bad_row(
        tmp_path, 40, ["2300-01-01T00:00:00Z", "ACME", "10", "11", "10", "10.8", "100"]
    )
    result = run_sim("signals", str(path))
    assert result.returncode == 2
    assert f"line {line}:" in result.stderr and "time" in result.stderr


def test_crlf_file_and_header_only_file(
    tmp_path: Path, good_run: subprocess.CompletedProcess
) -> None:
    rows = bars_rows()
    crlf = tmp_path / "crlf.csv"
    lines = ["time,symbol,open,high,low,close,volume"] + [",".join(r) for r in rows]
    crlf.write_bytes(("\r\n".join(lines) + "\r\n").encode("utf-8"))
    result = run_sim("signals", str(crlf))
    assert result.returncode == 0, result.stderr
    assert result.stdout == good_run.stdout
    empty = write_csv(tmp_path / "empty.csv", [])
    result = run_sim("signals", str(empty))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [HEADER]
    assert "0 bars, 0 rejected" in result.stderr


# Regression (was a bug, found by this suite): sim/signals_cli.py opens the bars CSV with
# encoding='utf-8', so the byte-order mark Excel writes ('CSV UTF-8') becomes part of the first
# header ('\\ufefftime') and the file is refused for lacking a 'time' column; 'utf-8-sig' would
# read it
def test_excel_utf8_bom_is_accepted(tmp_path: Path, good_run: subprocess.CompletedProcess) -> None:
    path = write_csv(tmp_path / "bom.csv", bars_rows())
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = run_sim("signals", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == good_run.stdout


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (["2024-03-05T15:30:00Z", "ACME", "1e999999", "11", "10", "10.8", "100"], "open"),
        (["2024-03-05T15:30:00Z", "ACME", "10", "1e5000", "10", "10.8", "100"], "high"),
        (["2024-03-05T15:30:00Z", "ACME", "10", "11", "10", "10.8", "1e5000"], "volume"),
    ],
    ids=["open-overflows-decimal", "high-too-many-digits", "volume-too-many-digits"],
)
# Regression (was a bug, found by this suite): absurd numbers crash the CLI with a traceback and
# exit 1 instead of exit 2: '1e999999' as a price raises decimal.Overflow in core/money.py
# price_from_decimal (dec.scaleb(9)); a price or volume of '1e5000' makes core/errors.py
# BadInput.__init__ fail formatting the value (ValueError: int max str digits)
def test_absurd_numbers_are_bad_rows(tmp_path: Path, row: list[str], field: str) -> None:
    path, line = _with_bad_row(tmp_path, 7, row)
    result = run_sim("signals", str(path))
    assert result.returncode == 2, result.stderr[-300:]
    assert f"line {line}:" in result.stderr and f"{field}=" in result.stderr


# Regression (was a bug, found by this suite): --tick 1e999999 raises decimal.Overflow in
# core/money.py price_from_decimal
def test_absurd_tick_exits_2(good_csv: Path) -> None:
    result = run_sim("signals", str(good_csv), "--tick", "1e999999")
    assert result.returncode == 2
    assert "--tick" in result.stderr


def test_bad_arguments_exit_2() -> None:
    result = run_sim("signals")
    assert result.returncode == 2
    assert "bars" in result.stderr
    result = run_sim("demo", "--sessions", "0", env={"COLUMNS": "160"})
    assert result.returncode == 2
    assert "--sessions=0" in result.stdout + result.stderr
    result = run_sim("demo", "--seed", "abc")
    assert result.returncode == 2
    assert "--seed" in result.stderr


# Regression (was a bug, found by this suite): sim/signals_cli.py main opens --out outside any
# error handling; an unwritable path (missing directory) ends in a FileNotFoundError traceback
# and exit 1 instead of exit 2 naming --out
def test_unwritable_out_exits_2(good_csv: Path, tmp_path: Path) -> None:
    result = run_sim("signals", str(good_csv), "--out", str(tmp_path / "no" / "such" / "x.csv"))
    assert result.returncode == 2
    assert "--out" in result.stderr or "x.csv" in result.stderr
    assert "Traceback" not in result.stderr
