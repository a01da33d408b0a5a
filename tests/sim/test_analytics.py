"""Research analytics: held to empyrical-reloaded, the benchmark to an independent
buy-and-hold, the trade list to the run's own P&L."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import empyrical
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import analytics as an
from sim import humanize

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400 * 10**9


def close(ours: float | None, theirs: float) -> bool:
    if ours is None or not np.isfinite(ours):
        return not np.isfinite(theirs)
    return abs(ours - theirs) <= 1e-9 * max(1.0, abs(theirs))


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(3, 1500),
    drift=st.floats(-2e-3, 2e-3),
    vol=st.floats(1e-3, 6e-2),
    correlation=st.floats(-0.9, 0.95),
    rf=st.sampled_from([0.0, 0.02, 0.05]),
)
def test_metrics_equal_empyrical_on_the_same_daily_returns(
    seed: int, n: int, drift: float, vol: float, correlation: float, rf: float
) -> None:
    """Daily returns as markets make them (a drift, a volatility, a benchmark correlated
    with the strategy), drawn by numpy from a hypothesis seed; fat tails by a t(3) mix."""
    rng = np.random.default_rng(seed)
    b = rng.standard_t(3, n) * 0.01 + 3e-4
    r = drift + vol * (correlation * b / 0.01 + np.sqrt(1 - correlation**2) * rng.normal(size=n))
    r = np.clip(r, -0.95, 3.0)
    d = an.daily_risk_free(rf)
    assert close(an.cagr(r), empyrical.annual_return(r))
    assert close(an.annual_volatility(r), empyrical.annual_volatility(r))
    assert close(an.sharpe(r, d), empyrical.sharpe_ratio(r, risk_free=d))
    assert close(an.sortino(r, d), empyrical.sortino_ratio(r, required_return=d))
    assert close(an.max_drawdown(r), empyrical.max_drawdown(r))
    assert close(an.calmar(r), empyrical.calmar_ratio(r))
    alpha, beta = an.alpha_beta(r, b, d)
    theirs_alpha, theirs_beta = empyrical.alpha_beta(r, b, risk_free=d)
    assert close(beta, theirs_beta)
    assert close(alpha, theirs_alpha)


def test_drawdown_details_find_peak_trough_and_recovery() -> None:
    times = np.array([(19_723 + i) * DAY + 75_600 * 10**9 for i in range(6)], dtype=np.int64)
    equity = np.array([110.0, 120.0, 90.0, 100.0, 125.0, 130.0])
    dd = an.drawdown_details(times, equity, 100.0)
    assert dd.depth == pytest.approx(-0.25)
    assert (dd.peak_ns, dd.trough_ns, dd.recovery_ns) == (times[1], times[2], times[4])
    assert dd.days == 3  # the three sessions after the peak up to the recovery
    never = an.drawdown_details(times[:3], equity[:3], 100.0)
    assert never.recovery_ns is None and never.days == 1
    assert an.drawdown_details(times, np.arange(101.0, 107.0), 100.0).depth == 0.0


def test_round_trips_split_flips_and_mark_the_open_position() -> None:
    bars = an.prices_from(
        [(i * 60 * 10**9, "X", (101 + i) * 10**9, (99 - i) * 10**9, 100 * 10**9) for i in range(10)]
    )
    nano = 10**9
    fills = [
        an.FillRow(0, "X", 100, 100 * nano, 1 * nano),
        an.FillRow(60 * nano, "X", 50, 102 * nano, 0),
        an.FillRow(120 * nano, "X", -250, 104 * nano, 2 * nano),  # closes 150, opens a short of 100
    ]
    cues = [an.ExitCue(100 * nano, "X", "stop")]
    long, short = an.round_trips(fills, bars, cues)
    assert (long.side, long.quantity, long.exit_reason) == ("LONG", 150, "stop")
    assert long.entry_price == pytest.approx((100 * 100 + 50 * 102) / 150)
    assert long.pnl == pytest.approx(150 * 104 - (100 * 100 + 50 * 102) - 1 - 2 * 150 / 250)
    assert long.mae <= 0 <= long.mfe
    assert (short.side, short.quantity, short.exit_reason) == ("SHORT", 100, "open at end")
    assert short.exit_price == pytest.approx(100.0)  # marked at the last close
    assert short.pnl == pytest.approx(100 * (104 - 100) - 2 * 100 / 250)


# --------------------------------------------------------------- a real run, end to end
@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", "default", "--days", "6", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "150"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (out / "stdout.txt").write_text(done.stdout)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _daily_returns_from_equity_csv(out: Path, initial: Decimal) -> np.ndarray:
    """Independently: the last equity row of each UTC day (a mark belongs to the bar before)."""
    last: dict[str, Decimal] = {}
    for row in _rows(out / "equity.csv"):
        stamp = np.datetime64(row["time"].rstrip("Z"), "ns") - np.timedelta64(1, "ns")
        last[str(stamp.astype("datetime64[D]"))] = Decimal(row["equity"])
    levels = [float(initial)] + [float(v) for _, v in sorted(last.items())]
    return np.array(levels[1:]) / np.array(levels[:-1]) - 1


def test_summary_metrics_equal_empyrical_on_the_runs_daily_returns(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    a = summary["analytics"]
    returns = _daily_returns_from_equity_csv(run_dir, Decimal(summary["initial_equity"]))
    assert a["days"] == len(returns) == 6
    assert close(a["cagr"], empyrical.annual_return(returns))
    assert close(a["annual_volatility"], empyrical.annual_volatility(returns))
    assert close(a["sharpe"], empyrical.sharpe_ratio(returns))
    assert close(a["max_drawdown_daily"], empyrical.max_drawdown(returns))


def test_benchmark_equals_an_independent_buy_and_hold(run_dir: Path) -> None:
    """Equal weight of the initial capital, whole shares at the first close plus the
    venues' ~0.5 bp half spread and $0.0030/share, held to the last close; Decimal here."""
    summary = json.loads((run_dir / "summary.json").read_text())
    initial = Decimal(summary["initial_equity"])
    first: dict[str, Decimal] = {}
    last: dict[str, Decimal] = {}
    for row in _rows(run_dir / "bars.csv"):
        first.setdefault(row["symbol"], Decimal(row["close"]))
        last[row["symbol"]] = Decimal(row["close"])
    budget = initial / len(first)
    cash = initial
    value = Decimal(0)
    for symbol, price in first.items():
        paid = price * (1 + Decimal(1) / 20_000)
        shares = int(budget // (paid + Decimal("0.003")))
        assert summary["analytics"]["benchmark"]["shares"][symbol] == shares
        cash -= shares * (paid + Decimal("0.003"))
        value += shares * last[symbol]
    expected = (cash + value) / initial - 1
    assert summary["analytics"]["benchmark"]["return"] == pytest.approx(float(expected), abs=1e-9)
    bench = _rows(run_dir / "benchmark.csv")
    assert [r["time"] for r in bench] == [r["time"] for r in _rows(run_dir / "equity.csv")]


def test_trade_list_adds_up_to_the_runs_pnl(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    trades = _rows(run_dir / "trades.csv")
    assert list(trades[0]) == [
        "symbol", "side", "entry_time", "entry_price", "exit_time", "exit_price", "qty",
        "pnl", "return", "holding_minutes", "mae", "mfe", "exit_reason", "stop", "r_multiple",
    ]  # fmt: skip
    assert trades, "the default scenario trades"
    total = sum(Decimal(t["pnl"]) for t in trades)
    # The broker's financing (borrow fee, debit interest: issue 12) is the book's, not a trade's.
    financing = sum(Decimal(v) for v in summary["financing"].values())
    assert financing > 0, "six days of a levered book pay financing"
    assert abs(total - financing - Decimal(summary["pnl"])) <= Decimal("0.01") * len(trades)
    costs = summary["analytics"]["costs"]
    assert Decimal(str(costs["interest"])) == round(
        Decimal(summary["financing"]["debit_interest"]), 2
    )
    closed = [t for t in trades if t["exit_reason"] != "open at end"]
    assert len(closed) == summary["trades"]
    for t in trades:
        assert float(t["mae"]) <= 0 <= float(t["mfe"])
        assert t["side"] in ("LONG", "SHORT")
        assert t["exit_reason"] in ("stop", "target", "engine", "open at end")
        assert t["entry_time"] <= t["exit_time"]


def test_terminal_table_speaks_to_people(run_dir: Path) -> None:
    text = (run_dir / "stdout.txt").read_text()
    summary = json.loads((run_dir / "summary.json").read_text())
    shown = summary["display"]
    assert text.startswith("SYNTHETIC MARKET")
    for label, key in (
        ("final equity", "final_equity"),
        ("Sharpe", "sharpe"),
        ("buy & hold return", "benchmark_return"),
    ):
        assert any(label in line and shown[key] in line for line in text.splitlines()), label
    assert shown["final_equity"].startswith("$") and "," in shown["final_equity"]
    assert shown["return"].endswith("%")


@pytest.mark.parametrize(
    ("value", "text"),
    [("1234567.891", "$1,234,567.89"), ("-5.005", "-$5.00"), ("0", "$0.00"), (None, "")],
)
def test_money_for_people(value: object, text: str) -> None:
    assert humanize.money(value) == text


def test_percent_and_duration_for_people() -> None:
    assert humanize.percent(0.123456) == "+12.35%"
    assert humanize.percent(-0.5, signed=False) == "-50.00%"
    assert humanize.percent(0.0) == "0.00%"
    assert humanize.percent(float("nan")) == "n/a"
    assert humanize.duration(3 * 60 * 10**9) == "3m"
    assert humanize.duration((26 * 60 + 5) * 60 * 10**9) == "1d 2h"


def test_risk_free_rate_is_used_and_stated(tmp_path: Path) -> None:
    out = tmp_path / "rf"
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", "default", "--days", "3", "--risk-free", "4%",
         "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "150"}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    a = summary["analytics"]
    assert a["risk_free_rate"] == 0.04 and summary["display"]["risk_free_rate"] == "4.00%"
    returns = _daily_returns_from_equity_csv(out, Decimal(summary["initial_equity"]))
    rf = (1.04) ** (1 / 252) - 1
    assert close(a["sharpe"], empyrical.sharpe_ratio(returns, risk_free=rf))
    assert any("risk-free rate" in line and "4.00%" in line for line in done.stdout.splitlines())
    bad = subprocess.run(
        [sys.executable, "-m", "sim", "run", "default", "--risk-free", "lots", "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "--risk-free='lots'" in bad.stderr
