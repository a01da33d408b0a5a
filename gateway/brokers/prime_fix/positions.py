"""The prime broker's positions and cash, kept by the adapter itself.

A prime broker reports positions in its own files and portals, not in the
order session, so the adapter keeps a ledger: opening positions and cash
(settings), every execution booked before a restart, every one received
since. Equity marks the positions at the last bar or fill price.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.commands import Fill, Side
from gateway.brokers.base import Account


class PositionLedger:
    """Positions, cash and the last price of each symbol."""

    def __init__(self, opening_cash: int, opening_positions: Iterable[tuple[str, int]]) -> None:
        self.positions: dict[str, int] = {}
        self.cash = opening_cash
        for symbol, qty in opening_positions:
            self.positions[symbol] = self.positions.get(symbol, 0) + qty
        self.last_price: dict[str, int] = {}

    def book(self, fill: Fill) -> None:
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        qty = self.positions.get(fill.symbol, 0) + signed
        if qty:
            self.positions[fill.symbol] = qty
        else:
            self.positions.pop(fill.symbol, None)
        self.cash -= signed * fill.price + fill.fee
        self.last_price[fill.symbol] = fill.price

    def account(self) -> Account:
        held = sum(q * self.last_price.get(s, 0) for s, q in self.positions.items())
        equity = self.cash + held
        return Account(equity=equity, cash=self.cash, buying_power=equity, status="ACTIVE")
