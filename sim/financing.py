"""Short borrow and margin interest: what the simulated broker charges daily.

At every session close the broker accrues, for the calendar days until the
next session (a Friday close carries the weekend), on the world's own ledger
(positions from delivered fills, the last printed close of each symbol):

* **short borrow** — short market value × the symbol's annual borrow rate;
  general collateral unless the scenario marks the symbol hard to borrow;
* **debit interest** — negative cash × the annual margin rate.

Both are ACT/360, the money-market convention US brokers use, and are booked
as ``CashFlow(charge=True)``: cash and P&L move, the equity curve shows it,
``summary.json`` totals it. Rates are inputs (stated here with their basis),
not fitted numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.commands import CashFlow
from core.portfolio import notional

GC_BORROW_BPS = 25
"""General-collateral borrow fee, 0.25% a year: the usual rate for easy-to-borrow
US large caps (brokers quote GC names around 0.25–0.30% annualised)."""

DEBIT_RATE_BPS = 683
"""Margin debit rate, 6.83% a year: IBKR Pro's benchmark (the 2024 Fed funds
effective rate, 5.33%) plus its 1.5% spread for the first $100,000 tier."""

DAY_COUNT = 360
NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True, slots=True)
class FinancingRates:
    borrow_bps: int = GC_BORROW_BPS
    debit_bps: int = DEBIT_RATE_BPS
    hard_to_borrow: tuple[tuple[str, int], ...] = ()  # (symbol, annual bps)

    def borrow_rate(self, symbol: str) -> int:
        for name, bps in self.hard_to_borrow:
            if name == symbol:
                return bps
        return self.borrow_bps


def accrue(
    close_ns: int,
    days: int,
    positions: dict[str, int],
    closes: dict[str, int],
    decimals: dict[str, int],
    cash: int,
    rates: FinancingRates,
) -> list[CashFlow]:
    """The charges for ``days`` calendar days after the session that closed at ``close_ns``."""
    day = close_ns // NS_PER_DAY
    flows = []
    borrow = 0
    for symbol in sorted(positions):
        quantity = positions[symbol]
        if quantity >= 0 or symbol not in closes:
            continue
        value = notional(quantity, closes[symbol], decimals.get(symbol, 0))
        borrow += value * rates.borrow_rate(symbol) * days // (10_000 * DAY_COUNT)
    if borrow > 0:
        flows.append(CashFlow(close_ns, f"borrow-{day}", -borrow, "short borrow", True))
    if cash < 0:
        interest = -cash * rates.debit_bps * days // (10_000 * DAY_COUNT)
        if interest > 0:
            flows.append(
                CashFlow(close_ns, f"debit-{day}", -interest, "margin debit interest", True)
            )
    return flows


def accrual_days(closes: list[int]) -> dict[int, int]:
    """Calendar days each session close carries: to the next close's date (last: 1)."""
    ordered = sorted(closes)
    out = {}
    for i, close in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else close + NS_PER_DAY
        out[close] = max(1, nxt // NS_PER_DAY - close // NS_PER_DAY)
    return out
