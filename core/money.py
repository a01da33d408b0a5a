"""Exact money: prices are integers of 10⁻⁹ of the quote currency.

Floats never carry money (SPEC principle 4). ``Decimal`` is the only way in and
out, and conversion refuses anything that would need rounding, so a price that
enters the core leaves it unchanged.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import NewType

from core.errors import BadInput

Price = NewType("Price", int)
"""A price in nano-units (10⁻⁹) of the quote currency."""

Quantity = NewType("Quantity", int)
"""A quantity in the instrument's smallest unit (a share, or a fraction of one)."""

PRICE_SCALE = 10**9
_MAX_EXPONENT = 30
"""No price, quantity or balance the system handles reaches 10³⁰; refusing
larger values up front keeps Decimal scaling away from context overflow."""


def to_decimal_input(value: object, field: str) -> Decimal:
    """Parse a boundary value (str, int or Decimal) into a finite Decimal.

    Floats are refused: they have usually already lost the exact value.
    """
    if isinstance(value, (bool, float)):
        raise BadInput(field, value, "must be a decimal string, int or Decimal, not float")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise BadInput(field, value, "is not a number") from None
    if not result.is_finite():
        raise BadInput(field, value, "is not a finite number")
    if result and result.adjusted() > _MAX_EXPONENT:
        raise BadInput(field, value, f"is larger than 10^{_MAX_EXPONENT}")
    return result


def price_from_decimal(value: object, field: str = "price") -> Price:
    """Exact conversion to nano-units; refuses values finer than 10⁻⁹."""
    dec = to_decimal_input(value, field)
    scaled = dec.scaleb(9)
    if scaled != scaled.to_integral_value():
        raise BadInput(field, value, "has more than 9 decimal places")
    return Price(int(scaled))


def price_to_decimal(price: int) -> Decimal:
    """The exact Decimal of a nano-unit price, normalised (no trailing zeros)."""
    dec = Decimal(price).scaleb(-9)
    normal = dec.normalize()
    # normalize() may switch to exponent form for integers (1E+2); keep plain digits.
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def format_price(price: int) -> str:
    """Plain decimal text for reports and CSV (``12.5``, ``100``, ``0.0001``).

    Integer arithmetic, not ``Decimal``: the outputs print millions of prices
    and this is ~5× cheaper, with exactly the text of
    ``format(price_to_decimal(price), "f")`` (a property test holds them equal).
    """
    whole, frac = divmod(-price if price < 0 else price, PRICE_SCALE)
    sign = "-" if price < 0 else ""
    if not frac:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:09d}".rstrip("0")


def quantity_from_decimal(value: object, decimals: int, field: str = "quantity") -> Quantity:
    """Exact conversion to the instrument's smallest unit (``decimals`` places)."""
    dec = to_decimal_input(value, field)
    scaled = dec.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise BadInput(field, value, f"has more than {decimals} decimal places")
    return Quantity(int(scaled))


def quantity_to_decimal(quantity: int, decimals: int) -> Decimal:
    return Decimal(quantity).scaleb(-decimals) if decimals else Decimal(quantity)


def round_half_even_div(numerator: int, denominator: int) -> int:
    """Integer division rounded half to even (SPEC §4.1's ATR rounding)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounded half up (SPEC §4.1's granularity rounding)."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (2 * numerator + denominator) // (2 * denominator)


def bps(numerator: int, denominator: int) -> float:
    """A ratio in basis points; floats are fine here, this is a statistic."""
    return numerator * 1e4 / denominator
