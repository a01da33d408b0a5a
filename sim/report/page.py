"""The page itself: its sections in order, the embedded plotly.js, and ``write_report``.

``render_html`` is pure (same ``RunFiles``, same string); the sections pick
which charts and tables a run has material for and say so when it has none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

from core.errors import BadInput
from sim.report.aggregates import TcaGroup, rank_symbols, tca_by_algo, tca_by_venue
from sim.report.charts import (
    _Charts,
    _equity_figure,
    _layout,
    _pnl_figure,
    _price_figure,
    _tca_figure,
)
from sim.report.files import RunFiles, read_run
from sim.report.markup import CSS, _e, _show
from sim.report.tables import (
    SORT_SCRIPT,
    _analytics_table,
    _banner,
    _summary_html,
    _tca_table,
    _trade_table,
)

MAX_SYMBOLS = 8


BUNDLES = ("basic", "full")
BASIC_BUNDLE = Path(__file__).parents[1] / "vendor" / "plotly" / "plotly-basic.min.js"


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
    out += _tca_part(
        charts,
        algos,
        "algorithm",
        '<div class="sub">Mean over parent orders of each parent\'s bps (positive = cost).</div>',
        '<div class="note">No TCA rows.</div>',
    )
    out += _tca_part(
        charts,
        venues,
        "venue",
        '<div class="sub">Quantity-weighted cost of each venue\'s fills against the '
        "parent's arrival price, interval VWAP and decision price (+ fee), in bps; "
        "grades count parents that filled at the venue.</div>",
        '<div class="note">No fills by venue.</div>',
    )
    return out


def _tca_part(
    charts: _Charts, groups: list[TcaGroup], first: str, explained: str, empty: str
) -> list[str]:
    """One TCA grouping (by algorithm or by venue): its heading, table and chart."""
    out = [f"<h3>By {first}</h3>"]
    if not groups:
        return [*out, empty]
    kind = "tca-algo" if first == "algorithm" else "tca-venue"
    return [
        *out,
        explained,
        _tca_table(groups, first),
        charts.add(kind, _tca_figure(groups, f"TCA by {first}")),
    ]


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
