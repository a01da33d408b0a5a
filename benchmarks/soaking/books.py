"""Did the gateway book every execution exactly once? Its SQLite ``executions``
against each stand-in broker's own record of fills, by execution id.

The brokers' records (``GET /_control/state``): the FIX prime broker's
``fix.executions``, TWS's ``tws.executions`` and Alpaca's ``fills``. An id a
broker printed that is not in the database is **lost**; an id the database
holds more than once, or an order booked for more shares than the broker
filled, is **duplicated**; an id in the database no broker printed is
**unknown**; an id in both with a different order, symbol, side, quantity or
price is **mismatched**. Rows reconciliation synthesised (``recon:`` ids, for
fills a broker cannot replay) are counted apart and checked by quantity per
order. Positions are compared per symbol, summed over the three brokers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from benchmarks.soaking.processes import Database

NANO = 10**9


@dataclass(frozen=True)
class BrokerFill:
    broker: str
    exec_id: str
    client_order_ids: frozenset[str]  # the ids its order had (a FIX chain of replaces)
    symbol: str
    side: str  # buy / sell
    qty: int
    price: int  # nano-units


@dataclass
class BookCheck:
    broker_fills: dict[str, int]  # per broker
    db_executions: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    synthesized: int = 0
    positions_db: dict[str, int] = field(default_factory=dict)
    positions_brokers: dict[str, int] = field(default_factory=dict)

    @property
    def positions_equal(self) -> bool:
        return self.positions_db == self.positions_brokers

    @property
    def exact(self) -> bool:
        return not (self.lost or self.duplicated or self.unknown or self.mismatched) and (
            self.positions_equal
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "broker_fills": self.broker_fills,
            "db_executions": self.db_executions,
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "unknown": len(self.unknown),
            "mismatched": len(self.mismatched),
            "synthesized_recon_rows": self.synthesized,
            "positions_equal": self.positions_equal,
            "positions_db": self.positions_db,
            "positions_brokers": self.positions_brokers,
            "examples": {
                "lost": self.lost[:20],
                "duplicated": self.duplicated[:20],
                "unknown": self.unknown[:20],
                "mismatched": self.mismatched[:20],
            },
        }


def _nano(text: object) -> int:
    return int(Decimal(str(text)) * NANO)


def broker_fills(state: dict[str, Any]) -> list[BrokerFill]:
    """Every execution the stand-in's brokers printed, in one shape."""
    out: list[BrokerFill] = []
    fix = state.get("fix") or {}
    chains = {o["order_id"]: frozenset(o["cl_ord_ids"]) for o in fix.get("orders", [])}
    for e in fix.get("executions", []):
        ids = chains.get(e["order_id"], frozenset({e["cl_ord_id"]}))
        out.append(
            BrokerFill(
                "fix",
                str(e["exec_id"]),
                ids,
                e["symbol"],
                e["side"],
                int(e["qty"]),
                _nano(e["price"]),
            )
        )
    for e in (state.get("tws") or {}).get("executions", []):
        side = "buy" if e["side"] == "BOT" else "sell"
        out.append(
            BrokerFill(
                "tws",
                str(e["exec_id"]),
                frozenset({e["order_ref"]}),
                e["symbol"],
                side,
                int(e["shares"]),
                _nano(e["price"]),
            )
        )
    for f in state.get("fills", []):
        out.append(
            BrokerFill(
                "alpaca",
                str(f["execution_id"]),
                frozenset({f["client_order_id"]}),
                f["symbol"],
                f["side"],
                int(Decimal(f["qty"])),
                _nano(f["price"]),
            )
        )
    return out


def broker_positions(state: dict[str, Any]) -> dict[str, int]:
    net: dict[str, int] = defaultdict(int)
    for symbol, qty in ((state.get("fix") or {}).get("positions") or {}).items():
        net[symbol] += int(qty)
    for symbol, qty in ((state.get("tws") or {}).get("positions") or {}).items():
        net[symbol] += int(qty)
    for p in state.get("positions", []):
        sign = -1 if p.get("side") == "short" else 1
        net[p["symbol"]] += sign * abs(int(Decimal(p["qty"])))
    return {s: q for s, q in sorted(net.items()) if q}


def compare(db: Database, state: dict[str, Any]) -> BookCheck:
    prefix_rows = db.rows("SELECT value FROM meta WHERE key='id_prefix'")
    prefix = str(prefix_rows[0][0]) if prefix_rows else ""
    rows = db.rows("SELECT exec_id, client_order_id, symbol, side, quantity, price FROM executions")
    fills = broker_fills(state)
    by_id = {f.exec_id: f for f in fills}
    per_broker = Counter(f.broker for f in fills)
    check = BookCheck(broker_fills=dict(sorted(per_broker.items())), db_executions=len(rows))

    counts = Counter(str(r[0]) for r in rows)
    check.duplicated += sorted(e for e, n in counts.items() if n > 1)
    booked_ids = set(counts)
    check.lost = sorted(set(by_id) - booked_ids)

    booked_qty: dict[str, int] = defaultdict(int)  # per broker client order id
    for exec_id, cid, symbol, side, qty, price in rows:
        exec_id = str(exec_id)
        booked_qty[prefix + str(cid)] += int(qty)
        if exec_id.startswith("recon:"):
            check.synthesized += 1
            continue
        fill = by_id.get(exec_id)
        if fill is None:
            check.unknown.append(exec_id)
            continue
        ours = (prefix + str(cid), symbol, side, int(qty), int(price))
        if ours[0] not in fill.client_order_ids or ours[1:] != (
            fill.symbol,
            fill.side,
            fill.qty,
            fill.price,
        ):
            check.mismatched.append(f"{exec_id}: database {ours}, {fill.broker} {fill}")

    # Quantity per broker order: catches a fill booked twice under two ids (a
    # stream id and a reconciliation id for the same shares), which ids alone
    # cannot. A FIX order replaced keeps one chain of client order ids.
    chain_of: dict[str, frozenset[str]] = {}
    broker_qty: dict[frozenset[str], int] = defaultdict(int)
    for f in fills:
        for cid in f.client_order_ids:
            chain_of[cid] = f.client_order_ids
        broker_qty[f.client_order_ids] += f.qty
    per_order: dict[frozenset[str], int] = defaultdict(int)
    for cid, qty in booked_qty.items():
        per_order[chain_of.get(cid, frozenset({cid}))] += qty
    for chain, qty in sorted(per_order.items(), key=lambda kv: sorted(kv[0])):
        if qty > broker_qty.get(chain, 0):
            name = ",".join(sorted(chain))
            filled = broker_qty.get(chain, 0)
            check.duplicated.append(f"order {name}: {qty} booked, {filled} filled")

    net: dict[str, int] = defaultdict(int)
    for _e, _c, symbol, side, qty, _p in rows:
        net[symbol] += int(qty) if side == "buy" else -int(qty)
    check.positions_db = {s: q for s, q in sorted(net.items()) if q}
    check.positions_brokers = broker_positions(state)
    return check
