"""Engine inputs as JSON text, and back: the gateway's recovery journal codec.

The gateway keeps every event it hands to the engine (bars, fills, order
updates, timers, cash flows, operator commands) in SQLite, with the market
time at which it was handled.
Replaying that sequence into a fresh engine with the same seed rebuilds the
exact same state (order ids included), which is how the crash-only restart
works. The encoding is explicit per type so a field rename is a loud error,
not a silently different replay.
"""

from __future__ import annotations

import json
from typing import Any

from core.commands import CashFlow, Fill, OrderUpdate, OrdStatus, Side, Timer
from core.errors import BadInput
from core.events import Bar
from core.operator import OperatorCommand

Event = Bar | Fill | OrderUpdate | Timer | CashFlow | OperatorCommand

_KINDS: dict[type, str] = {
    Bar: "bar",
    Fill: "fill",
    OrderUpdate: "update",
    Timer: "timer",
    CashFlow: "cash_flow",
    OperatorCommand: "operator",
}


def kind_of(event: Event) -> str:
    return _KINDS[type(event)]


def encode(event: Event) -> str:
    kind = type(event)
    if kind is Bar:
        data: dict[str, Any] = {
            f: getattr(event, f)
            for f in (
                "symbol",
                "time_ns",
                "open",
                "high",
                "low",
                "close",
                "volume",
                "vwap",
                "trades",
            )
        }
    elif kind is Fill:
        data = {
            f: getattr(event, f)
            for f in (
                "time_ns",
                "client_order_id",
                "exec_id",
                "symbol",
                "quantity",
                "price",
                "venue",
                "fee",
            )
        }
        data["side"] = event.side.value  # type: ignore[union-attr]
    elif kind is OrderUpdate:
        data = {
            "time_ns": event.time_ns,
            "client_order_id": event.client_order_id,  # type: ignore[union-attr]
            "status": event.status.value,  # type: ignore[union-attr]
            "reason": event.reason,  # type: ignore[union-attr]
        }
    elif kind is Timer:
        data = {"time_ns": event.time_ns, "key": event.key}  # type: ignore[union-attr]
    elif kind is CashFlow:
        data = {
            "time_ns": event.time_ns,
            "flow_id": event.flow_id,  # type: ignore[union-attr]
            "amount": event.amount,  # type: ignore[union-attr]
            "reason": event.reason,  # type: ignore[union-attr]
        }
    elif kind is OperatorCommand:
        data = {
            "time_ns": event.time_ns,
            "action": event.action,  # type: ignore[union-attr]
            "command_id": event.command_id,  # type: ignore[union-attr]
            "origin": event.origin,  # type: ignore[union-attr]
        }
    else:
        raise BadInput("event", kind.__name__, "cannot be journaled")
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def decode(kind: str, text: str) -> Event:
    data = json.loads(text)
    if kind == "bar":
        return Bar(**data)
    if kind == "fill":
        data["side"] = Side(data["side"])
        return Fill(**data)
    if kind == "update":
        data["status"] = OrdStatus(data["status"])
        return OrderUpdate(**data)
    if kind == "timer":
        return Timer(**data)
    if kind == "cash_flow":
        return CashFlow(**data)
    if kind == "operator":
        return OperatorCommand(**data)
    raise BadInput("journal.kind", kind, "is not bar, fill, update, timer, cash_flow or operator")
