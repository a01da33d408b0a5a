"""Engine inputs as JSON text, and back: the gateway's recovery journal.

The gateway keeps every event it hands to the engine (bars, fills, order
updates, timers, cash flows, operator commands) in SQLite, with the market
time at which it was handled. Replaying that sequence into a fresh engine
with the same seed rebuilds the exact same state (order ids included), which
is how the crash-only restart works. The fields are the core's one event
codec (``core/journal_codec.py``, shared with the simulator's journal); this
module only names the row kinds and writes the JSON.
"""

from __future__ import annotations

import json

from core.errors import BadInput
from core.journal_codec import Event, event_fields, event_from_fields, type_name

_KINDS: dict[str, str] = {
    "Bar": "bar",
    "Fill": "fill",
    "OrderUpdate": "update",
    "Timer": "timer",
    "CashFlow": "cash_flow",
    "OperatorCommand": "operator",
}
"""The ``kind`` column of a journal row, per event type (as stored since day one)."""
_TYPES = {kind: name for name, kind in _KINDS.items()}

__all__ = ["Event", "decode", "encode", "kind_of"]


def kind_of(event: Event) -> str:
    return _KINDS[type_name(event)]


def encode(event: Event) -> str:
    return json.dumps(event_fields(event), sort_keys=True, separators=(",", ":"))


def decode(kind: str, text: str) -> Event:
    name = _TYPES.get(kind)
    if name is None:
        raise BadInput("journal.kind", kind, f"is not {', '.join(_TYPES)}")
    try:
        data = json.loads(text)
    except ValueError:
        raise BadInput("journal.data", text[:80], "is not JSON") from None
    if not isinstance(data, dict):
        raise BadInput("journal.data", text[:80], "is not a JSON object")
    return event_from_fields(name, data)
