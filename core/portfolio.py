"""Portfolio and risk (SPEC §6): cash, positions, P&L, sizing and limits.

Everything is exact integer arithmetic. A position keeps its *cost* (the
signed notional paid for the open quantity) rather than an average price, so
that realised + unrealised P&L − fees equals equity − initial cash to the
nano-unit, whatever the sequence of partial fills, reductions and flips.

Entries are approved against the limits *including* quantity still being
worked by open entry orders (a reservation), so that fills can never carry
the book past a limit that was checked when the order was still unfilled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from core.commands import Side
from core.errors import BadInput
from core.money import format_price, round_half_even_div

BPS = 10_000


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """SPEC §6's risk policy; the defaults are the SPEC's numbers.

    ``risk_per_trade_bps`` 100 = 1% of equity lost if the stop is hit;
    ``max_gross_per_side_bps`` 20000 = 200% of equity long and 200% short.
    """

    risk_per_trade_bps: int = 100
    max_positions: int = 20
    max_gross_per_side_bps: int = 20_000

    def tightened(self, overrides: dict[str, Any]) -> RiskLimits:
        """Apply a config ``[risk]`` table; any loosening is refused (BadInput)."""
        result = self
        for name, value in sorted(overrides.items()):
            if name not in self.__dataclass_fields__:
                raise BadInput(f"risk.{name}", value, "is not a risk limit")
            if type(value) is not int or value <= 0:
                raise BadInput(f"risk.{name}", value, "must be a positive integer")
            current = getattr(self, name)
            if value > current:
                raise BadInput(
                    f"risk.{name}", value, f"may only tighten the limit (at most {current})"
                )
            result = replace(result, **{name: value})
        return result


def notional(quantity: int, price: int, decimals: int = 0) -> int:
    """|quantity| × price in nano-units, rounded half-even when fractional units."""
    magnitude = abs(quantity) * price
    if decimals == 0:
        return magnitude
    return round_half_even_div(magnitude, 10**decimals)


@dataclass(slots=True)
class Position:
    """One symbol's book entry; ``quantity`` is signed (negative = short)."""

    symbol: str
    decimals: int = 0
    quantity: int = 0
    cost: int = 0  # signed notional of the open quantity (negative for shorts)
    realized: int = 0
    fees: int = 0

    @property
    def direction(self) -> int:
        return (self.quantity > 0) - (self.quantity < 0)


@dataclass(frozen=True, slots=True)
class PositionChange:
    symbol: str
    before: int
    after: int
    realized: int


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """The outcome of an entry request, kept whether approved or not."""

    symbol: str
    direction: int
    entry: int
    stop: int | None
    equity: int
    risk_quantity: int  # what 1%-risk sizing asked for (whole lots)
    quantity: int  # what was approved (0 = refused)
    reason: str  # "ok", "reduced: ...", "refused: ..."
    side_exposure_after: int  # committed exposure of that side if fully filled
    side_limit: int

    @property
    def approved(self) -> bool:
        return self.quantity > 0

    def as_payload(self) -> dict[str, object]:
        return {
            "symbol": self.symbol,
            "direction": self.direction,
            "entry": self.entry,
            "stop": self.stop,
            "equity": self.equity,
            "risk_quantity": self.risk_quantity,
            "quantity": self.quantity,
            "reason": self.reason,
            "side_exposure_after": self.side_exposure_after,
            "side_limit": self.side_limit,
        }


@dataclass(slots=True)
class Reservation:
    """An approved entry not yet (fully) filled; counts against the limits."""

    direction: int
    remaining: int
    price: int
    decimals: int


@dataclass(slots=True)
class Portfolio:
    """Cash and positions, marked at the last price seen for each symbol."""

    initial_cash: int
    limits: RiskLimits = field(default_factory=RiskLimits)
    cash: int = 0
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    fees_paid: int = 0
    net_flows: int = 0  # Σ deposits − withdrawals applied (not P&L)
    financing: int = 0  # Σ charges (borrow, margin interest; < 0 = paid): P&L

    def __post_init__(self) -> None:
        if type(self.initial_cash) is not int:
            raise BadInput("initial_cash", self.initial_cash, "must be an integer of nano-units")
        self.cash = self.initial_cash

    # ------------------------------------------------------------- marking
    def mark(self, symbol: str, price: int) -> None:
        self.marks[symbol] = price

    def quantity(self, symbol: str) -> int:
        position = self.positions.get(symbol)
        return position.quantity if position is not None else 0

    def market_value(self, symbol: str) -> int:
        """Signed marked value of the position (unmarked positions at cost)."""
        position = self.positions.get(symbol)
        if position is None or position.quantity == 0:
            return 0
        mark = self.marks.get(symbol)
        if mark is None:
            return position.cost
        value = notional(position.quantity, mark, position.decimals)
        return value if position.quantity > 0 else -value

    def equity(self) -> int:
        return self.cash + sum(self.market_value(s) for s in self.positions)

    def unrealized(self, symbol: str) -> int:
        position = self.positions.get(symbol)
        if position is None:
            return 0
        return self.market_value(symbol) - position.cost

    def realized(self) -> int:
        return sum(p.realized for p in self.positions.values())

    def side_exposure(self, direction: int, *, include_reservations: bool = True) -> int:
        """Gross marked exposure of one side (+1 long, −1 short), nano-units."""
        total = 0
        for symbol, position in self.positions.items():
            if position.direction == direction:
                total += abs(self.market_value(symbol))
        if include_reservations:
            for reservation in self.reservations.values():
                if reservation.direction == direction:
                    total += notional(
                        reservation.remaining, reservation.price, reservation.decimals
                    )
        return total

    def exposure_at(self, direction: int, symbol: str, price: int) -> tuple[int, int]:
        """(gross exposure of one side, equity), both with ``symbol`` marked at ``price``.

        Positions only (no reservations): what the book *is* right after a
        fill at ``price``, the number the 200%-per-side cap is held to.
        """
        exposure = 0
        equity = self.cash
        for name, position in self.positions.items():
            if position.quantity == 0:
                continue
            if name == symbol:
                value = notional(position.quantity, price, position.decimals)
                value = value if position.quantity > 0 else -value
            else:
                value = self.market_value(name)
            equity += value
            if position.direction == direction:
                exposure += abs(value)
        return exposure, equity

    def open_position_count(self, *, include_reservations: bool = True) -> int:
        symbols = {s for s, p in self.positions.items() if p.quantity != 0}
        if include_reservations:
            symbols.update(s for s, r in self.reservations.items() if r.remaining > 0)
        return len(symbols)

    def pnl(self) -> int:
        """Trading P&L: equity less the money the owner put in (initial + flows)."""
        return self.equity() - self.initial_cash - self.net_flows

    # ---------------------------------------------------------- cash flows
    def apply_cash_flow(self, amount: int) -> None:
        """Book a deposit (> 0) or withdrawal (< 0); one that would leave no equity is refused.

        The broker is the truth about money that moved, so a withdrawal is
        booked even when it takes cash below zero: on margin, with long
        positions, cash is often negative and excess equity can still be paid
        out. Only a withdrawal of all the equity or more is refused: no broker
        pays that out, so the report is wrong, and booking it would size every
        next order from a negative account. Refused rather than clipped: a
        person must look at it.
        """
        if type(amount) is not int or amount == 0:
            raise BadInput("amount", amount, "must be a non-zero integer of nano-units")
        if amount < 0 and self.equity() + amount <= 0:
            raise BadInput(
                "amount",
                amount,
                f"withdrawal of {format_price(-amount)} would leave no equity"
                f" (equity {format_price(self.equity())})",
            )
        self.cash += amount
        self.net_flows += amount

    def apply_charge(self, amount: int) -> None:
        """Book a financing charge (< 0) or credit (> 0): cash and P&L move."""
        if type(amount) is not int or amount == 0:
            raise BadInput("amount", amount, "must be a non-zero integer of nano-units")
        self.cash += amount
        self.financing += amount

    # --------------------------------------------------------------- fills
    def apply_fill(
        self, symbol: str, side: Side, quantity: int, price: int, fee: int, decimals: int = 0
    ) -> PositionChange:
        """Book one execution: cash, position, cost and realised P&L, exactly."""
        position = self.positions.get(symbol)
        if position is None:
            position = Position(symbol=symbol, decimals=decimals)
            self.positions[symbol] = position
        sign = side.sign
        before = position.quantity
        total = notional(quantity, price, position.decimals)
        self.cash -= sign * total + fee
        self.fees_paid += fee
        position.fees += fee
        realized = 0
        opening = quantity
        opening_notional = total
        if before != 0 and (before > 0) != (sign > 0):
            closing = min(quantity, abs(before))
            closing_notional = notional(closing, price, position.decimals)
            removed = _proportional(position.cost, closing, abs(before))
            realized = -(sign * closing_notional + removed)
            position.cost -= removed
            position.quantity += sign * closing
            position.realized += realized
            opening = quantity - closing
            opening_notional = total - closing_notional
        if opening:
            position.cost += sign * opening_notional
            position.quantity += sign * opening
        self._consume_reservation(symbol, sign, quantity)
        return PositionChange(symbol, before, position.quantity, realized)

    def _consume_reservation(self, symbol: str, sign: int, quantity: int) -> None:
        reservation = self.reservations.get(symbol)
        if reservation is not None and reservation.direction == sign:
            reservation.remaining = max(0, reservation.remaining - quantity)

    # -------------------------------------------------------------- sizing
    def size_entry(
        self,
        symbol: str,
        direction: int,
        entry: int,
        stop: int | None,
        lot: int,
        decimals: int = 0,
        headroom_bps: int = 0,
    ) -> SizingDecision:
        """SPEC §6 sizing: 1% risk to the stop, whole lots, then the limits.

        ``qty = floor(risk · equity / |entry − stop|)`` in lots; reduced to fit
        the side's gross limit; refused at the position cap. Nothing is booked
        here: ``reserve`` commits an approved decision.

        ``headroom_bps`` is the adverse move expected between the decision and
        the fills (spread, impact, a bar or two of drift): the gross limit is
        fitted at ``entry × (1 + headroom)`` so that the fills, not just the
        decision close, stay inside 200% of equity.
        """
        equity = self.equity()
        limits = self.limits
        side_limit = max(0, equity) * limits.max_gross_per_side_bps // BPS
        current = self.side_exposure(direction)

        def decide(risk_qty: int, qty: int, reason: str) -> SizingDecision:
            after = current + notional(qty, entry, decimals)
            return SizingDecision(
                symbol, direction, entry, stop, equity, risk_qty, qty, reason, after, side_limit
            )

        if direction not in (1, -1):
            return decide(0, 0, f"refused: direction {direction} is not an entry")
        if equity <= 0:
            return decide(0, 0, "refused: equity is not positive")
        if stop is None:
            return decide(0, 0, "refused: no stop to size the risk from")
        distance = abs(entry - stop)
        if distance == 0:
            return decide(0, 0, "refused: stop equals the entry price")
        if (stop - entry) * direction > 0:
            return decide(0, 0, "refused: stop is on the wrong side of the entry")
        if self.quantity(symbol) != 0 or symbol in self.reservations:
            return decide(0, 0, "refused: symbol already has a position or working entry")
        scale = 10**decimals
        units = limits.risk_per_trade_bps * equity * scale // (BPS * distance)
        risk_qty = units // lot * lot
        if risk_qty <= 0:
            return decide(0, 0, "refused: 1% risk is less than one lot at this stop")
        if self.open_position_count() >= limits.max_positions:
            return decide(risk_qty, 0, f"refused: {limits.max_positions} positions already open")
        room = side_limit - current
        priced = entry + entry * max(0, headroom_bps) // BPS
        cap = max(0, room) * scale // priced // lot * lot
        if cap <= 0:
            side = "long" if direction > 0 else "short"
            return decide(risk_qty, 0, f"refused: gross {side} exposure at its limit")
        if cap < risk_qty:
            side = "long" if direction > 0 else "short"
            return decide(risk_qty, cap, f"reduced: gross {side} exposure limit")
        return decide(risk_qty, risk_qty, "ok")

    def reserve(self, decision: SizingDecision, decimals: int = 0) -> None:
        if decision.approved:
            self.reservations[decision.symbol] = Reservation(
                decision.direction, decision.quantity, decision.entry, decimals
            )

    def release(self, symbol: str) -> None:
        """The entry order is finished: its unfilled remainder no longer counts."""
        self.reservations.pop(symbol, None)


def _proportional(total: int, part: int, whole: int) -> int:
    """total × part / whole, rounded half-even, exact when part == whole."""
    if part == whole:
        return total
    magnitude = round_half_even_div(abs(total) * part, whole)
    return magnitude if total >= 0 else -magnitude
