"""The journal's canonical form, its hash, and decoding for crash recovery."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import (
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    Side,
    SubmitOrder,
    TimeInForce,
    Timer,
)
from core.events import Bar
from sim.journal import Journal, canonical, decode_event, dumps

PRICE = 10**9


class Point(NamedTuple):
    x: int
    y: int


@dataclass(frozen=True)
class Box:
    name: str
    side: Side


def test_dumps_sorts_keys_and_has_no_whitespace() -> None:
    assert dumps({"b": 1, "a": [1, 2], "c": {"z": 1, "y": None}}) == (
        '{"a":[1,2],"b":1,"c":{"y":null,"z":1}}'
    )


def test_dumps_is_ascii_only() -> None:
    text = dumps({"reason": "café — ok"})
    assert text.isascii()
    assert json.loads(text) == {"reason": "café — ok"}


def test_dumps_same_bytes_whatever_the_insertion_order() -> None:
    one = {"a": 1, "b": 2, "c": 3}
    two = {"c": 3, "b": 2, "a": 1}
    assert dumps(one) == dumps(two)


def test_enums_are_journaled_by_value() -> None:
    assert canonical(Side.BUY) == Side.BUY.value
    assert canonical(OrdStatus.FILLED) == OrdStatus.FILLED.value
    assert canonical([TimeInForce.IOC, OrderType.LIMIT]) == [
        TimeInForce.IOC.value,
        OrderType.LIMIT.value,
    ]


def test_namedtuple_and_dataclass_carry_their_type() -> None:
    assert canonical(Point(1, 2)) == {"type": "Point", "x": 1, "y": 2}
    assert canonical(Box("b", Side.SELL)) == {"type": "Box", "name": "b", "side": Side.SELL.value}


def test_bar_canonical_form_is_exact() -> None:
    bar = Bar("ACME", 60, 10 * PRICE, 11 * PRICE, 9 * PRICE, 10 * PRICE, 500)
    line = dumps(canonical(bar))  # type: ignore[arg-type]
    assert line.startswith('{"close":10000000000,')
    assert " " not in line
    data = json.loads(line)
    assert data["type"] == "Bar"
    assert data["symbol"] == "ACME" and data["volume"] == 500


def test_command_with_nested_enums_is_journaled() -> None:
    order = SubmitOrder(
        5, "C-1", "P-1", "ACME", Side.BUY, 100, OrderType.LIMIT, 12 * PRICE, TimeInForce.IOC
    )
    data = canonical(order)
    assert data["type"] == "SubmitOrder"  # type: ignore[index]
    assert data["side"] == Side.BUY.value  # type: ignore[index]
    assert data["order_type"] == OrderType.LIMIT.value  # type: ignore[index]
    assert data["time_in_force"] == TimeInForce.IOC.value  # type: ignore[index]


def test_floats_use_shortest_round_trip_form() -> None:
    assert dumps({"x": canonical(0.1)}) == '{"x":0.1}'  # type: ignore[dict-item]
    assert dumps({"x": canonical(1e-300)}) == '{"x":1e-300}'  # type: ignore[dict-item]


def test_unjournalable_value_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot journal a set"):
        canonical({1, 2})
    with pytest.raises(TypeError):
        canonical(object())


# ------------------------------------------------------------ hash
def test_run_hash_is_sha256_of_the_file_bytes(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path)
    journal.write("in", 1, Bar("A", 0, PRICE, PRICE, PRICE, PRICE, 1))
    journal.write("out", 1, Timer(2, "k"))
    journal.write("in", 2, OrderUpdate(2, "C", OrdStatus.NEW))
    journal.close()
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == journal.run_hash
    assert journal.lines == 3
    assert data.endswith(b"\n") and b"\r" not in data
    lines = data.decode("ascii").splitlines()
    assert [json.loads(line)["n"] for line in lines] == [0, 1, 2]
    assert [json.loads(line)["dir"] for line in lines] == ["in", "out", "in"]


def test_hash_without_file_equals_hash_with_file(tmp_path: Path) -> None:
    a, b = Journal(tmp_path / "j.jsonl"), Journal(None, keep=False)
    for journal in (a, b):
        journal.write("in", 7, Timer(7, "wake"))
        journal.close()
    assert a.run_hash == b.run_hash


def test_any_changed_line_changes_the_hash() -> None:
    a, b = Journal(), Journal()
    a.write("in", 1, Timer(1, "x"))
    b.write("in", 1, Timer(1, "y"))
    assert a.run_hash != b.run_hash


def test_journal_without_kept_lines_cannot_recover() -> None:
    journal = Journal(None, keep=False)
    journal.write("in", 1, Timer(1))
    with pytest.raises(RuntimeError):
        list(journal.inputs_with_times())


def test_inputs_with_times_yields_only_inputs_decoded() -> None:
    journal = Journal()
    bar = Bar("A", 0, PRICE, 2 * PRICE, PRICE, PRICE, 3)
    fill = Fill(5, "C-1", "E-1", "A", Side.SELL, 3, PRICE, "IEX", 7)
    journal.write("in", 60, bar)
    journal.write("out", 60, Timer(99, "k"))  # a command: not replayed
    journal.write("in", 61, fill)
    assert list(journal.inputs_with_times()) == [(60, bar), (61, fill)]


# ---------------------------------------------------------- decode_event
EVENTS = [
    Bar("ACME", 60_000_000_000, 10 * PRICE, 11 * PRICE, 9 * PRICE, 10 * PRICE, 1234),
    Bar("ACME", 60_000_000_000, 10 * PRICE, 11 * PRICE, 9 * PRICE, 10 * PRICE, 1234, 10 * PRICE),
    Fill(1, "C-1", "IEX-1", "ACME", Side.BUY, 100, 10 * PRICE, "IEX", 90_000_000),
    Fill(2, "C-2", "NYSE-2", "ACME", Side.SELL, 5, 10 * PRICE + 1, "NYSE", -10),
    OrderUpdate(3, "C-1", OrdStatus.CANCELED, "IOC remainder"),
    OrderUpdate(4, "C-3", OrdStatus.REJECTED),
    Timer(5, "twap:P-1"),
    Timer(6),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_decode_event_inverts_canonical(event: object) -> None:
    data = json.loads(dumps(canonical(event)))  # type: ignore[arg-type]
    decoded = decode_event(data)
    assert decoded == event
    assert type(decoded) is type(event)


def test_decoded_enums_are_real_enums() -> None:
    fill = decode_event(json.loads(dumps(canonical(EVENTS[2]))))  # type: ignore[arg-type]
    assert fill.side is Side.BUY  # type: ignore[attr-defined]
    update = decode_event(json.loads(dumps(canonical(EVENTS[4]))))  # type: ignore[arg-type]
    assert update.status is OrdStatus.CANCELED  # type: ignore[attr-defined]


def test_decode_refuses_commands() -> None:
    with pytest.raises(ValueError, match="SubmitOrder"):
        decode_event(canonical(SubmitOrder(1, "C", None, "A", Side.BUY, 1)))  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    time_ns=st.integers(0, 2**62),
    quantity=st.integers(1, 10**12),
    price=st.integers(1, 10**15),
    fee=st.integers(-(10**12), 10**12),
    side=st.sampled_from(list(Side)),
    order_id=st.text(min_size=1, max_size=12),
)
def test_fill_round_trip_property(
    time_ns: int, quantity: int, price: int, fee: int, side: Side, order_id: str
) -> None:
    fill = Fill(time_ns, order_id, "X-1", "ACME", side, quantity, price, "IEX", fee)
    line = dumps(canonical(fill))  # type: ignore[arg-type]
    assert line.isascii()
    assert decode_event(json.loads(line)) == fill
    assert dumps(canonical(decode_event(json.loads(line)))) == line  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    status=st.sampled_from(list(OrdStatus)),
    reason=st.text(max_size=20),
    time_ns=st.integers(0, 2**62),
)
def test_order_update_round_trip_property(status: OrdStatus, reason: str, time_ns: int) -> None:
    update = OrderUpdate(time_ns, "C-9", status, reason)
    line = dumps(canonical(update))  # type: ignore[arg-type]
    assert decode_event(json.loads(line)) == update
