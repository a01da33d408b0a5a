"""The one event codec of both journals (core/journal_codec.py)."""

from __future__ import annotations

import json

import pytest

from core.commands import CashFlow, Fill, OrderUpdate, OrdStatus, Side, Timer
from core.errors import BadInput
from core.events import Bar
from core.journal_codec import EVENT_TYPES, event_fields, event_from_fields
from core.operator import OperatorCommand
from gateway import journal as gateway_journal
from sim.journal import canonical, decode_event, dumps

EVENTS = [
    Bar("AAPL", 60_000_000_000, 1_000, 1_100, 900, 1_050, 12_345, 1_020, 77),
    Fill(2, "C-1", "E-1", "AAPL", Side.SELL, 300, 1_050, "IEX", 9),
    OrderUpdate(3, "C-1", OrdStatus.PARTIALLY_FILLED, "partial"),
    Timer(4, "twap:P-1"),
    CashFlow(5, "borrow:2024-01-02", -1_234, "short borrow", charge=True),
    OperatorCommand(6, "pause", "op-1", "dashboard"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_both_journals_give_back_every_field(event: object) -> None:
    """A field one journal dropped (CashFlow.charge in the gateway's) made a
    recovered engine differ from the one that crashed: both now round-trip
    every field, through the same codec."""
    name = type(event).__name__
    assert event_from_fields(name, event_fields(event)) == event  # type: ignore[arg-type]
    kind = gateway_journal.kind_of(event)  # type: ignore[arg-type]
    assert gateway_journal.decode(kind, gateway_journal.encode(event)) == event  # type: ignore[arg-type]
    assert decode_event(json.loads(dumps(canonical(event)))) == event  # type: ignore[arg-type]


def test_every_engine_event_type_is_covered() -> None:
    assert set(EVENT_TYPES) == {type(e).__name__ for e in EVENTS}


def test_an_older_row_without_a_later_field_decodes_with_its_default() -> None:
    old = '{"amount":500,"flow_id":"dep-1","reason":"deposit","time_ns":1}'
    assert gateway_journal.decode("cash_flow", old) == CashFlow(1, "dep-1", 500, "deposit")


@pytest.mark.parametrize(
    ("name", "data", "field"),
    [
        ("SubmitOrder", {}, "journal.type"),
        ("Timer", {"time_ns": 1, "key": "k", "colour": "red"}, "journal.field"),
        ("Fill", {**event_fields(EVENTS[1]), "side": "SIDEWAYS"}, "journal.side"),
        ("Fill", {"time_ns": 1}, "journal.fields"),
    ],
)
def test_what_is_not_an_event_is_refused_by_name(
    name: str, data: dict[str, object], field: str
) -> None:
    with pytest.raises(BadInput) as caught:
        event_from_fields(name, data)
    assert caught.value.field == field


@pytest.mark.parametrize(("kind", "text"), [("bars", "{}"), ("bar", "not json"), ("bar", "[1]")])
def test_a_bad_gateway_row_is_bad_input(kind: str, text: str) -> None:
    with pytest.raises(BadInput):
        gateway_journal.decode(kind, text)
