"""``report.html``: a run as interactive charts and tables, built from its files alone.

The report is built *only* from the files a run writes into its output
directory (bars, signals, orders, fills, TCA, equity, benchmark, trades CSVs
and summary.json), so it can be regenerated for any past run and never
depends on the runner's in-memory state. It is one self-contained HTML file:
plotly.js's basic partial bundle is embedded (sim/vendor/plotly/, no CDN, works
offline), each chart is plotly JSON in the page, the trade list is a table
sortable by any column. It opens fast on big runs: the text paints before any
script, and charts are drawn lazily (those in view first, the rest when idle).

At the top it says what the market was: a seeded scenario is flagged as
synthetic (built with the patterns the strategy trades, so its return tests
the machinery, not an edge); a replay says which data, dates and adjustment.

Determinism: the same inputs give byte-identical HTML (chart ids are
numbered, JSON is written with fixed separators). Big runs stay light: each
plotted series is decimated to ≤ ~2000 points keeping every bucket's min and
max; the CSVs keep every row.
"""

from __future__ import annotations

import csv
import html
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from core.errors import BadInput
from sim import humanize

MAX_SYMBOLS = 8
MAX_POINTS = 2000
MAX_FILL_MARKERS = 150  # per side and chart; more are merged per display bucket
# Zones and stops drop the points that do not change their drawing (line_points). Off,
# and MAX_FILL_MARKERS unbounded, in benchmarks/bench_report_open.py's baseline page.
THIN_LINES = True
GRADE_ORDER: tuple[str, ...] = ("Excellent", "Good", "Acceptable", "Poor", "Very Poor")
ENTRY_SIGNALS = ("ENTER_LONG", "ENTER_SHORT")
EXIT_SIGNALS = ("EXIT_LONG", "EXIT_SHORT")
SUMMARY_KEYS: tuple[tuple[str, str], ...] = (
    ("pnl", "P&L"),
    ("return", "Return"),
    ("max_drawdown", "Max drawdown"),
    ("trades", "Trades"),
    ("hit_rate", "Hit rate"),
    ("bars", "Bars"),
    ("orders", "Orders"),
    ("fills", "Fills"),
    ("invariant_checks", "Invariant checks"),
    ("seed", "Seed"),
    ("scenario", "Scenario"),
)
DPI = 100
BAR_COLUMNS = ("time", "symbol", "close", "volume")
ZONE_COLUMNS = ("support_low", "support_high", "resistance_low", "resistance_high")
SIGNAL_COLUMNS = ("time", "symbol", "signal", "reason", "stop", *ZONE_COLUMNS)
MARGINS_IN = {"left": 0.8, "right": 0.2, "top": 0.35, "bottom": 0.8}  # inches
STYLE_OVERRIDES: Mapping[str, object] = {
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "sovereign",
}


# ----------------------------------------------------------------------------- reading


def _read_csv(path: Path, columns: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Rows of a run CSV; a missing or zero-byte file is a run with no rows of that kind.

    ``columns`` keeps only those cells (a missing column reads as empty): the
    bars and signals files of a long run have hundreds of thousands of rows
    and the report needs a few of their columns.
    """
    if not path.exists() or path.stat().st_size == 0:
        return []
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        header = next(reader, [])
        wanted = list(columns) if columns is not None else header
        where = {name: i for i, name in enumerate(header)}
        picks = [(name, where.get(name)) for name in wanted]
        rows = []
        for cells in reader:
            if not cells:
                continue
            width = len(cells)
            rows.append(
                {name: cells[i] if i is not None and i < width else "" for name, i in picks}
            )
        return rows


def _read_summary(path: Path) -> dict[str, object]:
    if not path.exists() or path.stat().st_size == 0:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInput(str(path), exc.doc[:80], f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise BadInput(str(path), type(data).__name__, "must be a JSON object")
    return data


def _number(text: str | None, field: str) -> float:
    """A float for plotting/statistics; an empty cell is absent (NaN)."""
    if text is None or text.strip() == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise BadInput(field, text, "not a number") from None


def _decimal(text: str | None, field: str) -> Decimal:
    if text is None or text.strip() == "":
        return Decimal(0)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise BadInput(field, text, "not a decimal") from None


def _times(texts: Sequence[str], field: str) -> np.ndarray:
    """ISO-8601 UTC strings → datetime64[ns]; 'Z' and '+00:00' suffixes accepted."""
    cleaned = []
    for text in texts:
        t = text.strip()
        if t.endswith("Z"):
            t = t[:-1]
        elif t.endswith("+00:00"):
            t = t[:-6]
        cleaned.append(t)
    try:
        return np.array(cleaned, dtype="datetime64[ns]")
    except ValueError:
        for original, t in zip(texts, cleaned, strict=True):
            try:
                np.datetime64(t, "ns")
            except ValueError:
                raise BadInput(field, original, "not an ISO-8601 UTC time") from None
        raise


@dataclass(frozen=True, slots=True)
class RunFiles:
    """Everything the report needs, as read from the run directory."""

    bars: list[dict[str, str]]
    signals: list[dict[str, str]]
    orders: list[dict[str, str]]
    fills: list[dict[str, str]]
    tca: list[dict[str, str]]
    equity: list[dict[str, str]]
    summary: dict[str, object]
    trades: list[dict[str, str]] = field(default_factory=list)
    benchmark: list[dict[str, str]] = field(default_factory=list)


def read_run(out_dir: Path) -> RunFiles:
    return RunFiles(
        bars=_read_csv(out_dir / "bars.csv", BAR_COLUMNS),
        signals=_read_csv(out_dir / "signals.csv", SIGNAL_COLUMNS),
        orders=_read_csv(out_dir / "orders.csv"),
        fills=_read_csv(out_dir / "fills.csv"),
        tca=_read_csv(out_dir / "tca.csv"),
        equity=_read_csv(out_dir / "equity.csv"),
        summary=_read_summary(out_dir / "summary.json"),
        trades=_read_csv(out_dir / "trades.csv"),
        benchmark=_read_csv(out_dir / "benchmark.csv", ("time", "equity")),
    )


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


# ----------------------------------------------------------------------------- charts
# Figures are plain plotly.js JSON (data + layout) written into the page; plotly.js
# itself is embedded once from the plotly package, so the page works offline and
# the same run files always give the same bytes. Series are decimated for display
# (each bucket's min and max survive), never the data: the CSVs keep every row.

COLORS = {"price": "#1f3b73", "support": "#2e9e5b", "resist": "#d0453c", "stop": "#8a5cc2"}
CONFIG = {"displaylogo": False, "responsive": True, "scrollZoom": True}


def _round(values: Iterable[float], places: int = 4) -> list[float | None]:
    return [None if np.isnan(v) else round(float(v), places) for v in values]


def _layout(title: str, height: int = 360, **extra: object) -> dict[str, object]:
    layout: dict[str, object] = {
        "title": {"text": title, "font": {"size": 14}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
        "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.15},
        "plot_bgcolor": "#fff",
        "paper_bgcolor": "#fff",
    }
    layout.update(extra)
    return layout


def _session_ticks(times: np.ndarray, index: np.ndarray) -> tuple[list[int], list[str]]:
    """Tick at the first bar of each session (≤ 12 labels), labelled with its date."""
    if len(times) == 0:
        return [], []
    days = times.astype("datetime64[D]")
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    step = max(1, len(starts) // 12)
    chosen = starts[::step]
    return [int(index[i]) for i in chosen], [str(days[i]) for i in chosen]


def _band(
    x: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[list[float | None], list[float | None]]:
    """A zone as closed polygons, one per stretch where it exists (None separates them),
    so a zone that comes and goes is never bridged across its absence."""
    present = ~(np.isnan(low) | np.isnan(high))
    xs: list[float | None] = []
    ys: list[float | None] = []
    edges = np.flatnonzero(np.diff(np.r_[0, present.astype(np.int8), 0]))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        seg = slice(int(start), int(stop))
        xs += [*x[seg].tolist(), *x[seg][::-1].tolist(), None]
        ys += [*_round(high[seg]), *_round(low[seg][::-1]), None]
    return xs, ys


def line_points(xs: Sequence[float | None], ys: Sequence[float | None]) -> list[int]:
    """Indices of a polyline's points that change how it is drawn, in order.

    A point on a horizontal stretch (same y as both neighbours, x strictly between
    theirs) lies on the segment joining them, and a run of gaps (None) splits the line
    as one gap does; dropping those draws the same lines and polygons. S/R zone edges
    and the resting stop hold still for long stretches (up to half a big run's zone
    points; the stop is mostly a gap), so this is exact and cheaper to plot.
    """
    n = len(ys)
    keep: list[int] = []
    for i, y in enumerate(ys):
        if y is None:
            if not keep or ys[keep[-1]] is not None:
                keep.append(i)
            continue
        if 0 < i < n - 1 and ys[i - 1] == y == ys[i + 1]:
            xa, xi, xb = xs[i - 1], xs[i], xs[i + 1]
            between = xa is not None and xi is not None and xb is not None
            if between and (xa < xi < xb or xa > xi > xb):  # type: ignore[operator]
                continue
        keep.append(i)
    return keep


def _thin(trace: dict[str, object]) -> dict[str, object]:
    """The trace with only its ``line_points`` (x and y kept aligned), if ``THIN_LINES``."""
    if not THIN_LINES:
        return trace
    xs, ys = trace["x"], trace["y"]
    assert isinstance(xs, list) and isinstance(ys, list)
    keep = line_points(xs, ys)
    return {**trace, "x": [xs[i] for i in keep], "y": [ys[i] for i in keep]}


@dataclass(frozen=True, slots=True)
class FillMarker:
    """One ▲/▼ on a price chart: a fill, or the fills of one side in one display bucket."""

    x: int
    price: float
    text: str


def fill_markers(
    fills: Sequence[tuple[int, Mapping[str, str]]],
    side: str,
    n_bars: int,
    cap: int | None = None,
) -> list[FillMarker]:
    """The markers for one side's fills, given as (bar index, fills.csv row) in time order.

    Up to ``cap`` (default ``MAX_FILL_MARKERS``) fills each get a marker. Beyond that (a
    big run's execution algorithms fill child orders minute after minute; ~900 markers a
    chart made plotting it twice as slow), the fills falling in one display bucket (the
    ``MAX_POINTS // 2`` buckets the close line is decimated into) become one marker at
    the bucket's first fill, at their quantity-weighted price, saying how many fills, how
    much and when — for display only: fills.csv and the trade list keep every fill.
    """
    if len(fills) <= (MAX_FILL_MARKERS if cap is None else cap):
        return [
            FillMarker(
                i,
                _number(r.get("price"), "fills.price"),
                f"{r['time'][:19]} {side} {r.get('qty')} @ {r.get('price')} {r.get('venue', '')}",
            )
            for i, r in fills
        ]
    width = max(1, -(-n_bars // max(1, MAX_POINTS // 2)))
    out = []
    for _, group in itertools.groupby(fills, key=lambda f: f[0] // width):
        rows = list(group)
        qty = [abs(_number(r.get("qty"), "fills.qty")) for _, r in rows]
        price = [_number(r.get("price"), "fills.price") for _, r in rows]
        total = sum(qty)
        mean = sum(q * p for q, p in zip(qty, price, strict=True)) / total if total else price[0]
        venues = "/".join(sorted({r.get("venue", "") for _, r in rows} - {""}))
        first, last = rows[0][1]["time"][:19], rows[-1][1]["time"][:19]
        when = (
            first
            if first == last
            else f"{first} to {last[11:] if last[:10] == first[:10] else last}"
        )
        out.append(
            FillMarker(
                rows[0][0],
                round(mean, 4),
                f"{when} {side} {len(rows)} fills, {_fmt_qty(total)} @ {mean:.4f} avg {venues}",
            )
        )
    return out


def _price_figure(
    symbol: str,
    bars: Sequence[Mapping[str, str]],
    signals: Sequence[Mapping[str, str]],
    fills: Sequence[Mapping[str, str]],
) -> dict[str, object]:
    """Close, S/R zones as they evolved, entries/exits, resting stops and fills, by bar index
    (nights and weekends take no room); hover shows each point's time."""
    times = _times([r["time"] for r in bars], "bars.time")
    close = np.array([_number(r.get("close"), "bars.close") for r in bars])
    keep = downsample_indices(close)
    stamp = [str(t)[:16] for t in times[keep]]
    data: list[dict[str, object]] = []
    by_time = {r["time"]: r for r in signals}
    zone = {c: np.full(len(bars), np.nan) for c in (*ZONE_COLUMNS, "stop")}
    resting = float("nan")  # the stop of the position the agent opened, until it exits
    for i, row in enumerate(bars):
        sig = by_time.get(row["time"])
        if sig is None:
            zone["stop"][i] = resting
            continue
        for column in ZONE_COLUMNS:
            zone[column][i] = _number(sig.get(column), f"signals.{column}")
        kind = sig.get("signal")
        if kind in ENTRY_SIGNALS:
            resting = _number(sig.get("stop"), "signals.stop")
        zone["stop"][i] = resting
        if kind in EXIT_SIGNALS:
            resting = float("nan")
    x = keep.tolist()
    for low, high, color, name in (
        ("support_low", "support_high", COLORS["support"], "support zone"),
        ("resistance_low", "resistance_high", COLORS["resist"], "resistance zone"),
    ):
        px, py = _band(keep, zone[low][keep], zone[high][keep])
        data.append(
            _thin({
                "type": "scatter", "x": px, "y": py, "mode": "lines", "fill": "toself",
                "fillcolor": color + "40", "line": {"width": 0, "color": color},
                "name": name, "hoverinfo": "skip",
            })
        )  # fmt: skip
    data.append(
        {
            "type": "scatter", "x": x, "y": _round(close[keep]), "mode": "lines",
            "name": "close", "line": {"color": COLORS["price"], "width": 1.3},
            "text": stamp, "hovertemplate": "%{text}<br>close %{y}<extra></extra>",
        }
    )  # fmt: skip
    data.append(
        _thin({
            "type": "scatter", "x": x, "y": _round(zone["stop"][keep]), "mode": "lines",
            "name": "resting stop", "line": {"color": COLORS["stop"], "width": 1, "dash": "dot"},
            "connectgaps": False, "hovertemplate": "stop %{y}<extra></extra>",
        })
    )  # fmt: skip
    index_of = {r["time"]: i for i, r in enumerate(bars)}
    for kinds, symbol_name, color, name in (
        (ENTRY_SIGNALS, "circle-open", "#111", "entry signal"),
        (EXIT_SIGNALS, "x-thin-open", "#111", "exit signal"),
    ):
        points = [(index_of[r["time"]], r) for r in signals if r.get("signal") in kinds]
        points = [(i, r) for i, r in points if i is not None]
        data.append(
            {
                "type": "scatter", "mode": "markers", "name": name,
                "x": [i for i, _ in points], "y": _round(close[i] for i, _ in points),
                "text": [f"{r['time'][:16]} {r['signal']} {r.get('reason', '')}"
                         for _, r in points],
                "hovertemplate": "%{text}<extra></extra>",
                "marker": {"symbol": symbol_name, "size": 10, "color": color,
                           "line": {"width": 1.5}},
            }
        )  # fmt: skip
    fill_times = _times([r["time"] for r in fills], "fills.time") if fills else np.array([])
    where = np.clip(np.searchsorted(times, fill_times, side="right") - 1, 0, max(len(bars) - 1, 0))
    for side, marker, color in (
        ("BUY", "triangle-up", "#1a7f37"),
        ("SELL", "triangle-down", "#c62828"),
    ):
        mine = [(int(where[i]), r) for i, r in enumerate(fills) if r.get("side") == side]
        shown = fill_markers(mine, side, len(bars))
        data.append(
            {
                "type": "scatter", "mode": "markers", "name": f"{side.lower()} fills",
                "x": [m.x for m in shown], "y": [m.price for m in shown],
                "text": [m.text for m in shown], "hovertemplate": "%{text}<extra></extra>",
                "marker": {"symbol": marker, "size": 9, "color": color},
            }
        )  # fmt: skip
    tickvals, ticktext = _session_ticks(times, np.arange(len(times)))
    return {
        "data": data,
        "layout": _layout(
            f"{symbol}: close, support/resistance, signals, stops and fills",
            420,
            xaxis={"tickvals": tickvals, "ticktext": ticktext, "title": {"text": "bars"}},
            yaxis={"title": {"text": "price"}},
        ),
    }


def _equity_figure(
    equity: Sequence[Mapping[str, str]], benchmark: Sequence[Mapping[str, str]]
) -> dict[str, object]:
    """Equity vs buy-and-hold over time, and the drawdown below its running peak."""
    times = _times([r["time"] for r in equity], "equity.time")
    values = np.array([_number(r.get("equity"), "equity.equity") for r in equity])
    peaks = np.fmax.accumulate(values)
    drawdown = (values - peaks) / peaks * 100
    keep = np.union1d(downsample_indices(values), downsample_indices(drawdown))
    x = keep.tolist()
    stamp = [str(t)[:16] for t in times[keep]]
    data: list[dict[str, object]] = [
        {
            "type": "scatter", "x": x, "y": _round(values[keep], 2), "name": "strategy",
            "line": {"color": COLORS["price"], "width": 1.5}, "xaxis": "x", "yaxis": "y",
            "text": stamp, "hovertemplate": "%{text}<br>$%{y:,.2f}<extra>strategy</extra>",
        }
    ]  # fmt: skip
    if len(benchmark) == len(equity):
        bench = np.array([_number(r.get("equity"), "benchmark.equity") for r in benchmark])
        data.append(
            {
                "type": "scatter", "x": x, "y": _round(bench[keep], 2),
                "name": "buy & hold (equal weight)", "xaxis": "x", "yaxis": "y", "text": stamp,
                "hovertemplate": "%{text}<br>$%{y:,.2f}<extra>buy & hold</extra>",
                "line": {"color": "#e08a00", "width": 1.2, "dash": "dash"},
            }
        )  # fmt: skip
    data.append(
        {
            "type": "scatter", "x": x, "y": _round(drawdown[keep], 3), "name": "drawdown %",
            "fill": "tozeroy", "line": {"color": COLORS["resist"], "width": 1},
            "xaxis": "x", "yaxis": "y2", "text": stamp,
            "hovertemplate": "%{text}<br>%{y:.2f}%<extra>drawdown</extra>",
        }
    )  # fmt: skip
    tickvals, ticktext = _session_ticks(times, np.arange(len(times)))
    return {
        "data": data,
        "layout": _layout(
            "Equity vs buy-and-hold, and drawdown",
            520,
            xaxis={"anchor": "y2", "tickvals": tickvals, "ticktext": ticktext},
            yaxis={"domain": [0.32, 1], "title": {"text": "equity ($)"}, "tickformat": ",.0f"},
            yaxis2={"domain": [0, 0.25], "title": {"text": "drawdown %"}},
        ),
    }


def _pnl_figure(trades: Sequence[Mapping[str, str]]) -> dict[str, object]:
    pnl: defaultdict[str, float] = defaultdict(float)
    for row in trades:
        pnl[row["symbol"]] += _number(row.get("pnl"), "trades.pnl")
    symbols = sorted(pnl, key=lambda s: -pnl[s])
    return {
        "data": [
            {
                "type": "bar", "x": symbols, "y": [round(pnl[s], 2) for s in symbols],
                "marker": {"color": ["#1a7f37" if pnl[s] >= 0 else "#c62828" for s in symbols]},
                "hovertemplate": "%{x}: $%{y:,.2f}<extra></extra>", "name": "P&L",
            }
        ],
        "layout": _layout("P&L by symbol (trades, after fees)", 320, yaxis={"tickformat": "$,.0f"}),
    }  # fmt: skip


def _tca_figure(groups: Sequence[TcaGroup], title: str) -> dict[str, object]:
    names = [g.name for g in groups]
    data = [
        {
            "type": "bar",
            "name": label,
            "x": names,
            "y": _round([getattr(g, key) for g in groups], 2),
        }
        for key, label in (("arrival_bps", "arrival"), ("vwap_bps", "VWAP"), ("is_bps", "IS"))
    ]
    return {
        "data": data,
        "layout": _layout(title + " (bps, positive = cost)", 300, barmode="group"),
    }


def _script_json(value: object) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' survives as such."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Charts:
    """Numbers each chart and keeps its figure for the page's one plotting script."""

    def __init__(self) -> None:
        self.figures: list[tuple[str, dict[str, object]]] = []

    def add(self, kind: str, figure: dict[str, object], label: str = "") -> str:
        """The chart's div, sized to its figure so the page does not move when it is drawn."""
        ident = f"chart-{len(self.figures) + 1}"
        self.figures.append((ident, figure))
        name = _e(label or kind)
        layout = figure.get("layout")
        height = layout.get("height") if isinstance(layout, Mapping) else None
        size = f' style="height:{int(height)}px"' if isinstance(height, int) else ""
        return (
            f'<div class="chart" id="{ident}" data-kind="{_e(kind)}" '
            f'aria-label="{name}"{size}></div>'
        )

    def script(self, lazy: bool = True) -> str:
        """The figures as one JSON block and the script that draws them.

        ``lazy`` (the report's way): charts in or near the viewport are drawn first,
        the rest one by one when the browser is idle, and any chart scrolled to before
        its turn at once. Otherwise every chart is drawn before the page first paints
        (the report before issue 14's item 6; the benchmark's baseline).
        """
        if not self.figures:
            return ""
        payload = _script_json(
            [{"id": i, "data": f["data"], "layout": f["layout"]} for i, f in self.figures]
        )
        figures = f'<script type="application/json" id="figures">{payload}</script>\n'
        config = _script_json(CONFIG)
        if not lazy:
            return (
                figures + "<script>(function(){var cfg=" + config + ";"
                "JSON.parse(document.getElementById('figures').textContent).forEach(function(f){"
                "Plotly.newPlot(f.id,f.data,f.layout,cfg);});})();</script>"
            )
        return figures + "<script>" + LAZY_SCRIPT.replace("CONFIG", config) + "</script>"


# Draws the figures of #figures into their .chart divs: first those the reader can see
# (IntersectionObserver, with a margin so the next one is ready when scrolled to), then
# the rest in page order, one per idle period or at the latest 100 ms after the one before
# (so scrolling and clicks stay responsive between two charts), and all of
# them before printing. Without IntersectionObserver, all at once.
LAZY_SCRIPT = """(function(){
var cfg=CONFIG,pending={},charts=[];
JSON.parse(document.getElementById('figures').textContent).forEach(function(f){
pending[f.id]=f;var el=document.getElementById(f.id);if(el){charts.push(el);}});
function draw(el){var f=pending[el.id];if(!f){return;}delete pending[el.id];
Plotly.newPlot(el,f.data,f.layout,cfg);}
function drawAll(){charts.forEach(draw);}
window.addEventListener('beforeprint',drawAll);
if(!('IntersectionObserver' in window)){drawAll();return;}
var idle=window.requestIdleCallback||function(fn){return setTimeout(fn,50);},started=false;
function next(){for(var i=0;i<charts.length;i++){if(pending[charts[i].id]){
io.unobserve(charts[i]);idle(next,{timeout:100});draw(charts[i]);return;}}}
var io=new IntersectionObserver(function(entries){entries.forEach(function(e){
if(e.isIntersecting){io.unobserve(e.target);draw(e.target);}});
if(!started){started=true;idle(next,{timeout:100});}},{rootMargin:'200px 0px'});
charts.forEach(function(el){io.observe(el);});
})();"""


# ----------------------------------------------------------------------------- page
CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1240px;color:#1d2330;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;
padding-bottom:4px} .sub{color:#667;font-size:12px;margin-bottom:14px}
.cards{display:flex;flex-wrap:wrap;gap:8px}
.card{background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:8px 12px;min-width:110px}
.card .k{font-size:11px;color:#667;text-transform:uppercase}
.card .v{font-size:17px;font-weight:600;font-variant-numeric:tabular-nums}
.chart{background:#fff;border:1px solid #e1e4ea;border-radius:4px;margin:6px 0;min-height:200px}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:6px 0}
th,td{border:1px solid #e1e4ea;padding:4px 9px;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f0f2f6} td:first-child,th:first-child{text-align:left}
table.sortable th{cursor:pointer} table.sortable th:hover{background:#e3e7ef}
.note{background:#fff8e1;border:1px solid #f0d98c;border-radius:4px;padding:8px 12px;margin:8px 0}
.warn{background:#fdecea;border:2px solid #d0453c;border-radius:4px;padding:10px 14px;
margin:0 0 14px;font-weight:600}
.data{background:#e8f1fb;border:1px solid #8fb3de;border-radius:4px;padding:10px 14px;
margin:0 0 14px}
code{font-size:12px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_bps(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.2f}"


def _fmt_qty(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4f}"


def _show(value: object) -> str:
    """Summary values as a person reads them: mappings as 'key value' lists, None as a dash."""
    if value is None:
        return "—"
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_show(v)}" for k, v in sorted(value.items())) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(_show(v) for v in value) or "none"
    return str(value)


def _card(label: object, value: object) -> str:
    shown = _e(_show(value))
    return f'<div class="card"><div class="k">{_e(label)}</div><div class="v">{shown}</div></div>'


def _tca_table(groups: Sequence[TcaGroup], first: str) -> str:
    head = (
        f"<tr><th>{_e(first)}</th><th>parents</th><th>fills</th><th>filled qty</th>"
        "<th>arrival bps</th><th>VWAP bps</th><th>IS bps</th><th>fees</th>"
        + "".join(f"<th>{_e(g)}</th>" for g in GRADE_ORDER)
        + "</tr>"
    )
    rows = []
    for g in groups:
        rows.append(
            f"<tr><td>{_e(g.name)}</td><td>{g.parents}</td><td>{g.fills}</td>"
            f"<td>{_e(_fmt_qty(g.filled_qty))}</td><td>{_fmt_bps(g.arrival_bps)}</td>"
            f"<td>{_fmt_bps(g.vwap_bps)}</td><td>{_fmt_bps(g.is_bps)}</td>"
            f"<td>{_e(humanize.fee(g.fees))}</td>"
            + "".join(f"<td>{g.grades.get(grade, 0)}</td>" for grade in GRADE_ORDER)
            + "</tr>"
        )
    return "<table>" + head + "".join(rows) + "</table>"


HEADLINE: tuple[tuple[str, str], ...] = (
    ("return", "Return"),
    ("pnl", "P&L"),
    ("final_equity", "Final equity"),
    ("benchmark_return", "Buy & hold"),
    ("cagr", "CAGR"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("max_drawdown", "Max drawdown"),
    ("trades", "Round trips"),
    ("hit_rate", "Hit rate"),
    ("alerts", "Alerts"),
)
ANALYTICS_ROWS: tuple[tuple[str, str], ...] = (
    ("cagr", "CAGR"),
    ("annual_volatility", "Volatility (annualised)"),
    ("sharpe", "Sharpe"),
    ("sortino", "Sortino"),
    ("calmar", "Calmar"),
    ("risk_free_rate", "Risk-free rate used"),
    ("max_drawdown", "Max drawdown (intraday)"),
    ("max_drawdown_daily", "Max drawdown (daily closes)"),
    ("drawdown_dates", "Peak → trough → recovery"),
    ("gross_exposure", "Gross exposure"),
    ("net_exposure", "Net exposure"),
    ("turnover", "Turnover"),
    ("fees", "Fees and rebates paid"),
    ("slippage_vs_arrival", "Slippage vs arrival"),
    ("costs_total", "Costs in total"),
    ("benchmark_return", "Buy & hold return"),
    ("benchmark_final_equity", "Buy & hold final equity"),
    ("benchmark_max_drawdown", "Buy & hold max drawdown (daily)"),
    ("benchmark_costs", "Buy & hold costs"),
    ("excess_return", "Excess over buy & hold"),
    ("alpha", "Alpha (annualised)"),
    ("beta", "Beta"),
)
TRADE_HEAD = (
    ("symbol", "symbol", "text"),
    ("side", "side", "text"),
    ("entry_time", "entry", "text"),
    ("entry_price", "entry price", "num"),
    ("exit_time", "exit", "text"),
    ("exit_price", "exit price", "num"),
    ("qty", "qty", "num"),
    ("pnl", "P&L", "num"),
    ("return", "return", "num"),
    ("holding_minutes", "held", "num"),
    ("mae", "MAE", "num"),
    ("mfe", "MFE", "num"),
    ("exit_reason", "exit reason", "text"),
)
SORT_SCRIPT = """<script>(function(){
document.querySelectorAll('table.sortable').forEach(function(t){
t.querySelectorAll('th').forEach(function(th,col){th.addEventListener('click',function(){
var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows),num=th.dataset.type==='num';
var dir=th.dataset.dir==='asc'?-1:1;th.dataset.dir=dir===1?'asc':'desc';
rows.sort(function(a,b){var x=a.cells[col].dataset.v,y=b.cells[col].dataset.v;
if(num){return dir*(parseFloat(x)-parseFloat(y));}return dir*(x<y?-1:x>y?1:0);});
rows.forEach(function(r){body.appendChild(r);});});});});})();</script>"""


def _display(summary: Mapping[str, object]) -> Mapping[str, object]:
    shown = summary.get("display")
    return shown if isinstance(shown, Mapping) else {}


def _summary_html(summary: Mapping[str, object]) -> str:
    shown = _display(summary)
    cards = []
    for key, label in HEADLINE:
        if key in shown:
            cards.append(_card(label, shown[key]))
        elif key in summary:
            cards.append(_card(label, summary[key]))
    for key, label in SUMMARY_KEYS:
        if key not in {k for k, _ in HEADLINE} and key in summary:
            cards.append(_card(label, shown.get(key, summary[key])))
    known = {k for k, _ in SUMMARY_KEYS} | {k for k, _ in HEADLINE}
    known |= {"positions", "run_hash", "analytics", "display", "data"}
    cards.extend(
        _card(key.replace("_", " "), shown.get(key, _plain(summary[key])))
        for key in sorted(k for k in summary if k not in known)
    )
    positions = summary.get("positions")
    held = []
    if isinstance(positions, Mapping):
        held = [
            f"{sym} {_plain(qty)}"
            for sym, qty in sorted(positions.items())
            if str(qty) not in ("0", "")
        ]
    cards.append(_card("Positions", ", ".join(held) if held else "flat"))
    return '<div class="cards">' + "".join(cards) + "</div>"


def _plain(value: object) -> object:
    """Whole numbers with thousands separators; everything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return value


def _banner(summary: Mapping[str, object]) -> str:
    data = summary.get("data")
    if not data:
        return ""
    text = str(data)
    kind = "warn" if text.startswith("SYNTHETIC") else "data"
    return f'<div class="{kind}" id="provenance">{_e(text)}</div>'


def _analytics_table(summary: Mapping[str, object]) -> str:
    shown = _display(summary)
    rows = [
        f"<tr><td>{_e(label)}</td><td>{_e(shown[key])}</td></tr>"
        for key, label in ANALYTICS_ROWS
        if key in shown
    ]
    if not rows:
        return ""
    return '<table class="analytics"><tbody>' + "".join(rows) + "</tbody></table>"


def _trade_cell(column: str, kind: str, value: str) -> str:
    if column == "pnl":
        text = humanize.money(value)
    elif column in ("return", "mae", "mfe"):
        text = humanize.percent(value) if value else ""
    elif column == "holding_minutes":
        text = humanize.duration(int(value) * 60 * 10**9) if value else ""
    elif column in ("entry_price", "exit_price"):
        text = humanize.money(value)
    elif column == "qty":
        text = humanize.count(value) if value else ""
    elif column.endswith("_time"):
        text = value.replace("T", " ").rstrip("Z")[:16]
    else:
        text = value
    sort = value if kind == "num" and value else ("0" if kind == "num" else value)
    return f'<td data-v="{_e(sort)}">{_e(text)}</td>'


def _trade_table(trades: Sequence[Mapping[str, str]]) -> str:
    head = "".join(f'<th data-type="{k}">{_e(label)}</th>' for _, label, k in TRADE_HEAD)
    body = "".join(
        "<tr>" + "".join(_trade_cell(c, k, row.get(c, "")) for c, _, k in TRADE_HEAD) + "</tr>"
        for row in trades
    )
    return (
        '<table class="sortable" id="trades"><thead><tr>'
        + head
        + "</tr></thead><tbody>"
        + body
        + "</tbody></table>"
    )


BUNDLES = ("basic", "full")
BASIC_BUNDLE = Path(__file__).parent / "vendor" / "plotly" / "plotly-basic.min.js"


def _plotly_js(bundle: str = "basic") -> str:
    """plotly.js to embed: the vendored basic partial bundle (scatter, bar, pie; 1.2 MB,
    see sim/vendor/plotly/README.md) or the full one from the plotly package (4.8 MB)."""
    if bundle == "basic":
        path = BASIC_BUNDLE
    elif bundle == "full":
        import plotly

        path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    else:
        raise BadInput("bundle", bundle, f"must be one of {', '.join(BUNDLES)}")
    return path.read_text(encoding="utf-8").replace("</script", "<\\/script")


def render_html(run: RunFiles, *, bundle: str = "basic", lazy: bool = True) -> str:
    """The whole page as a string (pure: same RunFiles → same string).

    ``bundle="full"`` with ``lazy=False`` is the page as it was before the report was
    made to open fast (the full plotly.js, every chart drawn before the first paint);
    ``benchmarks/bench_report_open.py`` measures the two side by side.
    """
    if bundle not in BUNDLES:
        raise BadInput("bundle", bundle, f"must be one of {', '.join(BUNDLES)}")
    summary = run.summary
    scenario = summary.get("scenario", "")
    charts = _Charts()
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Sovereign run {_e(scenario)}</title><style>{CSS}</style>",
        f"<script>{_plotly_js(bundle)}</script></head><body>" if not lazy else "</head><body>",
        _banner(summary),
        f"<h1>Sovereign simulator run{': ' + _e(scenario) if scenario else ''}</h1>",
        f'<div class="sub">run hash <code>{_e(summary.get("run_hash", "unknown"))}</code></div>',
        _summary_html(summary),
    ]
    if not run.fills:
        parts.append('<div class="note">No trades: this run made no fills.</div>')
    table = _analytics_table(summary)
    if table:
        parts += ["<h2>Performance against buy-and-hold</h2>", table]
    parts.extend(_equity_section(run, charts))
    parts.extend(_price_section(run, charts))
    parts.extend(_tca_section(run, charts))
    parts.extend(_trades_section(run, charts))
    if lazy:
        # Text first: the banner, cards and tables paint before plotly.js is compiled,
        # then the charts are drawn (those in view first). A run with nothing to plot
        # carries no plotly.js.
        plotly_js = f"<script>{_plotly_js(bundle)}</script>" if charts.figures else ""
        parts += [SORT_SCRIPT, plotly_js, charts.script(lazy)]
    else:
        parts += [charts.script(lazy), SORT_SCRIPT]
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def _price_section(run: RunFiles, charts: _Charts) -> list[str]:
    out = ["<h2>Prices, support/resistance and trades</h2>"]
    if not run.bars:
        return [*out, '<div class="note">No bars in this run.</div>']
    ranked = rank_symbols(run.fills, run.bars)
    shown = ranked[:MAX_SYMBOLS]
    if len(ranked) > MAX_SYMBOLS:
        out.append(
            f'<div class="note">Showing the first {MAX_SYMBOLS} of {len(ranked)} symbols by '
            "traded volume (then bar volume).</div>"
        )
    bars: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    signals: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    fills: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    wanted = set(shown)
    for table, rows in ((bars, run.bars), (signals, run.signals), (fills, run.fills)):
        for row in rows:
            if row.get("symbol") in wanted:
                table[row["symbol"]].append(row)
    for symbol in shown:
        n_fills = len(fills[symbol])
        caption = (
            f"{symbol}: {len(bars[symbol]):,} bars, {n_fills:,} fills"
            if n_fills
            else f"{symbol}: no trades"
        )
        out.append(f'<div class="sub">{_e(caption)}</div>')
        if bars[symbol]:
            figure = _price_figure(symbol, bars[symbol], signals[symbol], fills[symbol])
            out.append(charts.add("price", figure, f"{symbol} price chart"))
    return out


def _equity_section(run: RunFiles, charts: _Charts) -> list[str]:
    out = ["<h2>Equity, buy-and-hold and drawdown</h2>"]
    if not run.equity:
        return [*out, '<div class="note">No equity rows in this run.</div>']
    return [*out, charts.add("equity", _equity_figure(run.equity, run.benchmark))]


def _tca_section(run: RunFiles, charts: _Charts) -> list[str]:
    out = ["<h2>Transaction cost analysis</h2>"]
    if not run.tca and not run.fills:
        return [*out, '<div class="note">No TCA rows: no trades.</div>']
    algos = tca_by_algo(run.tca, run.fills, run.orders)
    venues = tca_by_venue(run.tca, run.fills)
    out.append("<h3>By algorithm</h3>")
    if algos:
        out.append(
            '<div class="sub">Mean over parent orders of each parent\'s bps '
            "(positive = cost).</div>"
        )
        out.append(_tca_table(algos, "algorithm"))
        out.append(charts.add("tca-algo", _tca_figure(algos, "TCA by algorithm")))
    else:
        out.append('<div class="note">No TCA rows.</div>')
    out.append("<h3>By venue</h3>")
    if venues:
        out.append(
            '<div class="sub">Quantity-weighted cost of each venue\'s fills against the '
            "parent's arrival price, interval VWAP and decision price (+ fee), in bps; "
            "grades count parents that filled at the venue.</div>"
        )
        out.append(_tca_table(venues, "venue"))
        out.append(charts.add("tca-venue", _tca_figure(venues, "TCA by venue")))
    else:
        out.append('<div class="note">No fills by venue.</div>')
    return out


def _trades_section(run: RunFiles, charts: _Charts) -> list[str]:
    out = ["<h2>Trades</h2>"]
    if not run.trades:
        return [*out, '<div class="note">No round trips in this run.</div>']
    out.append(
        '<div class="sub">One row per round trip (flat → position → flat; an open position '
        "is marked at the last close). Click a column to sort. MAE/MFE: worst/best excursion "
        "from the entry price while held.</div>"
    )
    out.append(charts.add("pnl", _pnl_figure(run.trades)))
    out.extend(_stops_part(run, charts))
    out.append(_trade_table(run.trades))
    return out


def _stops_part(run: RunFiles, charts: _Charts) -> list[str]:
    """Loss per trade against its stop (``sim.stops_report``): the R multiples."""
    found = run.summary.get("analytics")
    stops = found.get("stops") if isinstance(found, Mapping) else None
    if not isinstance(stops, Mapping) or not stops.get("histogram"):
        return []
    bins = [(str(label), int(n)) for label, n in stops["histogram"]]
    worst = stops.get("worst_r")
    text = (
        f"{stops.get('resting_stop_orders', 0)} stop orders rested at the broker,"
        f" {stops.get('stop_orders_triggered', 0)} triggered; {stops.get('beyond_stop', 0)}"
        f" of {stops.get('trades_with_stop', 0)} trades lost more than their stop"
        f" (worst {_show(round(float(worst), 2)) if worst is not None else '-'}R)."
        " R = P&L / (|entry − stop| × quantity): −1R is exactly the planned risk; below it"
        " are costs and gaps through the stop."
    )
    figure: dict[str, object] = {
        "data": [
            {
                "type": "bar", "x": [b for b, _ in bins], "y": [n for _, n in bins],
                "marker": {"color": ["#c62828" if b.startswith(("<", "-")) else "#1a7f37"
                                     for b, _ in bins]},
                "hovertemplate": "%{x}: %{y} trades<extra></extra>", "name": "trades",
            }
        ],
        "layout": _layout("Loss per trade against its stop (R multiples)", 320),
    }  # fmt: skip
    return [
        "<h3>Loss per trade against its stop</h3>",
        f'<div class="sub">{_e(text)}</div>',
        charts.add("stops", figure),
    ]


def write_report(out_dir: Path) -> Path:
    """Read a run's files from ``out_dir`` and write ``out_dir/report.html``."""
    out_dir = Path(out_dir)
    page = render_html(read_run(out_dir))
    target = out_dir / "report.html"
    target.write_text(page, encoding="utf-8", newline="\n")
    return target
