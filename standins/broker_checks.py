"""How the Alpaca stand-in reads a request's fields, and refuses bad ones with a 422.

Kept apart from the book so that every field rule (types, time in force,
quantities, prices, list parameters) sits in one room, each refusal naming the
field and value as Alpaca's answers do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.commands import OrderType, Side, TimeInForce
from core.errors import BadInput
from core.money import price_from_decimal, quantity_from_decimal
from standins import wire
from standins.broker_records import ApiError

if TYPE_CHECKING:
    from standins.broker import Broker


class RequestChecks:
    """Reads an Alpaca request's fields as Alpaca does, or refuses with its 422 answer.

    Each refusal is counted on the broker (``rejected_requests``), which the
    stand-in's state reports so tests can tell a refused request from a lost one.
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def invalid(self, message: str) -> ApiError:
        self.broker.rejected_requests += 1
        return ApiError(422, wire.UNPROCESSABLE, message)

    def enum(self, kind: type[Side], value: object, name: str) -> Side:
        try:
            return kind(str(value).lower())
        except ValueError:
            raise self.invalid(f"invalid {name}: {value!r}") from None

    def order_type(self, value: object) -> OrderType:
        text = str(value or "").lower()
        if text in ("market", "limit", "stop"):
            return OrderType(text)
        if text in ("stop_limit", "trailing_stop"):
            raise self.invalid(f"order type {text} is not supported by the stand-in")
        raise self.invalid(f"invalid order type: {value!r}")

    def tif(self, value: object) -> TimeInForce:
        text = str(value or "").lower()
        if text in ("day", "gtc", "ioc"):
            return TimeInForce(text)
        if text in ("opg", "cls", "fok"):
            raise self.invalid(f"time_in_force {text} is not supported by the stand-in")
        raise self.invalid(f"invalid time_in_force: {value!r}")

    def quantity(self, value: object, decimals: int) -> int:
        if value is None:
            raise self.invalid("qty is required")
        try:
            qty = quantity_from_decimal(str(value), decimals, "qty")
        except BadInput:
            raise self.invalid(f"qty must be a whole number of shares, got {value!r}") from None
        if qty <= 0:
            raise self.invalid(f"qty must be > 0, got {value!r}")
        return qty

    def stop(self, order_type: OrderType, value: object) -> int | None:
        if order_type is not OrderType.STOP:
            if value is not None:
                raise self.invalid(f"stop_price is not allowed for {order_type.value} orders")
            return None
        if value is None:
            raise self.invalid("stop_price is required for stop orders")
        try:
            price = price_from_decimal(str(value), "stop_price")
        except BadInput:
            raise self.invalid(f"invalid stop_price {value!r}") from None
        if price <= 0:
            raise self.invalid(f"stop_price must be > 0, got {value!r}")
        return price

    def limit(self, order_type: OrderType, value: object) -> int | None:
        if order_type in (OrderType.MARKET, OrderType.STOP):
            if value is not None:
                raise self.invalid(f"limit_price is not allowed for {order_type.value} orders")
            return None
        if value is None:
            raise self.invalid("limit_price is required for limit orders")
        try:
            price = price_from_decimal(str(value), "limit_price")
        except BadInput:
            raise self.invalid(f"invalid limit_price {value!r}") from None
        if price <= 0:
            raise self.invalid(f"limit_price must be > 0, got {value!r}")
        return price

    def int_param(self, text: str | None, default: int, name: str, low: int, high: int) -> int:
        if text is None or text == "":
            return default
        try:
            value = int(text)
        except ValueError:
            raise self.invalid(f"invalid {name}: {text!r}") from None
        if not low <= value <= high:
            raise self.invalid(f"{name} must be between {low} and {high}")
        return value

    def time_param(self, text: str | None, name: str) -> int | None:
        if not text:
            return None
        from sim.timefmt import parse_time

        try:
            return parse_time(text, name)
        except BadInput:
            raise self.invalid(f"invalid {name}: {text!r}") from None
