"""The broker connections as the page shows them: Alpaca's two streams, TWS,
the FIX session with its sequence numbers.

Each adapter says what its connections are doing through the explicit
``ConnectionReporting`` protocol (``gateway.brokers.base``), checked once when
the dashboard is wired (``connection_report``); this module only turns those
facts into the page's rows. A broker that does not report (or whose report
fails) is one ``unknown`` row under its name, rather than a failed page. The
tiered broker reports its legs', leg by leg.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.brokers.base import (
    Connection,
    ConnectionReport,
    FixSessionLink,
    StreamLinks,
    TwsLink,
    UnreportedLink,
)
from gateway.state import MINUTE_NS, LiveState


def describe(report: ConnectionReport, state: LiveState) -> list[dict[str, Any]]:
    """The page's connection rows, from the report wired for the broker."""
    rows: list[dict[str, Any]] = []
    for connection in report():
        rows += _rows(connection, state)
    return rows


def _rows(connection: Connection, state: LiveState) -> list[dict[str, Any]]:
    match connection.facts:
        case StreamLinks() as links:
            return _alpaca(links, state)
        case TwsLink() as tws:
            return [
                {
                    "name": "ibkr tws",
                    "status": _status(tws.connected),
                    "detail": f"reconnects {tws.reconnects}, pacing waits {tws.pacing_waits}",
                }
            ]
        case FixSessionLink() as fix:
            return [
                {
                    "name": f"fix {connection.broker}",
                    "status": "logged on" if fix.logged_on else "down",
                    "detail": f"next out seq {fix.next_sender_seq},"
                    f" next in seq {fix.next_target_seq}",
                    "next_sender_seq": fix.next_sender_seq,
                    "next_target_seq": fix.next_target_seq,
                }
            ]
        case UnreportedLink() as unreported:
            return [{"name": connection.broker, "status": "unknown", "detail": unreported.detail}]


def _alpaca(links: StreamLinks, state: LiveState) -> list[dict[str, Any]]:
    silent = time.monotonic() - state.last_bar_wall
    period = max(state.market.wall_seconds_for(MINUTE_NS), 0.001)
    return [
        {
            "name": "alpaca market data",
            "status": _status(links.data_open),
            "detail": f"last live bar {silent:.1f}s ago ({silent / period:.1f} bar periods)",
        },
        {
            "name": "alpaca trade updates",
            "status": _status(links.trades_open),
            "detail": f"reconnects {state.counters.reconnects}, HTTP 429s {links.rate_limited}",
        },
    ]


def _status(is_open: bool | None) -> str:
    if is_open is None:
        return "not started"
    return "connected" if is_open else "down"
