"""The broker connections as the page shows them: Alpaca's two streams, TWS,
the FIX session with its sequence numbers.

Read-only and defensive: the adapters were not written with a dashboard in
mind, so each describer reads what the adapter has (its stream objects, its
session store) and says ``unknown`` where an attribute is missing, rather
than fail a page over an adapter's internals. A composite broker (``tiered``)
is described part by part.
"""

from __future__ import annotations

import time
from typing import Any

from gateway.brokers.base import Composite
from gateway.state import MINUTE_NS, LiveState


def describe(broker: object, state: LiveState) -> list[dict[str, Any]]:
    if isinstance(broker, Composite):
        rows: list[dict[str, Any]] = []
        for part in broker.brokers:
            rows += describe(part, state)
        return rows
    name = str(getattr(broker, "name", type(broker).__name__))
    try:
        if name == "alpaca":
            return _alpaca(broker, state)
        if name == "ibkr":
            return [_ibkr(broker)]
        if hasattr(broker, "session") and hasattr(broker, "store"):
            return [_fix(broker, name)]
    except Exception as exc:  # an adapter's internals changed: say so, don't fail
        return [{"name": name, "status": "unknown", "detail": type(exc).__name__}]
    return [{"name": name, "status": "unknown", "detail": ""}]


def _ws_open(stream: object) -> bool | None:
    if stream is None:
        return None
    ws = getattr(stream, "_ws", None)
    if ws is None:
        return False
    state = getattr(ws, "state", None)
    if state is not None:  # websockets' State enum: OPEN is 1
        return getattr(state, "name", str(state)) == "OPEN"
    return not getattr(ws, "closed", False)


def _alpaca(broker: object, state: LiveState) -> list[dict[str, Any]]:
    silent = time.monotonic() - state.last_bar_wall
    period = max(state.market.wall_seconds_for(MINUTE_NS), 0.001)
    data_open = _ws_open(getattr(broker, "_data_stream", None))
    trade_open = _ws_open(getattr(broker, "_trade_stream", None))
    rate_limited = getattr(broker, "rate_limited", 0)
    return [
        {
            "name": "alpaca market data",
            "status": _status(data_open),
            "detail": f"last live bar {silent:.1f}s ago ({silent / period:.1f} bar periods)",
        },
        {
            "name": "alpaca trade updates",
            "status": _status(trade_open),
            "detail": f"reconnects {state.counters.reconnects}, HTTP 429s {rate_limited}",
        },
    ]


def _ibkr(broker: object) -> dict[str, Any]:
    ib = getattr(broker, "ib", None)
    connected = bool(ib.isConnected()) if ib is not None else None
    return {
        "name": "ibkr tws",
        "status": _status(connected),
        "detail": f"reconnects {getattr(broker, 'reconnects', 0)},"
        f" pacing waits {getattr(broker, 'rate_limited', 0)}",
    }


def _fix(broker: object, name: str) -> dict[str, Any]:
    store = broker.store  # type: ignore[attr-defined]
    logged_on = getattr(broker, "logged_on", None)
    if callable(logged_on):
        logged_on = logged_on()
    return {
        "name": f"fix {name}",
        "status": "logged on" if logged_on else "down",
        "detail": f"next out seq {store.next_sender_seq}, next in seq {store.next_target_seq}",
        "next_sender_seq": store.next_sender_seq,
        "next_target_seq": store.next_target_seq,
    }


def _status(is_open: bool | None) -> str:
    if is_open is None:
        return "not started"
    return "connected" if is_open else "down"
