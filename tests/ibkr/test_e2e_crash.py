"""Crash and reconnect tests for the IBKR link with the real processes: the real
``python -m gateway`` (tiered, Alpaca + IBKR, a $500K semi-institutional
account: every order goes through ib_async to TWS) against the real
``python -m standins`` and its TWS stand-in.

* ``kill -9`` the gateway while an order is at TWS, restart it with the same
  config and database, several times: every execution TWS made appears in
  SQLite exactly once, with TWS's exec id, quantity, price and commission
  (none reduced to a synthetic ``recon:`` quantity), and positions agree.
* Cut the TWS socket (``/_control`` ``drop_tws``, TWS then away for a second)
  while an order is working: the gateway reconnects by itself, books what
  filled while it was away once (TWS's executions replayed), positions agree.

Every wait is on a condition with a generous timeout; nothing assumes speed.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.gateway.harness import GatewayProc, StandIn, db_rows, wait_for
from tests.ibkr.e2e import (
    compare,
    count_log,
    db_exec_ids,
    log_events,
    market_over,
    ready_count,
    standin,
    tws,
    wait_for_order_in_flight,
    working_orders,
    write_config,
)

KILLS = 3
AWAY_S = 1.0  # real seconds TWS stays away after a drop_tws


def _finish(server: StandIn, gateway: GatewayProc, db: Path, err: Path) -> dict:
    """Let the live market run out (no bar, no fill after it), wait until SQLite
    holds as many executions as TWS made, stop the gateway cleanly, return TWS's book."""
    assert wait_for(lambda: market_over(server), 120, 0.25), "the market did not finish"
    # The last minute's fills reach the gateway: wait until SQLite holds every
    # execution TWS made, re-reading TWS each time (no fixed sleep).
    if not wait_for(lambda: len(db_exec_ids(db)) >= len(tws(server)["executions"]), 120, 0.1):
        gateway.proc.send_signal(signal.SIGUSR1)  # faulthandler: stacks into the log
        time.sleep(1)
        gateway.terminate()
        raise AssertionError(err.read_text()[-6000:])
    assert gateway.terminate() == 0, err.read_text()[-3000:]
    return tws(server)


def _shutdown_agreed(log: Path) -> bool:
    return (
        count_log(
            log,
            lambda e: e.get("event") == "positions_ok" and "shutdown" in str(e.get("msg", "")),
        )
        >= 1
    )


def test_kill_dash_nine_with_an_order_at_tws_loses_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    server = standin(tmp_path, speed=600, days=2)  # one live session of ~40 s
    gateway: GatewayProc | None = None
    db = tmp_path / "gateway.db"
    log = tmp_path / "logs" / "ibkr.jsonl"
    left_for_restart: list[int] = []  # per kill: executions TWS made that SQLite lacked
    try:
        config = write_config(tmp_path, server)
        for cycle in range(KILLS):
            before = ready_count(log)
            gateway = GatewayProc(config, tag=f"-{cycle}")
            assert wait_for(lambda before=before: ready_count(log) > before, 90, 0.1), (
                tmp_path / f"gateway-{cycle}.err"
            ).read_text()[-3000:]
            wait_for_order_in_flight(server, db, 60)
            gateway.kill9()
            gateway = None
            booked = db_exec_ids(db)
            # Whatever the dead gateway left at TWS fills at the next bars.
            wait_for(lambda: not working_orders(server), 30, 0.05)
            left_for_restart.append(
                len(set(e["exec_id"] for e in tws(server)["executions"]) - booked)
            )
        before = ready_count(log)
        gateway = GatewayProc(config, tag="-final")
        err = tmp_path / "gateway-final.err"
        assert wait_for(lambda: ready_count(log) > before, 90, 0.1), err.read_text()[-3000:]
        state = _finish(server, gateway, db, err)
        gateway = None
    finally:
        if gateway is not None:
            gateway.kill9()
        server.stop()

    agreement = compare(db, state)
    assert agreement.problems == [], agreement.problems
    assert agreement.executions >= 4, "the session should have traded across the kills"
    assert not db_rows(db, "SELECT exec_id FROM executions WHERE exec_id LIKE 'recon:%'")
    assert sum(left_for_restart) >= 1, (
        f"no kill landed with an order at TWS ({left_for_restart}): nothing was tested"
    )
    events = log_events(log)
    replayed = [
        e
        for e in events
        if "replayed" in str(e.get("msg", "")) and "reqExecutions" in str(e.get("msg", ""))
    ]
    assert replayed, "the restarts did not replay TWS's executions"
    assert _shutdown_agreed(log), "the final stop did not find positions equal to TWS's"
    print(
        f"\nIBKR kill -9: {KILLS} kills, executions left at TWS for the restart {left_for_restart},"
        f" {agreement.executions} executions == TWS's, positions {agreement.positions}"
    )


def test_a_dropped_tws_socket_mid_order_reconnects_and_loses_nothing(tmp_path: Path) -> None:
    server = standin(tmp_path, speed=600, days=2)  # one live session of ~40 s
    gateway: GatewayProc | None = None
    db = tmp_path / "gateway.db"
    log = tmp_path / "logs" / "ibkr.jsonl"
    drops = 0
    err = tmp_path / "gateway.err"
    try:
        config = write_config(tmp_path, server)
        gateway = GatewayProc(config)
        assert wait_for(lambda: ready_count(log) >= 1, 90, 0.1), err.read_text()[-3000:]

        def lost() -> int:
            return count_log(log, lambda e: e.get("event") == "tws_disconnected")

        def connects() -> int:
            return count_log(log, lambda e: str(e.get("msg", "")).startswith("connected to TWS"))

        def replays() -> int:
            return count_log(log, lambda e: "from reqExecutions" in str(e.get("msg", "")))

        for _ in range(4):
            if drops >= 2 and replays() >= 1:
                break
            if not wait_for_order_in_flight(server, db, 30):
                break  # the session ran out of orders: what was dropped is checked
            before_lost, before_connects = lost(), connects()
            # Cut the socket and keep TWS away for a second (ten market minutes):
            # the working order fills while the gateway cannot hear of it.
            answer = server.control({"fault": "drop_tws", "away_s": AWAY_S})
            assert answer["ok"] and answer["dropped"] >= 1, answer
            drops += 1
            assert wait_for(lambda b=before_lost: lost() > b, 30, 0.02), err.read_text()[-3000:]
            assert wait_for(lambda b=before_connects: connects() > b, 60, 0.05), err.read_text()[
                -3000:
            ]
            wait_for(lambda: not working_orders(server), 30, 0.05)
        state = _finish(server, gateway, db, err)
        gateway = None
    finally:
        if gateway is not None:
            gateway.kill9()
        server.stop()

    assert drops >= 1, "no order was in flight to drop the socket under"
    agreement = compare(db, state)
    assert agreement.problems == [], agreement.problems
    assert agreement.executions >= drops
    assert not db_rows(db, "SELECT exec_id FROM executions WHERE exec_id LIKE 'recon:%'")
    assert state["counters"].get("dropped_connections", 0) >= drops
    assert _shutdown_agreed(log), "the final stop did not find positions equal to TWS's"
    replayed = replays()
    assert replayed >= 1, "no execution happened while TWS was away: the replay was not tested"
    print(
        f"\nIBKR drop_tws: {drops} drops, reconnected each time ({replayed} replays of"
        " executions made while away),"
        f" {agreement.executions} executions == TWS's, positions {agreement.positions}"
    )
