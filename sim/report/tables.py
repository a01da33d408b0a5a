"""The report's HTML tables and text blocks: summary cards, banner, analytics, TCA, trades.

Each function takes rows or the summary and returns an HTML fragment; the trade
table is made sortable by ``SORT_SCRIPT`` (no library).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sim import humanize
from sim.report.aggregates import GRADE_ORDER, TcaGroup
from sim.report.markup import _card, _e, _fmt_bps, _fmt_qty

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
