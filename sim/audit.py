"""Audit a run from its output files alone (issue 12, "what it must show").

Nothing here looks inside the engine: the checks read ``bars.csv``,
``fills.csv``, ``orders.csv``, ``tca.csv``, ``summary.json`` and
``journal.jsonl`` the way a reviewer would, so they hold the simulator to
what it printed:

* per bar and symbol, our lit executions are at most a quarter of the bar's
  volume (a fill belongs to the latest bar that started before it);
* every order id in ``fills.csv`` appears in ``orders.csv``;
* every fill is inside an exchange session (XNYS by default);
* gross exposure per side after every fill that adds to its side, marked at
  the fill price (other symbols at the close of the bar the fill happened in,
  what the book knows when the fill is booked), is within 200% of equity;
  fills that reduce a side are reported apart (market moves alone can carry
  a book at its cap past it, and reducing is then what should happen);
* where a parent's first child left after its decision bar, ``delay_bps`` is
  non-zero unless the price did not move;
* the median of ``impact_realised_bps / impact_model_bps`` over filled parents.

``python -m sim.audit DIR`` prints the figures as JSON.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import statistics
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from core.execution.venues import default_venues
from sim.timefmt import parse_time

CAP = Decimal("0.25")
GROSS_LIMIT = Decimal(2)


@dataclass
class Audit:
    lit_pairs: int = 0  # (bar, symbol) pairs with a lit execution of ours
    lit_over_cap: list[tuple[str, str, int, int]] = field(default_factory=list)
    max_lit_share: float = 0.0
    fills: int = 0
    unknown_fill_orders: list[str] = field(default_factory=list)
    outside_session: list[str] = field(default_factory=list)
    max_gross: float = 0.0  # worst side exposure / equity after a fill
    max_gross_adding: float = 0.0  # the same, after fills that add to their side only
    gross_breaches: list[tuple[str, float]] = field(default_factory=list)
    gross_over_on_reducing: int = 0  # reducing fills while a side stood above the cap
    delayed_parents: int = 0
    delayed_zero_delay_bps: list[str] = field(default_factory=list)
    impact_ratio_median: float | None = None
    impact_ratio_parents: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "lit_bar_symbol_pairs": self.lit_pairs,
            "lit_over_cap": len(self.lit_over_cap),
            "lit_over_cap_examples": self.lit_over_cap[:5],
            "max_lit_share_of_bar": round(self.max_lit_share, 6),
            "fills": self.fills,
            "fill_ids_missing_from_orders": len(self.unknown_fill_orders),
            "fills_outside_session": len(self.outside_session),
            "outside_session_examples": self.outside_session[:5],
            "max_gross_per_side": round(self.max_gross, 6),
            "max_gross_after_adding_fills": round(self.max_gross_adding, 6),
            "gross_breaches": len(self.gross_breaches),
            "gross_breach_examples": self.gross_breaches[:5],
            "gross_over_cap_on_reducing_fills": self.gross_over_on_reducing,
            "parents_first_child_after_decision_bar": self.delayed_parents,
            "of_which_delay_bps_zero": len(self.delayed_zero_delay_bps),
            "impact_ratio_median": self.impact_ratio_median,
            "impact_ratio_parents": self.impact_ratio_parents,
        }

    @property
    def ok(self) -> bool:
        return not (
            self.lit_over_cap
            or self.unknown_fill_orders
            or self.outside_session
            or self.gross_breaches
        )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def audit(out_dir: Path, sessions: list[tuple[int, int]] | None = None) -> Audit:
    """All the checks over one run's output directory."""
    result = Audit()
    bars = _rows(out_dir / "bars.csv")
    fills = _rows(out_dir / "fills.csv")
    orders = _rows(out_dir / "orders.csv")
    tca = _rows(out_dir / "tca.csv")
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    result.fills = len(fills)
    lit = {v.name for v in default_venues() if v.kind == "lit"} | {"SIM-BROKER"}

    # bars by symbol: start times, volumes, closes
    starts: dict[str, list[int]] = {}
    volumes: dict[str, list[int]] = {}
    closes: dict[str, list[Decimal]] = {}
    for bar in bars:
        sym = bar["symbol"]
        starts.setdefault(sym, []).append(parse_time(bar["time"]))
        volumes.setdefault(sym, []).append(int(bar["volume"]))
        closes.setdefault(sym, []).append(Decimal(bar["close"]))
    min(
        (b - a for s in starts.values() for a, b in itertools.pairwise(s) if b > a),
        default=60 * 10**9,
    )

    # 1. lit participation per (bar, symbol)
    taken: dict[tuple[str, int], int] = {}
    for fill in fills:
        if fill["venue"] not in lit:
            continue
        sym, t = fill["symbol"], parse_time(fill["time"])
        i = bisect.bisect_left(starts.get(sym, []), t) - 1
        if i < 0:
            continue
        key = (sym, i)
        taken[key] = taken.get(key, 0) + int(Decimal(fill["qty"]))
    result.lit_pairs = len(taken)
    for (sym, i), qty in sorted(taken.items()):
        volume = volumes[sym][i]
        share = qty / volume if volume else float("inf")
        result.max_lit_share = max(result.max_lit_share, share)
        if Decimal(qty) > CAP * volume:
            when = bars_time(starts[sym][i])
            result.lit_over_cap.append((sym, when, qty, volume))

    # 2. every fill's order id in orders.csv
    known = {row["order_id"] for row in orders}
    result.unknown_fill_orders = [f["order_id"] for f in fills if f["order_id"] not in known]

    # 3. fills inside the session
    if sessions is None:
        from sim.calendar import exchange_sessions

        times = [parse_time(f["time"]) for f in fills] or [0]
        sessions = exchange_sessions("XNYS", min(times), max(times)) if fills else []
    opens = [o for o, _ in sessions]
    for fill in fills:
        t = parse_time(fill["time"])
        i = bisect.bisect_right(opens, t) - 1
        if i < 0 or not (sessions[i][0] <= t < sessions[i][1]):
            result.outside_session.append(fill["time"])

    # 4. gross exposure per side after every fill, at the fill price
    cash = Decimal(summary["initial_equity"])
    position: dict[str, Decimal] = {}
    for fill in fills:
        sym, t = fill["symbol"], parse_time(fill["time"])
        signed = Decimal(fill["qty"]) * (1 if fill["side"] == "BUY" else -1)
        price = Decimal(fill["price"])
        cash -= signed * price + Decimal(fill["fee"])
        position[sym] = position.get(sym, Decimal(0)) + signed
        long = short = Decimal(0)
        equity = cash
        for other, q in position.items():
            if not q:
                continue
            if other == sym:
                mark = price
            else:
                j = bisect.bisect_right(starts[other], t) - 1
                mark = closes[other][j] if j >= 0 else price
            value = q * mark
            equity += value
            if q > 0:
                long += value
            else:
                short -= value
        worst = float(max(long, short) / equity) if equity > 0 else float("inf")
        result.max_gross = max(result.max_gross, worst)
        side = long if signed > 0 else short
        before = position[sym] - signed
        adds = abs(position[sym]) > abs(before) and (position[sym] > 0) == (signed > 0)
        if adds and equity > 0:
            result.max_gross_adding = max(result.max_gross_adding, float(side / equity))
        if side > GROSS_LIMIT * equity:
            if adds:
                result.gross_breaches.append((fill["exec_id"], float(side / equity)))
            else:
                result.gross_over_on_reducing += 1

    # 5. delay where the first child left after the decision bar
    decided: dict[str, int] = {}
    first_child: dict[str, int] = {}
    journal = out_dir / "journal.jsonl"
    if journal.exists():
        with journal.open(encoding="utf-8") as stream:
            for line in stream:
                if '"dir":"out"' not in line:
                    continue
                if '"kind":"parent"' not in line and '"SubmitOrder"' not in line:
                    continue
                entry = json.loads(line)
                item = entry["item"]
                if item.get("type") == "SubmitOrder" and item.get("parent_id"):
                    first_child.setdefault(item["parent_id"], int(entry["at"]))
                elif item.get("kind") == "parent":
                    decided[item["payload"]["parent_id"]] = int(entry["at"])
    for row in tca:
        pid = row["parent_id"]
        if pid in decided and pid in first_child and first_child[pid] > decided[pid]:
            result.delayed_parents += 1
            moved = row["decision_price"] != row["arrival_price"]
            if moved and float(row["delay_bps"] or 0) == 0.0 and Decimal(row["filled_qty"]) > 0:
                result.delayed_zero_delay_bps.append(pid)

    # 6. realised / model impact
    ratios = []
    for row in tca:
        model = float(row["impact_model_bps"] or 0)
        if Decimal(row["filled_qty"] or 0) > 0 and model > 0 and row["impact_realised_bps"]:
            ratios.append(float(row["impact_realised_bps"]) / model)
    result.impact_ratio_parents = len(ratios)
    result.impact_ratio_median = round(statistics.median(ratios), 4) if ratios else None
    return result


def bars_time(time_ns: int) -> str:
    from sim.timefmt import format_time

    return format_time(time_ns)


def algo_table(out_dir: Path) -> dict[str, dict[str, float]]:
    """TCA by algorithm: parents, mean fill ratio and mean shortfall/delay/fees (bps)."""
    table: dict[str, dict[str, list[float]]] = {}
    for row in _rows(out_dir / "tca.csv"):
        cell = table.setdefault(row["algo"], {"fill": [], "is": [], "delay": [], "fee": []})
        cell["fill"].append(float(Decimal(row["filled_qty"]) / Decimal(row["qty"])))
        cell["is"].append(float(row["is_bps"] or 0))
        cell["delay"].append(float(row["delay_bps"] or 0))
        cell["fee"].append(float(row["fee_bps"] or 0))
    return {
        algo: {
            "parents": len(c["fill"]),
            "mean_fill_ratio": round(statistics.fmean(c["fill"]), 4),
            "mean_is_bps": round(statistics.fmean(c["is"]), 3),
            "mean_delay_bps": round(statistics.fmean(c["delay"]), 3),
            "mean_fee_bps": round(statistics.fmean(c["fee"]), 3),
        }
        for algo, c in sorted(table.items())
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m sim.audit OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[0])
    report = audit(out).as_dict()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    report["return"] = summary["return"]
    report["fills"] = summary["fills"]
    report["tca_by_algo"] = algo_table(out)
    print(json.dumps(report, indent=2))
    return 0 if audit(out).ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
