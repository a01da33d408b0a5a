"""The report's charts as plotly.js JSON, and the script that draws them lazily.

Figures are plain data + layout dicts built from the run's rows, so the same run
always gives the same bytes; series are decimated for display only. ``_Charts``
numbers each chart and writes them all into the page's one plotting script.
``MAX_FILL_MARKERS`` and ``THIN_LINES`` are read at call time, so
``benchmarks/bench_report_open.py`` can switch them off for its baseline page.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.report.aggregates import MAX_POINTS, TcaGroup, downsample_indices
from sim.report.files import ZONE_COLUMNS, _number, _times
from sim.report.markup import _e, _fmt_qty

MAX_FILL_MARKERS = 150  # per side and chart; more are merged per display bucket
# Zones and stops drop the points that do not change their drawing (line_points). Off,
# and MAX_FILL_MARKERS unbounded, in benchmarks/bench_report_open.py's baseline page.
THIN_LINES = True
ENTRY_SIGNALS = ("ENTER_LONG", "ENTER_SHORT")
EXIT_SIGNALS = ("EXIT_LONG", "EXIT_SHORT")


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
            if (
                xa is not None
                and xi is not None
                and xb is not None
                and (xa < xi < xb or xa > xi > xb)
            ):
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
