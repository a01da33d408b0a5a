"""Pure arithmetic over a run's rows: display decimation, symbol ranking, TCA groups.

No HTML and no plotly here, so the numbers the report shows can be tested (and
property-tested) on their own; the charts and tables only lay them out.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from sim.report.files import _decimal, _number

MAX_POINTS = 2000
GRADE_ORDER: tuple[str, ...] = ("Excellent", "Good", "Acceptable", "Poor", "Very Poor")


# ----------------------------------------------------------------------------- pure helpers


def downsample_indices(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep each bucket's min and max.

    Plain striding would drop the spikes a reader most wants to see; keeping
    the extremes of every bucket draws the same envelope with far fewer points.
    """
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    filled = np.where(np.isnan(values), np.nanmean(values) if n else 0.0, values)
    keep: list[int] = []
    for lo, hi in itertools.pairwise(edges):
        if hi <= lo:
            continue
        chunk = filled[lo:hi]
        a = lo + int(np.argmin(chunk))
        b = lo + int(np.argmax(chunk))
        keep.extend(sorted({a, b}))
    keep[0:0] = [0]
    keep.append(n - 1)
    return np.unique(np.array(keep, dtype=np.int64))


def rank_symbols(
    fills: Iterable[Mapping[str, str]], bars: Iterable[Mapping[str, str]]
) -> list[str]:
    """Symbols by traded quantity, then bar volume, then name (a total, stable order)."""
    traded: defaultdict[str, float] = defaultdict(float)
    volume: defaultdict[str, float] = defaultdict(float)
    for row in fills:
        traded[row["symbol"]] += abs(_number(row.get("qty"), "fills.qty"))
    for row in bars:
        volume[row["symbol"]] += _number(row.get("volume"), "bars.volume")
    symbols = set(traded) | set(volume)
    return sorted(symbols, key=lambda s: (-traded[s], -volume[s], s))


def _mean(values: Iterable[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _side_sign(side: str) -> int:
    return 1 if side.strip().upper() == "BUY" else -1


@dataclass(frozen=True, slots=True)
class TcaGroup:
    """One row of a TCA table (an algorithm or a venue)."""

    name: str
    parents: int
    fills: int
    filled_qty: float
    arrival_bps: float
    vwap_bps: float
    is_bps: float
    fees: Decimal
    grades: Mapping[str, int]


def tca_by_algo(
    tca: Sequence[Mapping[str, str]],
    fills: Sequence[Mapping[str, str]],
    orders: Sequence[Mapping[str, str]],
) -> list[TcaGroup]:
    """Mean of each parent's arrival/VWAP/IS bps per algorithm (parents weigh equally)."""
    parent_algo = {r["order_id"]: r.get("algo", "") for r in orders if not r.get("parent_id")}
    for row in tca:
        parent_algo.setdefault(row["parent_id"], row.get("algo", ""))
    fill_count: Counter[str] = Counter()
    fees: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in fills:
        algo = parent_algo.get(row.get("parent_id", ""), "")
        fill_count[algo] += 1
        fees[algo] += _decimal(row.get("fee"), "fills.fee")
    by_algo: defaultdict[str, list[Mapping[str, str]]] = defaultdict(list)
    for row in tca:
        by_algo[row.get("algo") or parent_algo.get(row["parent_id"], "")].append(row)
    groups = []
    for algo in sorted(by_algo):
        rows = by_algo[algo]
        groups.append(
            TcaGroup(
                name=algo or "(none)",
                parents=len(rows),
                fills=fill_count[algo],
                filled_qty=sum(_number(r.get("filled_qty"), "tca.filled_qty") for r in rows),
                arrival_bps=_mean(_number(r.get("arrival_bps"), "tca.arrival_bps") for r in rows),
                vwap_bps=_mean(_number(r.get("vwap_bps"), "tca.vwap_bps") for r in rows),
                is_bps=_mean(_number(r.get("is_bps"), "tca.is_bps") for r in rows),
                fees=fees[algo],
                grades=Counter(r.get("grade", "") for r in rows),
            )
        )
    return groups


def tca_by_venue(
    tca: Sequence[Mapping[str, str]], fills: Sequence[Mapping[str, str]]
) -> list[TcaGroup]:
    """Per venue, quantity-weighted cost of its *fills* against the parent's benchmarks.

    A parent's bps belong to the parent, not to one venue, so each fill is
    measured on its own: s·(p − arrival)/arrival, s·(p − interval VWAP)/VWAP and
    s·(p − decision)/decision + fee, in bps, positive = cost (as in core.execution.tca).
    Grades count the parents that filled at least once at the venue.
    """
    parents = {row["parent_id"]: row for row in tca}
    acc: dict[str, dict[str, float]] = {}
    fees: defaultdict[str, Decimal] = defaultdict(Decimal)
    counts: Counter[str] = Counter()
    touched: defaultdict[str, set[str]] = defaultdict(set)
    for row in fills:
        venue = row.get("venue", "") or "(none)"
        counts[venue] += 1
        fee = _decimal(row.get("fee"), "fills.fee")
        fees[venue] += fee
        slot = acc.setdefault(
            venue,
            {"qty": 0.0, "arr": 0.0, "arr_q": 0.0, "vw": 0.0, "vw_q": 0.0, "is": 0.0, "is_q": 0.0},
        )
        qty = abs(_number(row.get("qty"), "fills.qty"))
        price = _number(row.get("price"), "fills.price")
        slot["qty"] += qty
        parent = parents.get(row.get("parent_id", ""))
        if parent is None or np.isnan(price) or qty == 0:
            continue
        touched[venue].add(parent["parent_id"])
        s = _side_sign(row.get("side", parent.get("side", "BUY")))
        for key, column in (
            ("arr", "arrival_price"),
            ("vw", "interval_vwap"),
            ("is", "decision_price"),
        ):
            bench = _number(parent.get(column), f"tca.{column}")
            if np.isnan(bench) or bench == 0:
                continue
            bps = s * (price - bench) / bench * 1e4
            if key == "is":
                bps += float(fee) / (qty * bench) * 1e4
            slot[key] += bps * qty
            slot[key + "_q"] += qty
    groups = []
    for venue in sorted(acc):
        slot = acc[venue]

        def weighted(key: str, slot: dict[str, float] = slot) -> float:
            q = slot[key + "_q"]
            return slot[key] / q if q else float("nan")

        grades = Counter(parents[p].get("grade", "") for p in sorted(touched[venue]))
        groups.append(
            TcaGroup(
                name=venue,
                parents=len(touched[venue]),
                fills=counts[venue],
                filled_qty=slot["qty"],
                arrival_bps=weighted("arr"),
                vwap_bps=weighted("vw"),
                is_bps=weighted("is"),
                fees=fees[venue],
                grades=grades,
            )
        )
    return groups
