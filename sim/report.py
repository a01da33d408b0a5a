"""``report.html``: a simulator run as pictures rather than tables of numbers.

The report is built *only* from the files a run writes into its output
directory (bars, signals, orders, fills, TCA, equity CSVs and summary.json), so
it can be regenerated for any past run and never depends on the runner's
in-memory state. It is one self-contained HTML file (inline CSS, PNGs as
base64) so it can be mailed or archived as-is.

Determinism: the same inputs give byte-identical HTML. Plots are drawn on
matplotlib ``Figure`` objects with the Agg canvas (no pyplot global state),
under the fixed "default" style, and the PNGs are written without the
``Software`` tag (Agg writes no timestamps), so nothing varies between runs.
Floats appear here only for drawing and statistics (bps); money sums (fees)
use ``Decimal`` and money values from summary.json are shown verbatim.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from core.errors import BadInput

MAX_SYMBOLS = 8
MAX_POINTS = 2000
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
SIGNAL_COLUMNS = ("time", "symbol", "signal", *ZONE_COLUMNS)
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


def read_run(out_dir: Path) -> RunFiles:
    return RunFiles(
        bars=_read_csv(out_dir / "bars.csv", BAR_COLUMNS),
        signals=_read_csv(out_dir / "signals.csv", SIGNAL_COLUMNS),
        orders=_read_csv(out_dir / "orders.csv"),
        fills=_read_csv(out_dir / "fills.csv"),
        tca=_read_csv(out_dir / "tca.csv"),
        equity=_read_csv(out_dir / "equity.csv"),
        summary=_read_summary(out_dir / "summary.json"),
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
    traded: Counter[str] = Counter()
    volume: Counter[str] = Counter()
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


# ----------------------------------------------------------------------------- plotting


def _figure(width: float, height: float, rows: int = 1, ratios: Sequence[int] | None = None):
    """A pyplot-free figure so reports never touch global matplotlib state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    # fixed margins in inches: constrained layout would cost ~30% of the render time
    fig.subplots_adjust(
        left=MARGINS_IN["left"] / width,
        right=1 - MARGINS_IN["right"] / width,
        top=1 - MARGINS_IN["top"] / height,
        bottom=MARGINS_IN["bottom"] / height,
        hspace=0.35,
    )
    if rows == 1:
        return fig, [fig.add_subplot(1, 1, 1)]
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": list(ratios or [])})
    return fig, list(axes)


def _png(fig) -> str:
    """Base64 PNG without metadata that could vary (no Software tag; Agg writes no time)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _session_ticks(ax, times: np.ndarray) -> None:
    """Label the x axis (bar index) with the date each session starts.

    Plotting against bar index rather than wall time removes the overnight and
    weekend gaps that would otherwise take most of the chart's width.
    """
    n = len(times)
    if n == 0:
        return
    days = times.astype("datetime64[D]")
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]])
    if len(starts) <= 60:
        for s in starts[1:]:
            ax.axvline(s, color="0.85", linewidth=0.6, zorder=0)
    if len(starts) > 10:
        starts = starts[np.linspace(0, len(starts) - 1, 10).astype(np.int64)]
    ax.set_xticks(starts)
    ax.set_xticklabels([str(days[s]) for s in starts], rotation=30, ha="right")
    ax.set_xlim(-0.5, n - 0.5)


def _price_chart(
    symbol: str,
    bars: Sequence[Mapping[str, str]],
    signals: Sequence[Mapping[str, str]],
    fills: Sequence[Mapping[str, str]],
) -> str:
    times = _times([b["time"] for b in bars], "bars.time")
    order = np.argsort(times, kind="stable")
    times = times[order]
    close = np.array([_number(b["close"], "bars.close") for b in bars])[order]
    n = len(close)
    zones = {k: np.full(n, np.nan) for k in ZONE_COLUMNS}
    marks: dict[str, list[int]] = {k: [] for k in (*ENTRY_SIGNALS, *EXIT_SIGNALS)}
    if signals:
        sig_times = _times([s["time"] for s in signals], "signals.time")
        at = np.searchsorted(times, sig_times, side="right") - 1
        for i, row in zip(at, signals, strict=True):
            if i < 0:
                continue
            for key, arr in zones.items():
                arr[i] = _number(row.get(key), f"signals.{key}")
            if row.get("signal") in marks:
                marks[row["signal"]].append(int(i))
    keep = downsample_indices(close)
    fig, (ax,) = _figure(12, 4.2)
    ax.plot(keep, close[keep], color="#1f3b73", linewidth=0.9, label="close")
    for low, high, colour, label in (
        ("support_low", "support_high", "#2ca02c", "support zone"),
        ("resistance_low", "resistance_high", "#d62728", "resistance zone"),
    ):
        lo, hi = zones[low][keep], zones[high][keep]
        present = ~(np.isnan(lo) | np.isnan(hi))
        if present.any():
            ax.fill_between(
                keep,
                lo,
                hi,
                where=present,
                step="post",
                color=colour,
                alpha=0.18,
                linewidth=0,
                label=label,
            )
    styles = {
        "ENTER_LONG": ("o", "#2ca02c", "enter long"),
        "ENTER_SHORT": ("o", "#d62728", "enter short"),
        "EXIT_LONG": ("X", "#2ca02c", "exit long"),
        "EXIT_SHORT": ("X", "#d62728", "exit short"),
    }
    for signal, idx in marks.items():
        if idx:
            marker, colour, label = styles[signal]
            xs = np.array(idx)
            ax.scatter(
                xs,
                close[xs],
                s=46,
                marker=marker,
                facecolors="none",
                edgecolors=colour,
                linewidths=1.2,
                label=label,
                zorder=4,
            )
    if fills:
        fill_times = _times([f["time"] for f in fills], "fills.time")
        fx = np.clip(np.searchsorted(times, fill_times, side="right") - 1, 0, max(n - 1, 0))
        prices = np.array([_number(f["price"], "fills.price") for f in fills])
        buys = np.array([_side_sign(f["side"]) > 0 for f in fills])
        if buys.any():
            ax.scatter(
                fx[buys],
                prices[buys],
                s=22,
                marker="^",
                color="#138a36",
                label="buy fill",
                zorder=5,
            )
        if (~buys).any():
            ax.scatter(
                fx[~buys],
                prices[~buys],
                s=22,
                marker="v",
                color="#c0392b",
                label="sell fill",
                zorder=5,
            )
    _session_ticks(ax, times)
    ax.set_title(f"{symbol} — close with support/resistance zones and trades", loc="left")
    ax.set_ylabel("price")
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.legend(loc="upper left", fontsize=7, ncol=4, framealpha=0.8)
    return _png(fig)


def _equity_chart(equity: Sequence[Mapping[str, str]]) -> str:
    from matplotlib.ticker import StrMethodFormatter

    times = _times([r["time"] for r in equity], "equity.time")
    order = np.argsort(times, kind="stable")
    times = times[order]
    values = np.array([_number(r["equity"], "equity.equity") for r in equity])[order]
    peak = np.fmax.accumulate(np.where(np.isnan(values), -np.inf, values))
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peak > 0, (values / peak - 1.0) * 100.0, 0.0)
    keep = np.union1d(downsample_indices(values), downsample_indices(drawdown))
    fig, (top, bottom) = _figure(12, 4.6, rows=2, ratios=[3, 1])
    top.plot(keep, values[keep], color="#1f3b73", linewidth=1.0)
    top.set_title("Equity", loc="left")
    top.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    bottom.fill_between(keep, drawdown[keep], 0.0, color="#c0392b", alpha=0.35, linewidth=0)
    bottom.plot(keep, drawdown[keep], color="#c0392b", linewidth=0.6)
    worst = float(np.nanmin(drawdown)) if len(drawdown) else 0.0
    bottom.set_ylabel("drawdown %")
    bottom.set_title(f"Drawdown (worst {worst:.2f}%)", loc="left", fontsize=8)
    _session_ticks(bottom, times)
    return _png(fig)


def _tca_chart(groups: Sequence[TcaGroup], title: str) -> str:
    names = [g.name for g in groups]
    x = np.arange(len(groups))
    width = 0.26
    fig, (ax,) = _figure(max(5.0, 1.4 * len(groups) + 3.0), 3.2)
    for k, (attr, label, colour) in enumerate(
        (
            ("arrival_bps", "arrival", "#1f77b4"),
            ("vwap_bps", "VWAP", "#ff7f0e"),
            ("is_bps", "IS", "#7f3c8d"),
        )
    ):
        vals = np.array([getattr(g, attr) for g in groups], dtype=float)
        ax.bar(x + (k - 1) * width, np.nan_to_num(vals), width, label=label, color=colour)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(names)
    ax.set_ylabel("mean cost, bps (positive = worse)")
    ax.set_title(title, loc="left")
    ax.legend(fontsize=7)
    return _png(fig)


# ----------------------------------------------------------------------------- HTML

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1240px;color:#1d2330;background:#fafbfc}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;
padding-bottom:4px} .sub{color:#667;font-size:12px;margin-bottom:14px}
.cards{display:flex;flex-wrap:wrap;gap:8px}
.card{background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:8px 12px;min-width:110px}
.card .k{font-size:11px;color:#667;text-transform:uppercase}
.card .v{font-size:17px;font-weight:600;font-variant-numeric:tabular-nums}
img{max-width:100%;background:#fff;border:1px solid #e1e4ea;border-radius:4px;margin:6px 0}
table{border-collapse:collapse;background:#fff;font-size:13px;margin:6px 0}
th,td{border:1px solid #e1e4ea;padding:4px 9px;text-align:right;font-variant-numeric:tabular-nums}
th{background:#f0f2f6} td:first-child,th:first-child{text-align:left}
.note{background:#fff8e1;border:1px solid #f0d98c;border-radius:4px;padding:8px 12px;margin:8px 0}
code{font-size:12px}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_bps(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.2f}"


def _fmt_qty(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.4f}"


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


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


def _summary_html(summary: Mapping[str, object]) -> str:
    cards = [_card(label, summary[key]) for key, label in SUMMARY_KEYS if key in summary]
    known = {k for k, _ in SUMMARY_KEYS} | {"positions", "run_hash"}
    cards.extend(
        _card(key.replace("_", " "), summary[key])
        for key in sorted(k for k in summary if k not in known)
    )
    positions = summary.get("positions")
    held = []
    if isinstance(positions, Mapping):
        held = [
            f"{sym} {qty}" for sym, qty in sorted(positions.items()) if str(qty) not in ("0", "")
        ]
    cards.append(_card("Positions", ", ".join(held) if held else "flat"))
    return '<div class="cards">' + "".join(cards) + "</div>"


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
            f"<td>{_fmt_bps(g.vwap_bps)}</td><td>{_fmt_bps(g.is_bps)}</td><td>{_e(g.fees)}</td>"
            + "".join(f"<td>{g.grades.get(grade, 0)}</td>" for grade in GRADE_ORDER)
            + "</tr>"
        )
    return "<table>" + head + "".join(rows) + "</table>"


def render_html(run: RunFiles) -> str:
    """The whole page as a string (pure: same RunFiles → same string)."""
    from matplotlib import style

    summary = run.summary
    scenario = summary.get("scenario", "")
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Sovereign run {_e(scenario)}</title><style>{CSS}</style></head><body>",
        f"<h1>Sovereign simulator run{': ' + _e(scenario) if scenario else ''}</h1>",
        f'<div class="sub">run hash <code>{_e(summary.get("run_hash", "unknown"))}</code></div>',
        _summary_html(summary),
    ]
    if not run.fills:
        parts.append('<div class="note">No trades: this run made no fills.</div>')
    with style.context("default"), _rc(STYLE_OVERRIDES):
        parts.extend(_price_section(run))
        parts.extend(_equity_section(run))
        parts.extend(_tca_section(run))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _rc(overrides: Mapping[str, object]):
    import matplotlib

    return matplotlib.rc_context(rc=dict(overrides))


def _price_section(run: RunFiles) -> list[str]:
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
            f"{symbol}: {len(bars[symbol])} bars, {n_fills} fills"
            if n_fills
            else f"{symbol}: no trades"
        )
        out.append(f'<div class="sub">{_e(caption)}</div>')
        if bars[symbol]:
            chart = _price_chart(symbol, bars[symbol], signals[symbol], fills[symbol])
            out.append(_img(chart, f"{symbol} price chart"))
    return out


def _equity_section(run: RunFiles) -> list[str]:
    out = ["<h2>Equity and drawdown</h2>"]
    if not run.equity:
        return [*out, '<div class="note">No equity rows in this run.</div>']
    return [*out, _img(_equity_chart(run.equity), "equity curve with drawdown")]


def _tca_section(run: RunFiles) -> list[str]:
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
        out.append(_img(_tca_chart(algos, "TCA by algorithm"), "TCA by algorithm"))
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
        out.append(_img(_tca_chart(venues, "TCA by venue"), "TCA by venue"))
    else:
        out.append('<div class="note">No fills by venue.</div>')
    return out


def write_report(out_dir: Path) -> Path:
    """Read a run's files from ``out_dir`` and write ``out_dir/report.html``."""
    out_dir = Path(out_dir)
    page = render_html(read_run(out_dir))
    target = out_dir / "report.html"
    target.write_text(page, encoding="utf-8", newline="\n")
    return target
