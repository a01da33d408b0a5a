"""Bad bars CSV input (issue 11): every reader answers exit 2 with a message
naming the line and the field, never a traceback, and refuses what it used to
accept silently. ``sim signals`` and ``sim replay`` share ``read_bars_file``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from sim.bars_csv import BadRow, read_bars_file
from sim.build import replay_spec as _replay_spec
from sim.data.source import load
from sim.signals_cli import main as _signals_main


def signals_main(path: str, out: str | None, tick: str | None, skip_bad: bool) -> int:
    """``sim signals FILE`` in process (its parsed arguments name the bars)."""
    args = argparse.Namespace(
        files=[path], catalog=None, symbols=None, start=None, end=None,
        timeframe=None, adjustment=None,
    )  # fmt: skip
    return _signals_main(args, out, tick, skip_bad)


def replay_spec(path: Path) -> object:
    """What ``sim replay FILE`` builds before it runs."""
    return _replay_spec(load([str(path)], None), [str(path)])


ROOT = Path(__file__).resolve().parents[2]
HEADER = "time,symbol,open,high,low,close,volume"
GOOD = "2024-01-02T14:30:00Z,AAPL,100,101,99,100,5"


def run_sim(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(tmp_path: Path, data: str | bytes, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


CASES = [
    # (what, file bytes, line, field, words in the reason)
    (
        "a cell over the csv module's 131,072-character limit",
        f"{HEADER}\n2024-01-02T14:30:00Z,AAPL,{'1' * 140_000},101,99,100,5\n",
        2,
        "csv",
        "cannot be split into CSV rows",
    ),
    (
        "bytes that are not UTF-8",
        f"{HEADER}\n{GOOD}\n2024-01-02T14:31:00Z,AAPL,10".encode() + b"\xff0,101,99,100,5\n",
        3,
        "encoding",
        "is not UTF-8",
    ),
    ("an extra column", f"{HEADER},note\n{GOOD},x\n", 1, "header", "unknown column(s) ['note']"),
    ("a repeated column", f"{HEADER},open\n{GOOD},100\n", 1, "header", "repeats column(s)"),
    (
        "1_0 (Decimal would read 10)",
        f"{HEADER}\n{GOOD.replace(',100,101', ',1_00,101')}\n",
        2,
        "open",
        "plain decimal",
    ),
    (
        "Arabic-Indic digits as epoch time",
        f"{HEADER}\n١٧٠٤٢٠٥٨٠٠,AAPL,100,101,99,100,5\n",
        2,
        "time",
        "ASCII",
    ),
    (
        "Arabic-Indic digits as a price",
        f"{HEADER}\n2024-01-02T14:30:00Z,AAPL,١٠٠,101,99,100,5\n",
        2,
        "open",
        "plain decimal",
    ),
    (
        "a symbol containing a newline",
        f'{HEADER}\n2024-01-02T14:30:00Z,"AA\nPL",100,101,99,100,5\n',
        3,
        "symbol",
        "not a ticker",
    ),
    (
        "an unterminated quote",
        f'{HEADER}\n2024-01-02T14:30:00Z,AAPL,"100,101,99,100,5\n{GOOD}\n',
        2,
        "csv",
        "never closed",
    ),
    (
        "a negative open",
        f"{HEADER}\n2024-01-02T14:30:00Z,AAPL,-1,101,9,100,5\n",
        2,
        "open",
        "must be positive",
    ),
    (
        "a NUL byte",
        f"{HEADER}\n2024-01-02T14:30:00Z,AAPL,100\x00,101,99,100,5\n",
        2,
        "open",
        "plain decimal",
    ),
]

ARGS = ("what", "data", "line", "field", "reason")
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(ARGS, CASES, ids=IDS)
def test_the_reader_names_line_and_field(tmp_path, what, data, line, field, reason) -> None:
    path = write(tmp_path, data)
    with pytest.raises(BadRow) as info:
        read_bars_file(path)
    assert (info.value.line, info.value.field) == (line, field), str(info.value)
    assert reason in info.value.reason, str(info.value)


@pytest.mark.parametrize(ARGS, CASES, ids=IDS)
def test_sim_signals_exits_2_naming_the_field(tmp_path, capsys, what, data, line, field, reason):
    path = write(tmp_path, data)
    assert signals_main(str(path), None, None, False) == 2
    err = capsys.readouterr().err
    assert f"line {line}: {field}=" in err and reason in err and "Traceback" not in err


@pytest.mark.parametrize(ARGS, CASES, ids=IDS)
def test_sim_replay_refuses_it_naming_the_field(tmp_path, what, data, line, field, reason) -> None:
    path = write(tmp_path, data)
    with pytest.raises(BadInput) as info:
        replay_spec(path)
    assert f"line {line}: {field}" in info.value.field and reason in info.value.reason


def test_sim_replay_on_a_non_utf8_file_exits_2_not_a_traceback(tmp_path) -> None:
    path = write(tmp_path, f"{HEADER}\n".encode() + b"2024-01-02T14:30:00Z,\xe9\xe9,1,1,1,1,1\n")
    done = run_sim("replay", str(path), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert "line 2: encoding=" in done.stderr and "Traceback" not in done.stderr


def test_sim_signals_into_a_closed_pipe_exits_quietly(tmp_path) -> None:
    """``sim signals ... | head``: the reader leaves early; no BrokenPipeError traceback."""
    rows = [f"{1704205800 + 60 * i},AAPL,100,101,99,100,{5 + i}" for i in range(3000)]
    path = write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", "signals", str(path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # the header, then hang up like `head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


def test_a_good_file_still_reads_with_a_bom_and_crlf(tmp_path) -> None:
    path = write(tmp_path, ("\ufeff" + HEADER + "\r\n" + GOOD + "\r\n").encode())
    assert len(read_bars_file(path).bars) == 1


# --------------------------------------------------------------------- fuzz

_cells = st.one_of(
    st.sampled_from(["100", "99.5", "0", "-1", "1e3", "1_0", "", " 7 ", "nan", "١٢", '"', "AAPL"]),
    st.text(max_size=12),
)
_rows = st.lists(st.lists(_cells, min_size=0, max_size=9), max_size=6)
_headers = st.one_of(
    st.just(HEADER.split(",")),
    st.permutations(HEADER.split(",")),
    st.lists(st.sampled_from([*HEADER.split(","), "x", "", "open"]), max_size=9),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    header=_headers,
    rows=_rows,
    noise=st.binary(max_size=24),
    cut=st.integers(0, 400),
    skip_bad=st.booleans(),
)
def test_fuzz_any_bytes_give_exit_0_or_exit_2_naming_a_field(
    tmp_path_factory, capsys, header, rows, noise, cut, skip_bad
) -> None:
    """Exit 2 with ``error: FILE: line N: field=...``, or success; never an uncaught exception."""
    text = ",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + "\n"
    data = text.encode("utf-8")
    data = data[:cut] + noise + data[cut:]
    path = tmp_path_factory.mktemp("fuzz") / "bars.csv"
    path.write_bytes(data)
    code = signals_main(str(path), None, None, skip_bad)
    err = capsys.readouterr().err
    assert code in (0, 2), err
    if code == 2:
        assert "error: " in err and ": line " in err and "=" in err, err
    try:
        replay_spec(path)
    except BadInput as exc:
        assert exc.field and exc.reason
