"""The IB paper account behind the TWS stand-in: the stand-in broker's book, IB's rules.

Orders and the venue simulator are ``standins.broker.Broker``'s (the same fill
model as the Alpaca stand-in, trading on the same published bars), kept as a
separate account: IB and Alpaca are two brokers on one market. What differs:

* IB charges commissions (fixed pricing), reported per execution;
* an IB paper account is a Reg T margin account: short sales are allowed and
  buying power is twice the equity less the gross position value and what open
  orders would add (SPEC §6's 200% long / 200% short), where the Alpaca
  stand-in is a cash account;
* average cost follows shorts too (a cover keeps the short's average; a fill
  that crosses zero opens the new side at its price).
"""

from __future__ import annotations

from typing import Any

from core.commands import Fill, Side
from standins import wire
from standins.broker import ApiError, Broker

PER_SHARE = 5_000_000  # $0.005 per share (IB Pro "fixed" US stock pricing), nano-units
MIN_PER_ORDER = 1_000_000_000  # $1.00 minimum
MAX_RATE_DIVISOR = 100  # at most 1% of the trade value
REG_T_LEVERAGE = 2  # initial margin 50%: gross positions up to 2 × equity


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

    # ------------------------------------------------------------ margin
    def gross_value(self) -> int:
        return sum(abs(p.qty) * self.last_price.get(s, 0) for s, p in self.positions.items())

    def buying_power(self) -> int:
        reserved = 0
        for order in self.orders.values():
            if order.open:
                price = order.limit_price or self.last_price.get(order.symbol, 0)
                reserved += self._adding(order.symbol, order.side, order.leaves) * price
        return max(0, REG_T_LEVERAGE * self.equity() - self.gross_value() - reserved)

    def _adding(self, symbol: str, side: Side, qty: int) -> int:
        """How much of an order adds exposure (the rest closes an existing position)."""
        held = self.positions[symbol].qty if symbol in self.positions else 0
        closing = min(qty, held) if side is Side.SELL else min(qty, max(0, -held))
        return qty - max(0, closing)

    def _check_affordable(self, symbol: str, side: Side, qty: int, limit: int | None) -> None:
        price = limit if limit is not None else self.last_price.get(symbol, 0)
        if self._adding(symbol, side, qty) * price > self.buying_power():
            raise ApiError(403, wire.FORBIDDEN, "insufficient buying power")
