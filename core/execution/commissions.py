"""Broker commissions and regulatory fees, from data (``commissions.json``).

One schedule per broker (Alpaca, IBKR Pro fixed and tiered, the prime
broker), each with its source stated in the table. The model is the same
wherever a fill is priced: the simulator charges it on every execution, and
the engine or gateway can estimate what a broker should have charged to set
beside what it reported.

A broker's commission is per order: ``per_share × shares``, at least the
minimum, at most the per-order maximum and a fraction of the order's value.
Fills arrive one by one, so a fill is charged the *increase* of its order's
running total (``OrderFees``): the minimum once, at the first fill, and the
cap never exceeded however the order is split. Regulatory fees (SEC Section
31 on sale proceeds, FINRA TAF per share sold, capped per trade) apply to
sells. Venue fees and rebates (``venues.json``) are added for brokers that
pass them through. Everything is exact integers of nano-units; nothing is
rounded to cents (brokers round their statements, the model does not).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources

from core.commands import Side
from core.errors import BadInput
from core.money import price_from_decimal
from core.portfolio import notional

_PPB = 10**9  # parts per billion: rates kept as exact integers


@dataclass(frozen=True, slots=True)
class Regulatory:
    sec_rate_ppb: int  # Section 31: fee per unit of sale proceeds, parts per billion
    taf_per_share: int  # nano-units per share sold
    taf_max_per_trade: int  # nano-units


@dataclass(frozen=True, slots=True)
class BrokerSchedule:
    name: str
    per_share: int  # nano-units
    min_per_order: int  # nano-units
    max_per_order: int | None  # nano-units
    max_fraction_ppb: int | None  # of the order's value, parts per billion
    venue_fees: bool  # exchange fees and rebates passed through
    regulatory_fees: bool
    source: str

    def commission(self, shares: int, value: int) -> int:
        """The commission of an order that has traded ``shares`` for ``value`` nano-units."""
        if shares <= 0:
            return 0
        amount = max(self.per_share * shares, self.min_per_order)
        if self.max_per_order is not None:
            amount = min(amount, self.max_per_order)
        if self.max_fraction_ppb is not None:
            amount = min(amount, value * self.max_fraction_ppb // _PPB)
        return amount


@dataclass(slots=True)
class OrderFees:
    """The running totals of one order, so each fill pays only its increase."""

    shares: int = 0
    value: int = 0
    commission: int = 0
    taf: int = 0


@dataclass(frozen=True, slots=True)
class FeeModel:
    """A broker schedule plus the regulatory fees: what one fill costs."""

    broker: BrokerSchedule
    regulatory: Regulatory
    _orders: dict[str, OrderFees] = field(default_factory=dict)

    def charge(
        self,
        order_id: str,
        side: Side,
        quantity: int,
        price: int,
        venue_fee: int,
        decimals: int = 0,
    ) -> int:
        """Fee of one fill (nano-units; negative = a net rebate)."""
        value = notional(quantity, price, decimals)
        running = self._orders.setdefault(order_id, OrderFees())
        running.shares += quantity
        running.value += value
        total = self.broker.commission(running.shares, running.value)
        fee = total - running.commission
        running.commission = total
        if self.broker.venue_fees:
            fee += venue_fee
        if self.broker.regulatory_fees and side is Side.SELL:
            reg = self.regulatory
            fee += -(-value * reg.sec_rate_ppb // _PPB)  # rounded up, as the SEC does
            taf_total = min(reg.taf_per_share * running.shares, reg.taf_max_per_trade)
            fee += taf_total - running.taf
            running.taf = taf_total
        return fee

    def rename(self, old_id: str, new_id: str) -> None:
        """A replaced order keeps its running totals under its new id."""
        if old_id in self._orders:
            self._orders[new_id] = self._orders.pop(old_id)


def _rate_ppb(text: str, name: str) -> int:
    value = Decimal(text) * _PPB
    if value != value.to_integral_value() or value < 0:
        raise BadInput(name, text, "must be a non-negative rate with at most 9 decimals")
    return int(value)


def parse_schedules(text: str) -> tuple[Regulatory, dict[str, BrokerSchedule]]:
    data = json.loads(text)
    reg = data["regulatory"]
    regulatory = Regulatory(
        _rate_ppb(reg["sec_section31_rate"], "regulatory.sec_section31_rate"),
        price_from_decimal(reg["finra_taf_per_share"], "regulatory.finra_taf_per_share"),
        price_from_decimal(reg["finra_taf_max_per_trade"], "regulatory.finra_taf_max_per_trade"),
    )
    brokers = {}
    for row in data["brokers"]:
        name = row["name"]
        brokers[name] = BrokerSchedule(
            name=name,
            per_share=price_from_decimal(row["per_share"], f"{name}.per_share"),
            min_per_order=price_from_decimal(row["min_per_order"], f"{name}.min_per_order"),
            max_per_order=None
            if row["max_per_order"] is None
            else price_from_decimal(row["max_per_order"], f"{name}.max_per_order"),
            max_fraction_ppb=None
            if row["max_fraction"] is None
            else _rate_ppb(row["max_fraction"], f"{name}.max_fraction"),
            venue_fees=bool(row["venue_fees"]),
            regulatory_fees=bool(row["regulatory_fees"]),
            source=row["source"],
        )
    return regulatory, brokers


def default_schedules() -> tuple[Regulatory, dict[str, BrokerSchedule]]:
    text = resources.files("core.execution").joinpath("commissions.json").read_text("utf-8")
    return parse_schedules(text)


BROKERS = ("alpaca", "ibkr_pro_fixed", "ibkr_pro_tiered", "prime")


def broker_for_equity(equity: int) -> str:
    """The broker an account of this size trades through (SPEC §7's tiers):
    retail at Alpaca, semi-institutional at IBKR (Pro tiered: venue fees and
    rebates passed through), institutional at the prime broker."""
    from core.tiers import AccountTier, tier_for_equity

    tier = tier_for_equity(equity)
    if tier is AccountTier.INSTITUTIONAL:
        return "prime"
    if tier is AccountTier.SEMI_INSTITUTIONAL:
        return "ibkr_pro_tiered"
    return "alpaca"


def fee_model(broker: str) -> FeeModel:
    """The packaged schedule of ``broker`` with the regulatory fees."""
    regulatory, brokers = default_schedules()
    if broker not in brokers:
        raise BadInput("broker", broker, f"must be one of {', '.join(sorted(brokers))}")
    return FeeModel(brokers[broker], regulatory)
