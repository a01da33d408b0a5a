"""Engine events as plain data, and back: the one event codec of both journals.

The gateway's recovery journal (SQLite rows, ``gateway/journal.py``) and the
simulator's run journal (``sim/journal.py``) both keep every event the engine
was given, so a fresh engine fed them again reaches the same state. They used
to spell the events out each in its own way, and drifted: a field added to an
event (``CashFlow.charge``) reached one and not the other. Here is the one
rule both use: every dataclass field by its name, enums by their value; and
the one way back, which refuses a type or a field it does not know (a rename
is a loud error, never a silently different replay). Fields added later with
a default decode from older journals unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from enum import Enum

from core.commands import CashFlow, Fill, OrderUpdate, OrdStatus, Side, Timer
from core.errors import BadInput
from core.events import Bar
from core.operator import OperatorCommand

Event = Bar | Fill | OrderUpdate | Timer | CashFlow | OperatorCommand

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls for cls in (Bar, Fill, OrderUpdate, Timer, CashFlow, OperatorCommand)
}
"""Every event the engine consumes, by the type name the journals store."""

_ENUM_FIELDS: dict[str, type[Enum]] = {"side": Side, "status": OrdStatus}
_FIELD_NAMES: dict[str, frozenset[str]] = {
    name: frozenset(f.name for f in fields(cls)) for name, cls in EVENT_TYPES.items()
}


def type_name(event: Event) -> str:
    """The name ``event_from_fields`` takes back; refuses what is no engine event."""
    name = type(event).__name__
    if EVENT_TYPES.get(name) is not type(event):
        raise BadInput("event", name, "is not an engine event, so it cannot be journaled")
    return name


def event_fields(event: Event) -> dict[str, object]:
    """Every field of ``event`` by name, enums by value (JSON-ready)."""
    type_name(event)
    data: dict[str, object] = {}
    for f in fields(event):
        value = getattr(event, f.name)
        data[f.name] = value.value if isinstance(value, Enum) else value
    return data


def event_from_fields(name: str, data: Mapping[str, object]) -> Event:
    """The event ``event_fields`` was given, or ``BadInput`` naming what is wrong."""
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise BadInput("journal.type", name, f"is not one of {', '.join(EVENT_TYPES)}")
    unknown = sorted(set(data) - _FIELD_NAMES[name])
    if unknown:
        raise BadInput("journal.field", unknown[0], f"is not a field of {name}")
    values: dict[str, object] = {}
    for key, value in data.items():
        enum = _ENUM_FIELDS.get(key)
        if enum is None:
            values[key] = value
            continue
        try:
            values[key] = enum(value)
        except ValueError:
            raise BadInput(f"journal.{key}", value, f"is not a {enum.__name__}") from None
    try:
        return cls(**values)  # type: ignore[arg-type]  # checked above, per field name
    except TypeError as exc:
        raise BadInput("journal.fields", name, str(exc)) from None
