"""Shared pieces of the IBKR end-to-end tests: the real ``python -m gateway``
(``[broker] type = "tiered"``, Alpaca + IBKR, a $500K semi-institutional account,
so every order goes to TWS) against the real ``python -m standins``.

The checks compare the gateway's SQLite with the TWS stand-in's own book
(``/_control/state`` → ``tws``): execution by execution (exec id, order,
symbol, side, quantity, price, commission) and the net positions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.gateway.harness import StandIn, db_rows, wait_for, write_tiered_config

SEMI_BALANCE = 500_000  # between $100K and $1M: the semi-institutional tier, orders → IBKR
WORKING = ("PreSubmitted", "Submitted")
NANO = 10**9


def standin(workdir: Path, speed: int, days: int) -> StandIn:
    """One range-bound market: a history session, then ``days - 1`` live ones."""
    return StandIn(
        workdir,
        "--scenario", "range", "--speed", str(speed), "--history-days", "1",
        "--days", str(days), "--balance", "10000000", "--overnight", "1",
    )  # fmt: skip


def write_config(workdir: Path, server: StandIn) -> Path:
    return write_tiered_config(workdir, server, name="ibkr", balance=SEMI_BALANCE, ibkr=True)


def log_events(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by kill -9
    return out


def count_log(log: Path, predicate: Callable[[dict[str, Any]], bool]) -> int:
    return sum(1 for e in log_events(log) if predicate(e))


def ready_count(log: Path) -> int:
    return count_log(log, lambda e: e.get("event") == "ready")


def db_exec_ids(db: Path) -> set[str]:
    return {str(r[0]) for r in db_rows(db, "SELECT exec_id FROM executions")}


def tws(server: StandIn) -> dict[str, Any]:
    return server.state()["tws"]


def _trading(order: dict[str, Any]) -> bool:
    """An order that trades at the next bars: working and not a resting stop. The
    gateway keeps a protective stop at TWS across restarts (``resting_stops``);
    it may rest all session, so waiting for it to fill would burn the market."""
    return order["status"] in WORKING and order["order_type"] != "STP"


def working_orders(server: StandIn) -> list[dict[str, Any]]:
    return [o for o in tws(server)["orders"] if _trading(o)]


def wait_for_order_in_flight(server: StandIn, db: Path, timeout: float) -> bool:
    """Until an order sits at TWS unfilled (a resting stop does not count), or
    TWS executed something SQLite has not booked yet (polled as fast as the
    stand-in answers); False when the live market ended first or ``timeout``
    passed."""
    over = False

    def in_flight() -> bool:
        nonlocal over
        whole = server.state()
        state = whole["tws"]
        if any(_trading(o) for o in state["orders"]):
            return True
        if len(state["executions"]) > len(db_exec_ids(db)):
            return True
        over = int(whole["live_bars_left"]) == 0
        return over

    return wait_for(in_flight, timeout, 0.01) and not over


def market_over(server: StandIn) -> bool:
    return int(server.state()["live_bars_left"]) == 0


@dataclass
class Agreement:
    executions: int
    positions: dict[str, int]
    problems: list[str] = field(default_factory=list)


def compare(db: Path, state: dict[str, Any]) -> Agreement:
    """SQLite's executions and positions against the TWS book, field by field."""
    prefix = db_rows(db, "SELECT value FROM meta WHERE key='id_prefix'")[0][0]
    rows = db_rows(
        db, "SELECT exec_id, client_order_id, symbol, side, quantity, price, fee FROM executions"
    )
    problems: list[str] = []
    ids = [str(r[0]) for r in rows]
    if len(ids) != len(set(ids)):
        problems.append(f"executions booked twice: {sorted(i for i in ids if ids.count(i) > 1)}")
    book = {e["exec_id"]: e for e in state["executions"]}
    missing = sorted(set(book) - set(ids))
    invented = sorted(set(ids) - set(book))
    if missing:
        problems.append(f"TWS executions missing from SQLite: {missing}")
    if invented:
        problems.append(f"SQLite executions TWS never made: {invented}")
    for exec_id, cid, symbol, side, qty, price, fee in rows:
        e = book.get(str(exec_id))
        if e is None:
            continue
        want = (
            e["order_ref"],
            e["symbol"],
            "buy" if e["side"] == "BOT" else "sell",
            int(e["shares"]),
            int(Decimal(e["price"]) * NANO),
            int(Decimal(e["commission"]) * NANO),
        )
        got = (prefix + cid, symbol, side, qty, price, fee)
        if got != want:
            problems.append(f"execution {exec_id}: SQLite {got}, TWS {want}")
    net: dict[str, int] = {}
    for _e, _c, symbol, side, qty, _p, _f in rows:
        net[symbol] = net.get(symbol, 0) + (qty if side == "buy" else -qty)
    mine = {s: q for s, q in net.items() if q}
    if mine != state["positions"]:
        problems.append(f"positions differ: SQLite {mine}, TWS {state['positions']}")
    return Agreement(len(rows), mine, problems)
