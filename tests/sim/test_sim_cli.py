"""``python -m sim`` end to end, as a user runs it (subprocesses, real files)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from core.events import Bar
from core.instruments import CENT
from sim.bars_csv import write_bars
from sim.demo import demo_bars

ROOT = Path(__file__).resolve().parents[2]

ORDERS = "order_id,parent_id,symbol,side,qty,filled_qty,avg_price,algo,venue,status"
FILLS = "time,order_id,parent_id,symbol,side,qty,price,venue,fee,exec_id"
TCA = (
    "parent_id,symbol,side,qty,filled_qty,decision_price,arrival_price,avg_price,"
    "interval_vwap,arrival_bps,vwap_bps,is_bps,delay_bps,trading_bps,opportunity_bps,"
    "fee_bps,impact_model_bps,impact_realised_bps,grade,algo"
)
SUMMARY_KEYS = {
    "run_hash",
    "seed",
    "scenario",
    "bars",
    "orders",
    "fills",
    "pnl",
    "return",
    "max_drawdown",
    "trades",
    "hit_rate",
    "invariant_checks",
    "positions",
}
OUTPUT_FILES = (
    "journal.jsonl",
    "bars.csv",
    "signals.csv",
    "orders.csv",
    "fills.csv",
    "tca.csv",
    "equity.csv",
    "summary.json",
    "report.html",
)
PLAIN_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
HASH_LINE = re.compile(r"run hash: ([0-9a-f]{64})")


def sim(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def printed_hash(done: subprocess.CompletedProcess[str]) -> str:
    found = HASH_LINE.findall(done.stdout)
    assert found, done.stdout
    return found[-1]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def header(path: Path) -> str:
    return path.read_text(encoding="utf-8").splitlines()[0]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("default")
    done = sim("run", "default", "--days", "2", "--symbols", "3", "--out", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    return out, done.stdout


# ------------------------------------------------------------------ list
def test_list_shows_every_scenario() -> None:
    done = sim("list")
    assert done.returncode == 0, done.stderr
    for name in ("default", "range", "capitulation", "trend", "gaps", "flash_crash", "faults"):
        assert name in done.stdout


# ------------------------------------------------------------------ run
def test_run_writes_every_output_file(default_run) -> None:
    out, _ = default_run
    for name in OUTPUT_FILES:
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name


def test_output_headers_are_exact(default_run) -> None:
    out, _ = default_run
    assert header(out / "orders.csv") == ORDERS
    assert header(out / "fills.csv") == FILLS
    assert header(out / "tca.csv") == TCA
    assert header(out / "bars.csv") == "time,symbol,open,high,low,close,volume"


def test_summary_has_the_keys_and_agrees_with_the_printed_and_file_hash(default_run) -> None:
    out, stdout = default_run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) >= SUMMARY_KEYS
    journal_hash = hashlib.sha256((out / "journal.jsonl").read_bytes()).hexdigest()
    assert summary["run_hash"] == journal_hash == HASH_LINE.findall(stdout)[-1]
    assert summary["scenario"] == "default"
    assert summary["seed"] == 1
    assert summary["violation"] is None
    assert summary["invariant_checks"] > 0 and summary["bars"] > 0
    assert summary["bars"] == len(rows(out / "bars.csv"))


def test_sides_are_buy_sell_and_money_is_plain_decimal(default_run) -> None:
    out, _ = default_run
    fills = rows(out / "fills.csv")
    orders = rows(out / "orders.csv")
    assert fills and orders, "the run should trade so the files are worth checking"
    for row in fills:
        assert row["side"] in ("BUY", "SELL")
        for key in ("qty", "price", "fee"):
            assert PLAIN_DECIMAL.match(row[key]), (key, row[key])
        assert Decimal(row["price"]) > 0 and int(row["qty"]) > 0
    for row in orders:
        assert row["side"] in ("BUY", "SELL")
        assert PLAIN_DECIMAL.match(row["qty"]) and PLAIN_DECIMAL.match(row["filled_qty"])
        assert row["avg_price"] == "" or PLAIN_DECIMAL.match(row["avg_price"])
    for row in rows(out / "tca.csv"):
        assert row["side"] in ("BUY", "SELL")
        assert PLAIN_DECIMAL.match(row["avg_price"]) or row["avg_price"] == ""
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert PLAIN_DECIMAL.match(summary["pnl"])
    for row in rows(out / "equity.csv"):
        assert PLAIN_DECIMAL.match(row["equity"]) and PLAIN_DECIMAL.match(row["cash"])


def test_fills_file_reconciles_with_orders_and_positions(default_run) -> None:
    out, _ = default_run
    fills = rows(out / "fills.csv")
    assert len({row["exec_id"] for row in fills}) == len(fills)  # each execution once
    by_order: dict[str, int] = {}
    position: dict[str, int] = {}
    for row in fills:
        qty = int(row["qty"])
        by_order[row["order_id"]] = by_order.get(row["order_id"], 0) + qty
        signed = qty if row["side"] == "BUY" else -qty
        position[row["symbol"]] = position.get(row["symbol"], 0) + signed
    orders = {row["order_id"]: row for row in rows(out / "orders.csv")}
    for order_id, filled in by_order.items():
        assert int(orders[order_id]["filled_qty"]) == filled
        assert filled <= int(orders[order_id]["qty"])
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["positions"] == {s: q for s, q in sorted(position.items()) if q}
    assert summary["fills"] == len(fills)


def test_cash_reconciles_from_the_fills_file(default_run) -> None:
    """pnl = final equity − initial: cash from fills plus positions at the last close."""
    out, _ = default_run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    cash = Decimal(summary["initial_equity"])
    for row in rows(out / "fills.csv"):
        signed = Decimal(row["qty"]) * (1 if row["side"] == "BUY" else -1)
        cash -= signed * Decimal(row["price"]) + Decimal(row["fee"])
    financing = summary["financing"]  # borrow and debit interest the broker charged
    cash -= Decimal(financing["short_borrow"]) + Decimal(financing["debit_interest"])
    last_close: dict[str, Decimal] = {}
    for row in rows(out / "bars.csv"):
        last_close[row["symbol"]] = Decimal(row["close"])
    marked = sum((Decimal(q) * last_close[s] for s, q in summary["positions"].items()), Decimal(0))
    assert cash + marked == Decimal(summary["final_equity"])
    assert Decimal(summary["pnl"]) == Decimal(summary["final_equity"]) - Decimal(
        summary["initial_equity"]
    )


def test_same_command_twice_same_hash(default_run, tmp_path: Path) -> None:
    out, stdout = default_run
    again = sim("run", "default", "--days", "2", "--symbols", "3", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert printed_hash(again) == HASH_LINE.findall(stdout)[-1]
    assert (tmp_path / "journal.jsonl").read_bytes() == (out / "journal.jsonl").read_bytes()


def test_another_seed_gives_another_hash(default_run, tmp_path: Path) -> None:
    _, stdout = default_run
    other = sim(
        "run", "default", "--days", "2", "--symbols", "3", "--seed", "2", "--out", str(tmp_path)
    )
    assert other.returncode == 0, other.stderr
    assert printed_hash(other) != HASH_LINE.findall(stdout)[-1]


def test_faults_scenario_runs_clean(tmp_path: Path) -> None:
    done = sim("run", "faults", "--days", "2", "--symbols", "2", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert summary["violation"] is None
    assert summary["faults"], "the faults scenario should inject faults"


def test_urgency_reaches_the_algorithm_choice(tmp_path: Path) -> None:
    """Issue 12: ``--urgency`` exercises the algorithms from the CLI."""
    picked = {}
    for urgency in ("low", "high"):
        out = tmp_path / urgency
        done = sim(
            "run", "universe30", "--seed", "3", "--days", "6", "--symbols", "8",
            "--urgency", urgency, "--out", str(out),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        assert summary["urgency"] == urgency
        picked[urgency] = {row["algo"] for row in rows(out / "tca.csv")}
    assert picked["high"] == {"market"}
    assert picked["low"] & {"vwap", "twap", "pov", "iceberg"}


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("run", "nosuch"), ("scenario", "nosuch")),
        (("run", "default", "--days", "0"), ("--days", "0")),
        (("run", "default", "--symbols", "ZZZ,ZZZ"), ("--symbols", "ZZZ,ZZZ")),
        (("run", "default", "--balance", "-5"), ("--balance", "-5")),
        (("run", "default", "--balance", "lots"), ("--balance", "lots")),
        (("run", "default", "--seed", "-1"), ("--seed", "-1")),
        (("run", "default", "--days", "261"), ("--days", "261")),
        (("run", "default", "--symbols", "9"), ("--symbols", "9")),
        (("swarm", "--seeds", "0"), ("--seeds", "0")),
        (("swarm", "--seeds", "1", "--workers", "0"), ("--workers", "0")),
        (("swarm", "--seeds", "1", "--first", "-3"), ("--first", "-3")),
        (("replay", "/definitely/not/here.csv"), ("/definitely/not/here.csv",)),
        (("run", "default", "--urgency", "urgent"), ("--urgency", "urgent")),
        (("replay", "sim/data/sample_daily.csv", "--urgency", "x"), ("--urgency", "'x'")),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_bad_input_exits_2_naming_option_and_value(
    args: tuple[str, ...], names: tuple[str, ...], tmp_path: Path
) -> None:
    done = sim(*args, "--out", str(tmp_path)) if args[0] != "swarm" else sim(*args)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    for name in names:
        assert name in done.stderr, (name, done.stderr)
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "journal.jsonl").exists()


# Regression (fixed): sim/cli.py _execute calls out.mkdir(parents=True, exist_ok=True)
# unguarded; --out naming an existing file raises FileExistsError: a traceback and exit 1
# instead of exit 2 naming --out
def test_out_that_is_a_file_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("not a directory", encoding="utf-8")
    done = sim("run", "default", "--days", "1", "--symbols", "1", "--out", str(target))
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    assert "--out" in done.stderr and str(target) in done.stderr
    assert "Traceback" not in done.stderr


def test_argparse_type_errors_exit_2() -> None:
    done = sim("run", "default", "--days", "two")
    assert done.returncode == 2
    assert "--days" in done.stderr and "two" in done.stderr


# ---------------------------------------------------------------- replay
def _write_minute_csv(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        write_bars(stream, demo_bars(7, 1))


def _write_daily_csv(path: Path) -> None:
    bars = []
    day = 86_400 * 10**9
    start = 1_704_153_600 * 10**9  # 2024-01-02
    price = 10_000
    for index in range(40):
        high, low = price + 150, price - 150
        close = price + (120 if index % 7 < 3 else -110)
        bars.append(
            Bar(
                "XYZ",
                start + index * day,
                price * CENT,
                max(high, close) * CENT,
                min(low, close) * CENT,
                close * CENT,
                1_000_000 + 1_000 * index,
            )
        )
        price = close
    with path.open("w", newline="", encoding="utf-8") as stream:
        write_bars(stream, bars)


def test_replay_minute_csv(tmp_path: Path) -> None:
    source = tmp_path / "bars.csv"
    _write_minute_csv(source)
    out = tmp_path / "out"
    done = sim("replay", str(source), "--out", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["bars"] == 390 * 3
    assert summary["run_hash"] == printed_hash(done)
    assert summary["run_hash"] == hashlib.sha256((out / "journal.jsonl").read_bytes()).hexdigest()
    again = sim("replay", str(source), "--out", str(tmp_path / "again"))
    assert printed_hash(again) == summary["run_hash"]


def test_replay_daily_csv(tmp_path: Path) -> None:
    source = tmp_path / "daily.csv"
    _write_daily_csv(source)
    done = sim("replay", str(source), "--balance", "100000", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr + done.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["bars"] == 40
    assert summary["violation"] is None


def test_replay_bad_csv_exits_2_naming_line_and_field(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "time,symbol,open,high,low,close,volume\n"
        "2024-01-02T14:30:00Z,XYZ,10,11,9,10,100\n"
        "2024-01-02T14:31:00Z,XYZ,10,9,11,10,100\n",
        encoding="utf-8",
    )
    done = sim("replay", str(source), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "line 3" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "holds no bars"),
        (
            "2024-01-02T14:31:00Z,XYZ,10,11,9,10,100\n2024-01-02T14:30:00Z,XYZ,10,11,9,10,100\n",
            "line 3",
        ),
        (
            "2024-01-02T14:30:00Z,XYZ,10,11,9,10,100\n2024-01-02T14:30:00Z,XYZ,10,11,9,10,100\n",
            "not later than",
        ),
    ],
    ids=["empty", "out-of-order", "duplicate"],
)
def test_replay_rejects_unusable_files(tmp_path: Path, body: str, expected: str) -> None:
    source = tmp_path / "bars.csv"
    source.write_text("time,symbol,open,high,low,close,volume\n" + body, encoding="utf-8")
    done = sim("replay", str(source), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected in done.stderr
    assert not (tmp_path / "out" / "journal.jsonl").exists()


def test_replay_sample_data_if_shipped(tmp_path: Path) -> None:
    sample = ROOT / "sim" / "data" / "sample_daily.csv"
    if not sample.exists():
        pytest.skip("sim/data/sample_daily.csv is not shipped yet")
    done = sim("replay", str(sample), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr + done.stdout
    assert (tmp_path / "summary.json").is_file()
