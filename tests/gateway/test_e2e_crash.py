"""Crash test: ``kill -9`` the real gateway at random moments of a live session,
restart it each time, and show that no execution is lost or booked twice and
that positions end equal to the broker's.

At least 20 kill/restart cycles in CI; set ``SOVEREIGN_CRASH_CYCLES`` for more
(``SOVEREIGN_CRASH_SEED`` replays a schedule). A third of the kills land at a
random time after process start (during imports, journal replay,
reconciliation or catch-up), a third at a random time after the gateway
reported itself ready (while trading), and a third the moment an order is at
the broker unfilled (so its fill happens while the gateway is dead).
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

from tests.gateway.agreement import compare
from tests.gateway.harness import GatewayProc, StandIn, db_rows, wait_for, write_config

CYCLES = int(os.environ.get("SOVEREIGN_CRASH_CYCLES", "20"))
SEED = int(os.environ.get("SOVEREIGN_CRASH_SEED", "20240102"))


def _inputs(db: Path) -> int:
    rows = db_rows(db, "SELECT MAX(seq) FROM inputs")
    return int(rows[0][0] or 0) if rows else 0


def _in_flight(db: Path) -> int:
    rows = db_rows(
        db,
        "SELECT COUNT(*) FROM orders WHERE sent=1"
        " AND status IN ('pending_new', 'new', 'partially_filled')",
    )
    return int(rows[0][0]) if rows else 0


def _ready_count(log: Path) -> int:
    if not log.exists():
        return 0
    return sum('"event": "ready"' in line for line in log.read_text().splitlines())


def test_kill_dash_nine_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    standin = StandIn(tmp_path, "--scenario", "range", "--speed", "720", "--history-days", "0")
    try:
        config = write_config(tmp_path, standin)
        db = tmp_path / "gateway.db"
        log = tmp_path / "logs" / "e2e.jsonl"
        kills_while_ready = 0
        executions_seen = []
        for cycle in range(CYCLES):
            ready_before = _ready_count(log)
            gateway = GatewayProc(config, tag=f"-{cycle}")
            if cycle % 3 == 2:
                # Aim at the worst moment: an order sent and not yet reported filled.
                wait_for(lambda: _in_flight(db) > 0, 8, 0.02)
            elif cycle % 3 == 0:
                time.sleep(rng.uniform(0.3, 4.0))
            else:
                wait_for(lambda before=ready_before: _ready_count(log) > before, 20, 0.1)
                time.sleep(rng.uniform(0.2, 3.5))
            if _ready_count(log) > ready_before:
                kills_while_ready += 1
            gateway.kill9()
            rows = db_rows(db, "SELECT COUNT(*) FROM executions")
            executions_seen.append(rows[0][0] if rows else 0)
        # A last, clean run: recover, reconcile, trade a little, stop.
        ready_before = _ready_count(log)
        final = GatewayProc(config, tag="-final")
        assert wait_for(lambda: _ready_count(log) > ready_before, 30, 0.1), (
            tmp_path / "gateway-final.err"
        ).read_text()[-3000:]
        # It must resume: inputs keep arriving after recovery (a stall gets its
        # stacks dumped into the failure message via faulthandler's SIGUSR1).
        start = _inputs(db)
        if not wait_for(lambda: _inputs(db) > start + 20, 8, 0.2):
            final.proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            final.terminate()
            raise AssertionError((tmp_path / "gateway-final.err").read_text()[-6000:])
        time.sleep(1)
        assert final.terminate() == 0
        state = standin.state()
    finally:
        standin.stop()

    agreement = compare(db, state)
    assert agreement.problems == [], agreement.problems
    assert agreement.db_executions >= 3, "the session should have traded across the crashes"
    assert CYCLES < 2 or kills_while_ready >= CYCLES // 4
    # Every restart recovered from the journal and checked positions at startup.
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    replays = [x for x in lines if x.get("event") == "replayed"]
    assert len(replays) >= kills_while_ready
    shutdown_ok = [x for x in lines if x.get("event") == "positions_ok" and "shutdown" in x["msg"]]
    assert shutdown_ok, "the final clean stop did not find positions equal to the broker's"
    print(
        f"\ncrash test: {CYCLES} kill -9 cycles ({kills_while_ready} while trading), "
        f"{agreement.db_executions} executions checked ({agreement.stream_executions} from the "
        f"stream, {agreement.reconciled_executions} recovered by reconciliation), "
        f"{agreement.orders_checked} orders, positions {agreement.positions}, "
        f"executions after each kill {executions_seen}"
    )
