"""Exact money at the boundary (SPEC principle 4)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from core.money import (
    format_price,
    price_from_decimal,
    price_to_decimal,
    quantity_from_decimal,
    round_half_even_div,
    round_half_up_div,
)

nine_places = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(-(10**20), 10**20),
    st.integers(0, 9),
)


@settings(max_examples=300, deadline=None)
@given(value=nine_places)
def test_decimal_round_trip_is_exact(value: Decimal) -> None:
    price = price_from_decimal(value)
    assert isinstance(price, int)
    assert price == int(value * 10**9)
    back = price_to_decimal(price)
    assert back == value
    # text forms in and out agree too
    assert price_from_decimal(str(value)) == price
    assert price_from_decimal(format_price(price)) == price
    assert "E" not in format_price(price)


@settings(max_examples=200, deadline=None)
@given(
    units=st.integers(-(10**15), 10**15).filter(lambda u: u % 10 != 0), places=st.integers(10, 14)
)
def test_finer_than_nano_is_refused_naming_the_field(units: int, places: int) -> None:
    value = Decimal(units).scaleb(-places)
    with pytest.raises(BadInput) as info:
        price_from_decimal(value, "limit_price")
    assert info.value.field == "limit_price"
    assert info.value.value == value
    assert "limit_price" in str(info.value)


@pytest.mark.parametrize("bad", [1.5, 0.1, float("nan"), True])
def test_floats_and_bools_are_refused(bad: object) -> None:
    with pytest.raises(BadInput) as info:
        price_from_decimal(bad, "open")
    assert info.value.field == "open"
    assert "open" in str(info.value)


@pytest.mark.parametrize("bad", ["abc", "", "1.2.3", "NaN", "Infinity", "-inf", "1e"])
def test_non_numbers_are_refused(bad: str) -> None:
    with pytest.raises(BadInput) as info:
        price_from_decimal(bad, "close")
    assert info.value.field == "close"
    assert repr(bad) in str(info.value)


def test_known_values() -> None:
    assert price_from_decimal("0.000000001") == 1
    assert price_from_decimal("12.5") == 12_500_000_000
    assert price_from_decimal(" 7 ") == 7_000_000_000
    assert price_from_decimal(3) == 3_000_000_000
    assert format_price(100_000_000_000) == "100"
    assert format_price(12_500_000_000) == "12.5"
    assert format_price(100_000) == "0.0001"
    assert price_to_decimal(100 * 10**9) == Decimal(100)


def test_quantity_decimals() -> None:
    assert quantity_from_decimal("1.25", 2) == 125
    with pytest.raises(BadInput) as info:
        quantity_from_decimal("1.255", 2, "qty")
    assert info.value.field == "qty"


def _ref_half_even(n: int, d: int) -> int:
    return round(Fraction(n, d))  # Fraction.__round__ rounds half to even


def _ref_half_up(n: int, d: int) -> int:
    q = Fraction(n, d)
    floor = q.numerator // q.denominator
    return floor + 1 if q - floor >= Fraction(1, 2) else floor


@settings(max_examples=500, deadline=None)
@given(n=st.integers(-(10**30), 10**30), d=st.integers(1, 10**15))
def test_rounding_divisions_match_fraction_reference(n: int, d: int) -> None:
    assert round_half_even_div(n, d) == _ref_half_even(n, d)
    assert round_half_up_div(n, d) == _ref_half_up(n, d)


@settings(max_examples=300, deadline=None)
@given(q=st.integers(-(10**12), 10**12), d=st.integers(1, 10**6).map(lambda x: 2 * x))
def test_exact_halves(q: int, d: int) -> None:
    """n/d exactly halfway between q and q+1."""
    n = q * d + d // 2
    assert round_half_even_div(n, d) == (q if q % 2 == 0 else q + 1)
    assert round_half_up_div(n, d) == q + 1


@pytest.mark.parametrize("fn", [round_half_even_div, round_half_up_div])
@pytest.mark.parametrize("d", [0, -3])
def test_non_positive_denominator_is_refused(fn, d: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        fn(10, d)


# Regression (was a bug, found by this suite): core/money.py price_from_decimal calls
# dec.scaleb(9) unguarded; a value such as '1e999999' overflows the default decimal context and
# escapes as decimal.Overflow instead of BadInput naming the field
def test_absurd_exponent_is_bad_input() -> None:
    with pytest.raises(BadInput) as info:
        price_from_decimal("1e999999", "open")
    assert info.value.field == "open"


def test_magnitude_limit_is_named() -> None:
    assert price_from_decimal("1e20") == 10**29
    with pytest.raises(BadInput) as info:
        price_from_decimal("1e31", "high")
    assert info.value.field == "high"
    assert "10^30" in str(info.value)


def test_error_message_always_forms_for_huge_values() -> None:
    err = BadInput("volume", 10**5000, "too big")
    assert str(err).startswith("volume=")
    assert len(str(err)) < 200
    long_text = "x" * 500
    assert len(str(BadInput("symbol", long_text, "bad"))) < 200


@given(
    st.one_of(
        # Decimal's default context holds 28 digits; past that it rounded and
        # the integer formatter stays exact, so the comparison stops there.
        st.integers(-(10**28) + 1, 10**28 - 1),
        st.integers(-(10**6), 10**6).map(lambda units: units * 10**7),  # cents
        st.integers(0, 10**12).map(lambda units: units * 10**9),  # whole dollars
    )
)
@settings(max_examples=2000)
def test_format_price_is_the_normalised_decimal_text(price: int) -> None:
    """The integer formatter prints exactly what the Decimal route printed."""
    assert format_price(price) == format(price_to_decimal(price), "f")


def test_format_price_stays_exact_past_decimal_precision() -> None:
    assert format_price(10**28 + 1) == "10000000000000000000.000000001"
    assert format_price(-(10**9) - 5) == "-1.000000005"
