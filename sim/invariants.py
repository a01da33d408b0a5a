"""What must hold throughout every run (issue 4, item 7; scheduled by issue 18).

The runner checks after every event that can change what is checked (a
fill, an order update, a cash flow, a timer, a bar that produced commands),
once per market minute whatever happened, and once at the end over every
order's whole history; a quiet bar (no command) cannot move positions,
cash, orders or approved decisions, so re-deriving them there only cost
time (a third of a run's profile).

The checker keeps its own ledger of the executions the venues delivered
(first delivery of each exec id), so the engine is compared with the world,
not with itself: position = Σ fills, cash = initial − Σ signed notional −
fees, no order filled past its quantity (engine and venue side), only legal
order transitions, the position cap and every approved entry within its
side limit, every fill that adds to its side leaving that side's gross
exposure within its limit at the fill price (or the engine raising a
``risk_breach`` for it), and each signal about the bar just delivered and
nothing later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.commands import CashFlow, Fill, OrdStatus
from core.engine import Engine
from core.execution.orders import is_legal
from core.portfolio import BPS, notional
from core.signals import AgentSignal


class InvariantViolation(Exception):
    def __init__(self, what: str, seed: int, at_ns: int, reproduce: str) -> None:
        self.what = what
        self.seed = seed
        self.at_ns = at_ns
        self.reproduce = reproduce
        super().__init__(f"{self.headline}\n  reproduce: {reproduce}")

    @property
    def headline(self) -> str:
        """What was violated, when, under which seed (without the reproduce line)."""
        return f"invariant violated at {self.at_ns} (seed {self.seed}): {self.what}"


@dataclass
class InvariantChecker:
    initial_cash: int
    seed: int
    reproduce: str
    checks: int = 0
    _positions: dict[str, int] = field(default_factory=dict)
    _cash: int = 0
    _seen: set[str] = field(default_factory=set)
    _checked_history: dict[str, int] = field(default_factory=dict)
    _decisions_seen: int = 0

    def __post_init__(self) -> None:
        self._cash = self.initial_cash

    def fail(self, what: str, at_ns: int) -> None:
        raise InvariantViolation(what, self.seed, at_ns, self.reproduce)

    def on_delivered_fill(self, fill: Fill) -> None:
        """Book a delivered execution in the world's ledger (duplicates once)."""
        if fill.exec_id in self._seen:
            return
        self._seen.add(fill.exec_id)
        signed = fill.quantity * fill.side.sign
        self._positions[fill.symbol] = self._positions.get(fill.symbol, 0) + signed
        self._cash -= signed * fill.price + fill.fee

    def on_delivered_flow(self, flow: CashFlow) -> None:
        """A charge or transfer the broker booked (each id once)."""
        key = f"flow:{flow.flow_id}"
        if key in self._seen:
            return
        self._seen.add(key)
        self._cash += flow.amount

    def ledger(self) -> tuple[dict[str, int], int]:
        """The world's positions and cash (what the broker charges interest on)."""
        return dict(self._positions), self._cash

    def check_fill_exposure(
        self, engine: Engine, fill: Fill, breaches_before: int, at_ns: int
    ) -> None:
        """After a fill that adds to its side: that side within the cap at the fill price.

        From the world's ledger (positions, cash) and the engine's marks (the
        last close of every other symbol); a breach the engine itself raised
        (``risk_breach``) is allowed, a silent one is not.
        """
        direction = fill.side.sign
        held = self._positions.get(fill.symbol, 0)
        if held * direction <= 0:
            return
        marks = engine.portfolio.marks
        decimals = {s: p.decimals for s, p in engine.portfolio.positions.items()}
        exposure = 0
        equity = self._cash
        for symbol, quantity in self._positions.items():
            if quantity == 0:
                continue
            price = fill.price if symbol == fill.symbol else marks.get(symbol, fill.price)
            value = notional(quantity, price, decimals.get(symbol, 0))
            equity += value if quantity > 0 else -value
            if (quantity > 0) == (direction > 0):
                exposure += value
        limit = max(0, equity) * engine.risk_limits.max_gross_per_side_bps // BPS
        if exposure > limit and engine.counters()["risk_breaches"] == breaches_before:
            self.fail(
                f"fill {fill.exec_id} takes {fill.symbol}'s side to exposure {exposure}"
                f" > limit {limit} at the fill price, and no risk_breach was raised",
                at_ns,
            )

    def check_signal(self, signal: AgentSignal, bar_time_ns: int, at_ns: int) -> None:
        if signal.time_ns != bar_time_ns:
            self.fail(f"signal for {signal.time_ns} given with bar {bar_time_ns}", at_ns)

    def check(self, engine: Engine, at_ns: int, touched: list[str] | None = None) -> None:
        """All invariants; ``touched`` limits the per-order checks to those orders."""
        self.checks += 1
        positions = engine.positions()
        for symbol in set(positions) | set(self._positions):
            mine = self._positions.get(symbol, 0)
            theirs = positions.get(symbol, 0)
            if mine != theirs:
                self.fail(f"{symbol}: engine position {theirs} != Σ delivered fills {mine}", at_ns)
        if engine.cash != self._cash:
            self.fail(
                f"cash {engine.cash} != initial − Σ fills − fees + Σ charges = {self._cash}",
                at_ns,
            )
        orders = (
            engine.orders()
            if touched is None
            else [o for o in (engine.order(i) for i in touched) if o is not None]
        )
        for order in orders:
            if order.filled > order.quantity:
                self.fail(
                    f"{order.client_order_id} overfilled: {order.filled} > {order.quantity}", at_ns
                )
            key = order.ids[0]
            start = self._checked_history.get(key, 0)
            for before, after in order.history[start:]:
                if not is_legal(before, after):
                    self.fail(
                        f"{order.client_order_id}: illegal {before.value} -> {after.value}", at_ns
                    )
            self._checked_history[key] = len(order.history)
        self._check_resting_stops(engine, positions, at_ns)
        limits = engine.risk_limits
        count = engine.portfolio.open_position_count(include_reservations=False)
        if count > limits.max_positions and engine.counters()["risk_breaches"] == 0:
            self.fail(f"{count} open positions > {limits.max_positions}", at_ns)
        decisions = engine.decisions()
        for decision in decisions[self._decisions_seen :]:
            if decision.approved and decision.side_exposure_after > decision.side_limit:
                self.fail(
                    f"{decision.symbol}: approved entry takes exposure to "
                    f"{decision.side_exposure_after} > limit {decision.side_limit}",
                    at_ns,
                )
        self._decisions_seen = len(decisions)

    def _check_resting_stops(self, engine: Engine, positions: dict[str, int], at_ns: int) -> None:
        """A protective stop at rest (no request of ours pending) closes the position:
        the opposite side, never more than the position, at a positive stop price."""
        for order in engine.protective_stops():
            if order.is_terminal or order.pending is not None:
                continue
            if order.status is OrdStatus.PENDING_NEW:
                continue  # not yet at the venue: sized at the last decision, may trail a fill
            held = positions.get(order.symbol, 0)
            if not order.stop_price or order.stop_price <= 0:
                self.fail(f"{order.client_order_id}: resting stop without a stop price", at_ns)
            if held == 0 or order.side.sign * held > 0 or order.leaves > abs(held):
                self.fail(
                    f"{order.client_order_id}: resting {order.side.value} stop for"
                    f" {order.leaves} with position {held} in {order.symbol}",
                    at_ns,
                )

    def check_venue_book(self, executed: dict[str, list[Fill]], at_ns: int) -> None:
        """At the end: every execution a venue printed reached the engine's ledger."""
        printed = {f.exec_id for fills in executed.values() for f in fills}
        missing = printed - self._seen
        if missing:
            self.fail(f"{len(missing)} executions never delivered: {sorted(missing)[:5]}", at_ns)
