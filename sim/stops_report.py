"""Loss per trade against its stop: does the protective stop cap the loss?

A trade's planned risk is its entry's distance to the stop times its size;
its R multiple is its P&L over that risk (−1: it lost exactly what the stop
allowed; below −1: costs, a gap through the stop, or a stop that could not
rest). The stop is the one the entry was sized with (the entry parent's
``Intent.stop``); a trade closed by a fill of the resting stop order is a
``stop`` exit whatever the agent said at that bar's close.

``summary.json`` carries the distribution (``analytics.stops``) and the
report draws it.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import numpy as np

from core.commands import OrderType
from sim.analytics import Trade
from sim.runner import RunResult

NANO = 1e-9
R_BINS = (-3.0, -2.0, -1.5, -1.25, -1.1, -1.0, -0.75, -0.5, -0.25, 0.0, 0.5, 1.0, 2.0, 3.0)
"""Histogram edges in R; below the first and above the last are their own bins."""


def annotate(result: RunResult, trades: list[Trade]) -> list[Trade]:
    """Each trade with its entry's stop, its R multiple, and ``stop`` when a
    resting stop order closed it."""
    engine = result.engine
    parents = {p.parent_id: p for p in engine.parents()}
    stop_orders = {
        order_id
        for order in engine.protective_stops()
        if order.order_type is OrderType.STOP
        for order_id in order.ids
    }
    entry_stop: dict[tuple[str, int], int] = {}
    stop_exit: set[tuple[str, int]] = set()
    for fill, parent_id in result.fills:
        parent = parents.get(parent_id or "")
        if parent is not None and parent.intent.purpose == "entry" and parent.intent.stop:
            entry_stop.setdefault((fill.symbol, fill.time_ns), parent.intent.stop)
        if fill.client_order_id in stop_orders:
            stop_exit.add((fill.symbol, fill.time_ns))
    out = []
    for trade in trades:
        stop_nano = entry_stop.get((trade.symbol, trade.entry_ns))
        reason = "stop" if (trade.symbol, trade.exit_ns) in stop_exit else trade.exit_reason
        stop = stop_nano * NANO if stop_nano else None
        r = None
        if stop is not None and trade.quantity:
            risk = abs(trade.entry_price - stop) * trade.quantity
            r = trade.pnl / risk if risk > 0 else None
        out.append(replace(trade, exit_reason=reason, stop=stop, r_multiple=r))
    return out


def distribution(result: RunResult, trades: list[Trade]) -> dict[str, object]:
    """The numbers ``summary.json`` shows under ``analytics.stops``."""
    stops = result.engine.protective_stops()
    triggered = [o for o in stops if o.filled]
    rs = np.array([t.r_multiple for t in trades if t.r_multiple is not None], dtype=np.float64)
    losers = rs[rs < 0]
    counts: list[int] = (
        [int(n) for n in np.histogram(rs, bins=[-np.inf, *R_BINS, np.inf])[0]] if len(rs) else []
    )
    labels = (
        [f"< {R_BINS[0]}R"]
        + [f"{lo}R..{hi}R" for lo, hi in pairwise(R_BINS)]
        + [f">= {R_BINS[-1]}R"]
    )
    return {
        "resting_stop_orders": len(stops),
        "stop_orders_triggered": len(triggered),
        "stop_exits": sum(1 for t in trades if t.exit_reason == "stop"),
        "trades_with_stop": len(rs),
        "losing_trades": len(losers),
        "worst_r": float(rs.min()) if len(rs) else None,
        "median_loss_r": float(np.median(losers)) if len(losers) else None,
        "p5_r": float(np.percentile(rs, 5)) if len(rs) else None,
        "beyond_stop": int((rs < -1.0).sum()),
        "beyond_1_1r": int((rs < -1.1).sum()),
        "histogram": [[label, n] for label, n in zip(labels, counts, strict=False)],
    }


__all__ = ["R_BINS", "annotate", "distribution"]
