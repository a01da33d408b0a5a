"""The soak harness in CI, short: the real ``python benchmarks/soak.py`` (which
runs the real ``python -m gateway`` against the real ``python -m standins``)
over one live day of five symbols with a handful of kill -9 lives, each kind
of kill point (after an execution, an order in flight, a market slice, during
recovery) and each fault (a 429 storm, the FIX line cut, the TWS socket cut,
Alpaca's streams cut), a transfer across $1M, and timed restarts at the end.

Asserted from its JSON: every life recovered (a ready line, then new inputs
journaled), the gateway's executions equal the brokers' own records by
execution id — 0 lost, 0 duplicated, none unknown or different — and
positions equal. Times are reported, never asserted (they depend on the
machine); every wait inside the harness is on a condition.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOAK = ROOT / "benchmarks" / "soak.py"


def _soak(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SOAK), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_short_soak_loses_and_duplicates_nothing_and_recovers_after_every_kill(
    tmp_path: Path,
) -> None:
    out = tmp_path / "soak"
    run = _soak(
        "--symbols", "5", "--days", "2", "--kills", "5", "--speed", "1200",
        "--fault-every", "1", "--tier-every", "2", "--storm-requests", "3",
        "--kill-timeout", "10", "--final-restarts", "2", "--rss-interval", "0.5",
        "--out", str(out),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    result = json.loads((out / "soak.json").read_text())
    assert (out / "soak.txt").read_text().strip().endswith("every life recovered)")
    assert result["ok"] and result["error"] is None and result["problems"] == []

    lives = result["lives"]
    assert result["kills"] >= 6  # 5 lives killed, and the first of the 2 timed restarts
    assert {x["mode"] for x in lives} >= {"progress", "execution", "in_flight", "startup"}
    for life in lives:
        if life["mode"] != "startup":  # each came back: a ready line
            assert life["restart_s"] is not None, life
        if life["mode"] not in ("startup", "final"):  # and traded on (journaled inputs)
            assert life["progressed"], life
    assert lives[-1]["mode"] == "final" and lives[-1]["progressed"]  # it played the rest
    assert len(result["restart_s"]["final"]) == 2
    assert set(result["faults"]["injected"]) == {"storm", "drop_fix", "drop_tws", "drop_streams"}
    assert result["faults"]["transfers"] >= 1
    assert result["faults"]["standin_counters"].get("429", 0) >= 3
    for life in lives:  # it came through the storm and the FIX cut while trading
        if life["fault"] in ("storm", "drop_fix"):
            assert life["fault_cleared"], life

    books = result["executions"]
    assert books["db_executions"] >= 1, "nothing traded: the comparison would prove nothing"
    assert (books["lost"], books["duplicated"], books["unknown"], books["mismatched"]) == (
        0, 0, 0, 0,
    )  # fmt: skip
    assert books["positions_equal"]
    assert sum(books["broker_fills"].values()) == books["db_executions"]
    assert result["market"]["live_bars_left"] == 0  # the whole market was played
    assert result["rss"]["samples"] > 0


def test_bad_arguments_exit_2_naming_the_argument(tmp_path: Path) -> None:
    for args, named in (
        (["--symbols", "0"], "--symbols 0"),
        (["--symbols", "31"], "--symbols 31"),
        (["--days", "300"], "--days 300"),
        (["--kills", "-1"], "--kills -1"),
        (["--speed", "0"], "--speed 0"),
        (["--warmup", "1.5"], "--warmup 1.5"),
        (["--scenario", "nope"], "--scenario 'nope'"),
        (["--kills", "many"], "--kills"),
    ):
        run = _soak(*args, "--out", str(tmp_path / "x"), timeout=60)
        assert run.returncode == 2, (args, run.stderr)
        assert named in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "x").exists()  # nothing started, nothing written
