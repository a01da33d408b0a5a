"""The IB paper account behind the TWS stand-in: the stand-in broker's book plus IB's commissions.

Orders, positions and cash are ``standins.broker.Broker``'s (the same venue
simulator and fill model as the Alpaca stand-in, trading on the same published
bars), kept as a separate account: IB and Alpaca are two brokers on one market.
IB charges commissions, Alpaca does not, so each fill here also pays IB's
fixed-rate schedule and says so (the commission report of the execution).
"""

from __future__ import annotations

from typing import Any

from core.commands import Fill
from standins.broker import Broker

PER_SHARE = 5_000_000  # $0.005 per share (IB Pro "fixed" US stock pricing), nano-units
MIN_PER_ORDER = 1_000_000_000  # $1.00 minimum
MAX_RATE_DIVISOR = 100  # at most 1% of the trade value


def commission(quantity: int, price: int) -> int:
    """IB fixed pricing for one execution, nano-units: 0.5¢/share, ≥ $1, ≤ 1% of value.

    (IB applies the minimum per order; charging it per execution overstates
    the cost of orders that fill in several parts, which the stand-in accepts
    as the simpler, conservative rule.)
    """
    value = quantity * price
    return min(max(quantity * PER_SHARE, MIN_PER_ORDER), value // MAX_RATE_DIVISOR)


class IbBook(Broker):
    """``Broker`` whose fills also pay (and report) IB's commission."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.commissions: dict[str, int] = {}  # book execution id → commission

    def _fill(self, time_ns: int, fill: Fill) -> dict[str, Any]:
        body = super()._fill(time_ns, fill)
        fee = commission(fill.quantity, fill.price)
        self.cash -= fee
        body["commission"] = fee
        body["fill_price"] = fill.price
        body["fill_qty"] = fill.quantity
        body["venue"] = fill.venue
        self.commissions[body["execution_id"]] = fee
        return body
