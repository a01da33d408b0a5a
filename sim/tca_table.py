"""A parent's TCA as the boxed terminal table (SPEC §9).

Presentation lives in the shells: ``core/execution/tca.py`` computes the
report as data (``TcaReport``, ``as_record``); this renders it with rich.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table

from core.execution.tca import TcaReport
from core.money import format_price


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


def render(report: TcaReport, width: int = 64) -> str:
    """The boxed terminal table: slippage, VWAP, shortfall, impact (bps), grade."""
    side = "BUY" if report.side_sign > 0 else "SELL"
    title = f"TCA {report.parent_id} {side} {report.filled}/{report.decided} {report.symbol}"
    table = Table(title=title, box=box.SQUARE, show_header=True, expand=False)
    table.add_column("metric")
    table.add_column("bps", justify="right")
    table.add_row("Arrival slippage", _fmt(report.arrival_slippage_bps))
    table.add_row("VWAP performance", _fmt(report.vwap_performance_bps))
    table.add_row("Implementation shortfall", _fmt(report.shortfall_bps))
    table.add_row("  delay", _fmt(report.delay_bps))
    table.add_row("  trading", _fmt(report.trading_bps))
    table.add_row("  opportunity", _fmt(report.opportunity_bps))
    table.add_row("  fees", _fmt(report.fees_bps))
    table.add_row("Market impact (model)", _fmt(report.impact_model_bps))
    table.add_row("Market impact (realised)", _fmt(report.impact_realized_bps))
    table.add_row("Grade", report.grade)
    table.caption = f"decision {format_price(report.decision_price)}"
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, legacy_windows=False
    )
    console.print(table)
    return buffer.getvalue()
