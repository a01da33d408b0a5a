"""The page's smallest pieces: escaping, number formats, summary cards and the CSS.

Shared by the charts (chart divs carry escaped labels) and the tables, so each
format is written once and a value looks the same wherever the page shows it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np

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
