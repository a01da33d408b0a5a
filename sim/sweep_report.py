"""What a sweep leaves behind: ``sweep.parquet`` (one row per point) and
``sweep.html`` (a sortable table, distributions across seeds, a heat map).

The page is self-contained: plotly.js is inlined once, no CDN, no network,
so it opens from a laptop, a CI artefact or an air-gapped machine. Figure
ids are fixed, so the same rows give the same page byte for byte. Both
files are owner-only, like everything the product writes.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from core.cells import as_float
from sim.sweep import METRICS

FILE_MODE = 0o600

SCHEMA = pa.schema(
    [
        pa.field("point", pa.int64(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("scenario", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("symbols", pa.string()),
        pa.field("start", pa.string()),
        pa.field("end", pa.string()),
        pa.field("range", pa.string()),
        pa.field("days", pa.int64()),
        pa.field("balance", pa.string()),
        pa.field("urgency", pa.string(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # ok | violation | error
        pa.field("error", pa.string()),
        pa.field("reproduce", pa.string(), nullable=False),
        pa.field("run_hash", pa.string()),
        pa.field("bars", pa.int64()),
        pa.field("orders", pa.int64()),
        pa.field("parents", pa.int64()),
        pa.field("fills", pa.int64()),
        pa.field("trades", pa.int64()),
        pa.field("hit_rate", pa.float64()),
        pa.field("initial_equity", pa.string()),  # decimal dollars, exact
        pa.field("final_equity", pa.string()),
        pa.field("pnl", pa.string()),
        pa.field("return", pa.float64()),
        pa.field("max_drawdown", pa.float64()),
        pa.field("sharpe", pa.float64()),
        pa.field("invariant_checks", pa.int64()),
        pa.field("crashes_recovered", pa.int64()),
    ],
    metadata={b"what": b"one row per sweep point: parameters, status, run hash, summary metrics"},
)
TABLE_COLUMNS = (
    "point",
    "label",
    "seed",
    "status",
    "return",
    "max_drawdown",
    "sharpe",
    "trades",
    "hit_rate",
    "fills",
    "pnl",
    "run_hash",
)


def _owner_only(path: Path) -> None:
    path.touch(mode=FILE_MODE, exist_ok=True)
    os.chmod(path, FILE_MODE)


def write_parquet(rows: Sequence[dict[str, object]], path: Path) -> None:
    table = pa.Table.from_pylist(
        [{name: row.get(name) for name in SCHEMA.names} for row in rows], schema=SCHEMA
    )
    _owner_only(path)
    pq.write_table(table, path)


def write_html(
    rows: Sequence[dict[str, object]], path: Path, heatmap: tuple[str, str] | None, title: str
) -> None:
    import plotly.offline

    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        f"<script>{plotly.offline.get_plotlyjs()}</script>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _overview(rows),
        "<h2>Across seeds</h2>",
        _distributions(rows),
        "<h2>Heat map</h2>",
        _heatmaps(rows, heatmap),
        "<h2>Points</h2><p>Click a column header to sort.</p>",
        _table(rows),
        _failures(rows),
        f"<script>{_SORT_JS}</script>",
        "</body></html>",
    ]
    _owner_only(path)
    path.write_text("\n".join(parts), encoding="utf-8")


def _overview(rows: Sequence[dict[str, object]]) -> str:
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "violation", "error")}
    return (
        f"<p>{len(rows)} points: {counts['ok']} ok, {counts['violation']} invariant violations, "
        f"{counts['error']} errors.</p>"
    )


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = as_float(value)
    return None if math.isnan(number) else number


def _distributions(rows: Sequence[dict[str, object]]) -> str:
    """Box plots of each metric by configuration (a label is a point minus its seed)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ran = [r for r in rows if r["status"] != "error"]
    if not ran:
        return "<p>No point ran.</p>"
    labels = sorted({str(r["label"]) for r in ran})
    figure = make_subplots(rows=1, cols=len(METRICS), subplot_titles=METRICS)
    for column, metric in enumerate(METRICS, start=1):
        for number, label in enumerate(labels):
            values = [_number(r[metric]) for r in ran if r["label"] == label]
            figure.add_trace(
                go.Box(
                    y=[v for v in values if v is not None],
                    name=label,
                    boxpoints="all",
                    legendgroup=label,
                    showlegend=column == 1,
                    marker_color=_PALETTE[number % len(_PALETTE)],
                ),
                row=1,
                col=column,
            )
    figure.update_xaxes(showticklabels=False)
    figure.update_layout(height=460, margin={"t": 40}, legend={"orientation": "h"})
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id="distributions")


def _heatmaps(rows: Sequence[dict[str, object]], axes: tuple[str, str] | None) -> str:
    """Mean of each metric over two axes (mean across the other axes and seeds)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if axes is None:
        return "<p>The grid varies along fewer than two axes; no heat map.</p>"
    x_axis, y_axis = axes
    ran = [r for r in rows if r["status"] != "error"]
    xs = sorted({_key(r[x_axis]) for r in ran}, key=_order)
    ys = sorted({_key(r[y_axis]) for r in ran}, key=_order)
    if not ran:
        return "<p>No point ran.</p>"
    figure = make_subplots(
        rows=1, cols=len(METRICS), subplot_titles=METRICS, horizontal_spacing=0.1
    )
    for column, metric in enumerate(METRICS, start=1):
        right = figure.layout[f"xaxis{column if column > 1 else ''}"].domain[1]
        grid: list[list[float | None]] = []
        for y in ys:
            line: list[float | None] = []
            for x in xs:
                values = [
                    v
                    for r in ran
                    if _key(r[x_axis]) == x and _key(r[y_axis]) == y
                    for v in [_number(r[metric])]
                    if v is not None
                ]
                line.append(sum(values) / len(values) if values else None)
            grid.append(line)
        figure.add_trace(
            go.Heatmap(
                z=grid,
                x=xs,
                y=ys,
                colorscale="RdYlGn_r" if metric == "max_drawdown" else "RdYlGn",
                colorbar={"x": right + 0.005, "len": 0.9, "thickness": 12},
                hovertemplate=f"{x_axis}=%{{x}}<br>{y_axis}=%{{y}}<br>mean {metric}=%{{z}}"
                "<extra></extra>",
            ),
            row=1,
            col=column,
        )
        figure.update_xaxes(title_text=x_axis, type="category", row=1, col=column)
        figure.update_yaxes(
            title_text=y_axis if column == 1 else None, type="category", row=1, col=column
        )
    figure.update_layout(height=420, margin={"t": 40})
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id="heatmap")


def _key(value: object) -> str:
    return "—" if value is None else str(value)


def _order(text: str) -> tuple[int, float, str]:
    """Numbers in numeric order before text, so balances and seeds sort as numbers."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def _cell(value: object, column: str = "") -> str:
    if column == "run_hash" and value:
        text = html.escape(str(value))
        return f"<td title='{text}'><code>{text[:12]}</code></td>"
    if value is None:
        return "<td></td>"
    if isinstance(value, float):
        return f"<td data-v='{value!r}'>{value:.6g}</td>"
    if isinstance(value, int):
        return f"<td data-v='{value}'>{value}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: Sequence[dict[str, object]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in TABLE_COLUMNS)
    body = "\n".join(
        f"<tr class='{html.escape(str(r['status']))}'>"
        + "".join(_cell(r.get(c), c) for c in TABLE_COLUMNS)
        + "</tr>"
        for r in rows
    )
    return (
        f"<table id='points' class='sortable'><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _failures(rows: Sequence[dict[str, object]]) -> str:
    failed = [r for r in rows if r["status"] != "ok"]
    if not failed:
        return "<h2>Failures</h2><p>None.</p>"
    items = "\n".join(
        f"<li>point {r['point']} ({html.escape(str(r['label']))}, seed {r['seed']}): "
        f"<b>{html.escape(str(r['status']))}</b> {html.escape(str(r.get('error')))}<br>"
        f"<code>{html.escape(str(r['reproduce']))}</code></li>"
        for r in failed
    )
    return f"<h2>Failures</h2><ul>{items}</ul>"


_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip

_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; }
table.sortable { border-collapse: collapse; font-size: 0.85em; }
table.sortable th { cursor: pointer; background: #eee; position: sticky; top: 0; }
table.sortable th, table.sortable td { border: 1px solid #ccc; padding: 2px 6px; }
table.sortable td[data-v] { text-align: right; font-variant-numeric: tabular-nums; }
tr.violation td, tr.error td { background: #fde2e2; }
th.asc::after { content: " ▲"; } th.desc::after { content: " ▼"; }
code { font-size: 0.9em; }
"""

# Sort by a column on click (numbers by value via data-v, text alphabetically;
# empty cells last); a second click reverses.
_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.addEventListener('click', function () {
      var down = th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function (h) { h.classList.remove('asc', 'desc'); });
      th.classList.add(down ? 'desc' : 'asc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column];
        if (cell.textContent === '') { return null; }
        return cell.hasAttribute('data-v') ? parseFloat(cell.getAttribute('data-v'))
                                           : cell.textContent;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === null) { return y === null ? 0 : 1; }
        if (y === null) { return -1; }
        var c = (typeof x === 'number' && typeof y === 'number') ? x - y
                : String(x).localeCompare(String(y));
        return down ? -c : c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
