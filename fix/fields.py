"""Reading typed fields off a parsed message, with errors that name the tag.

One reader for both sides of the link (the gateway's prime-broker adapter reads
ExecutionReports, the stand-in's prime broker reads orders): a bad value is a
``BadInput`` naming ``Name(tag)`` and the bytes as received.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from core.errors import BadInput
from core.money import price_from_decimal
from fix.framing import FixMessage


def text(msg: FixMessage, tag: int) -> str:
    """The field as text ("" when absent)."""
    return (msg.get(tag) or b"").decode("latin-1")


def whole(
    msg: FixMessage, tag: int, name: str, *, default: bytes = b"", positive: bool = False
) -> int:
    """A whole number: ``>= 0``, or ``> 0`` with ``positive``; ``default`` when absent."""
    raw = msg.get(tag) or default
    try:
        value = Decimal(raw.decode("latin-1"))
    except InvalidOperation:
        raise BadInput(f"{name}({tag})", raw, "not a number") from None
    if positive:
        if value != value.to_integral_value() or value <= 0:
            raise BadInput(f"{name}({tag})", raw, "must be a positive whole number")
    elif value != value.to_integral_value() or value < 0:
        raise BadInput(f"{name}({tag})", raw, "must be a whole number >= 0")
    return int(value)


def price(
    msg: FixMessage, tag: int, name: str, *, default: bytes = b"", positive: bool = False
) -> int:
    """A price in nano-units (``> 0`` with ``positive``); ``default`` when absent."""
    raw = msg.get(tag) or default
    value = price_from_decimal(raw.decode("latin-1"), f"{name}({tag})")
    if positive and value <= 0:
        raise BadInput(f"{name}({tag})", raw, "must be positive")
    return value
