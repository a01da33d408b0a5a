"""The Alpaca stand-in's records: an order, a position, its error answer, average cost.

Plain data kept apart from the book that changes them (``standins.broker``),
so the request checks and the other stand-ins (TWS, FIX) can share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.commands import (
    OrderType,
    Side,
    TimeInForce,
)
from core.money import round_half_even_div
from standins import wire

OPEN_STATUSES = ("new", "partially_filled", "accepted", "pending_new")


class ApiError(Exception):
    """An Alpaca error answer: HTTP status and body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.body = wire.error(code, message)


@dataclass
class Order:
    id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: int
    order_type: OrderType
    tif: TimeInForce
    limit_price: int | None
    submitted_ns: int
    status: str = "accepted"
    stop_price: int | None = None  # type "stop": rests until the tape trades through it
    updated_ns: int = 0
    filled_qty: int = 0
    notional: int = 0  # Σ qty × price of fills, nano-units
    prior_filled: int = 0  # filled on the orders this one replaced (the venue counts them)
    filled_ns: int | None = None
    canceled_ns: int | None = None
    expired_ns: int | None = None
    failed_ns: int | None = None
    replaced_ns: int | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    reject_reason: str = ""

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def leaves(self) -> int:
        return self.qty - self.filled_qty


@dataclass
class Position:
    qty: int = 0
    cost: int = 0  # nano-units paid for the shares held (average cost basis)


def cost_after(qty0: int, cost0: int, signed_qty: int, price: int) -> int:
    """Signed average-cost basis after a fill (long: paid, positive; short: received,
    negative), nano-units."""
    qty1 = qty0 + signed_qty
    if qty1 == 0:
        return 0
    if qty0 == 0 or (qty0 > 0) == (signed_qty > 0):  # opening or adding
        return cost0 + signed_qty * price
    if abs(signed_qty) <= abs(qty0):  # reducing: the average stays
        if qty0 < 0:
            return round_half_even_div(-cost0 * qty1, -qty0)
        return round_half_even_div(cost0 * qty1, qty0)
    return qty1 * price  # crossed zero: the new side opened at this price


def ratio(numerator: int, denominator: int) -> str:
    if not denominator:
        return "0"
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0000000001")))
