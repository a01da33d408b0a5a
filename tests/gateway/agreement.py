"""Does the gateway's SQLite agree with the stand-in's own book? (shared by e2e tests)"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.gateway.harness import db_rows


@dataclass
class Agreement:
    prefix: str
    db_executions: int
    stream_executions: int
    reconciled_executions: int
    standin_fills: int
    orders_checked: int
    positions: dict[str, int]
    problems: list[str] = field(default_factory=list)


def compare(db: Path, state: dict[str, Any]) -> Agreement:
    prefix = db_rows(db, "SELECT value FROM meta WHERE key='id_prefix'")[0][0]
    rows = db_rows(
        db, "SELECT exec_id, client_order_id, symbol, side, quantity, price, source FROM executions"
    )
    problems: list[str] = []
    ours = [o for o in state["orders"] if o["client_order_id"].startswith(prefix)]
    foreign = [o for o in state["orders"] if not o["client_order_id"].startswith(prefix)]
    if foreign:
        problems.append(f"{len(foreign)} stand-in orders without our prefix")

    db_qty: dict[str, int] = defaultdict(int)
    for _exec_id, cid, _sym, _side, qty, _price, _src in rows:
        db_qty[prefix + cid] += qty
    broker_qty = {o["client_order_id"]: int(Decimal(o["filled_qty"])) for o in ours}
    for cid in sorted(set(db_qty) | {c for c, q in broker_qty.items() if q}):
        if db_qty.get(cid, 0) != broker_qty.get(cid, 0):
            problems.append(
                f"order {cid}: {db_qty.get(cid, 0)} booked, "
                f"{broker_qty.get(cid, 0)} filled at the broker"
            )

    standin_ids = {f["execution_id"]: f for f in state["fills"]}
    stream_rows = [r for r in rows if not r[0].startswith("recon:")]
    for exec_id, cid, sym, side, qty, price, _src in stream_rows:
        fill = standin_ids.get(exec_id)
        if fill is None:
            problems.append(f"execution {exec_id} is not the stand-in's")
            continue
        if (fill["client_order_id"], fill["symbol"], fill["side"], int(fill["qty"])) != (
            prefix + cid,
            sym,
            side,
            qty,
        ) or Decimal(fill["price"]) * 10**9 != price:
            problems.append(
                f"execution {exec_id} differs: {fill} vs {(cid, sym, side, qty, price)}"
            )

    net: dict[str, int] = defaultdict(int)
    for _e, _c, sym, side, qty, _p, _s in rows:
        net[sym] += qty if side == "buy" else -qty
    mine = {s: q for s, q in net.items() if q}
    theirs = {
        p["symbol"]: int(Decimal(p["qty"])) * (-1 if p.get("side") == "short" else 1)
        for p in state["positions"]
    }
    theirs = {s: q for s, q in theirs.items() if q}
    if mine != theirs:
        problems.append(f"positions differ: database {mine}, stand-in {theirs}")
    return Agreement(
        prefix=prefix,
        db_executions=len(rows),
        stream_executions=len(stream_rows),
        reconciled_executions=len(rows) - len(stream_rows),
        standin_fills=len(state["fills"]),
        orders_checked=len(ours),
        positions=mine,
        problems=problems,
    )
