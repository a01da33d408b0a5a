"""``Engine.handle(event) -> list[Command]``: the whole core behind one call.

The engine ties the per-symbol agents, the portfolio and the execution engine
together. It is a pure state machine: events carry their own time, the clock
and the random generator are injected, and every effect on the world is a
returned command. The simulator and the production gateway drive the same
object; the read-only accessors at the bottom are what their invariant
checks and reconciliations look at.

Ordering rules that matter:

* A bar is first added to the symbol's market statistics and marks the book,
  then the agent sees it; an intent formed on bar *t*'s close is sent as
  orders stamped at that close, so it trades from bar *t+1* on (no look-ahead).
* The agents do not track positions themselves: after every fill the engine
  tells the agent the portfolio's actual direction and stop
  (``set_position``), so a partially filled or rejected entry is never
  mistaken for a full position.
* A malformed or impossible event is refused with an ``Alert`` naming the
  field and the value, counted in ``rejected_inputs``, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np

from core.clock import Clock
from core.commands import (
    Alert,
    CashFlow,
    EngineCommand,
    Fill,
    OrderUpdate,
    OrdStatus,
    Record,
    Side,
    Timer,
)
from core.errors import BadInput
from core.events import Bar, BarSequenceGuard
from core.execution.cost_model import Urgency
from core.execution.engine import ExecutionEngine, Intent, Outcome, ParentOrder
from core.execution.orders import ChildOrder
from core.execution.stops import ProtectiveStops
from core.execution.venues import Venue
from core.health import SessionSchedule
from core.instruments import Instrument
from core.money import format_price
from core.operator import OPERATOR_ACTIONS, OperatorCommand
from core.portfolio import BPS, Portfolio, RiskLimits, SizingDecision, notional
from core.signals import AgentSignal, Reason, Signal
from core.tiers import TierCapabilities, capabilities_for_equity
from core.universe import Universe


class AgentLike(Protocol):
    """What the engine needs from ``core.agent.SymbolAgent``."""

    def on_bar(self, bar: Bar) -> AgentSignal: ...

    def set_position(self, direction: int, stop: int | None) -> None: ...

    @property
    def atr(self) -> int | None: ...


AgentFactory = Callable[[Instrument], AgentLike]


def default_agent_factory(instrument: Instrument) -> AgentLike:
    """The real signal agent, told its position by the engine (not self-tracking)."""
    from core.agent import SymbolAgent  # imported lazily: the agent is a sibling module

    return SymbolAgent(instrument, self_tracking=False)


_ENTRIES = {Signal.ENTER_LONG: 1, Signal.ENTER_SHORT: -1}
_EXITS = {Signal.EXIT_LONG: 1, Signal.EXIT_SHORT: -1}
_URGENCY_RANK = {Urgency.LOW: 0, Urgency.NORMAL: 1, Urgency.HIGH: 2}
STOP_CANCEL_TIMEOUT_NS = 60 * 10**9
"""How long an exit waits for its resting stop's cancel before an alert says so."""


class Engine:
    """The deterministic core: events in, commands out."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        initial_cash: int,
        clock: Clock,
        rng: np.random.Generator,
        *,
        limits: RiskLimits | None = None,
        agent_factory: AgentFactory = default_agent_factory,
        venues: list[Venue] | None = None,
        urgency: Urgency = Urgency.NORMAL,
        schedule: SessionSchedule | None = None,
        resting_stops: bool = False,
    ) -> None:
        """``urgency`` is the execution urgency of entries and level exits (stop
        exits are always HIGH): NORMAL prices risk at 1 / the trade's risk
        budget, LOW ignores risk and lets the cost model spread the order.
        ``schedule`` is the exchange calendar's sessions: the intraday volume
        profile is keyed by minutes since the open and plans end at the close
        (without one, the UTC day is the session). ``resting_stops``: after an
        entry fills, the position's stop rests at the broker as a stop order
        (``core.execution.stops``) instead of being checked at the bar's close;
        for shells whose broker takes stop orders."""
        universe = Universe(instruments)  # SPEC §5: unique, at most 30
        instruments = list(universe)
        symbols = universe.symbols
        if initial_cash <= 0:
            raise BadInput("initial_cash", initial_cash, "must be positive")
        self._clock = clock
        self._urgency = urgency
        self._now = 0
        self._instruments = {i.symbol: i for i in instruments}
        self._agents = {i.symbol: agent_factory(i) for i in instruments}
        self._portfolio = Portfolio(initial_cash, limits or RiskLimits())
        self._execution = ExecutionEngine(rng, venues, schedule)
        self._execution.exposure_room = self._exposure_room
        self._protective = ProtectiveStops(self._execution.book) if resting_stops else None
        # Exits waiting for their symbol's resting stop to be cancelled (symbol ->
        # urgency, when asked): the stop holds the shares at the broker, and an
        # exit sent beside it could sell them twice (``_start_exit``).
        self._exits_waiting: dict[str, tuple[Urgency, int, bool]] = {}
        self._guard = BarSequenceGuard()
        self._stops: dict[str, int | None] = {}
        self._directions: dict[str, int] = {s: 0 for s in symbols}
        self._decisions: list[SizingDecision] = []
        self._paused = False  # operator: no new entries (``OperatorCommand``)
        self._last_signals: dict[str, AgentSignal] = {}  # the agent's verdict on its last bar
        # Every cash-flow id decided (applied or refused): membership tests only,
        # never iterated, so its hash order cannot reach any output.
        self._flows: set[str] = set()
        self._counters: dict[str, int] = {
            "bars": 0,
            "cash_flows": 0,
            "charges": 0,
            "duplicate_cash_flows": 0,
            "refused_cash_flows": 0,
            "fills": 0,
            "duplicate_fills": 0,
            "late_fills": 0,
            "refused_fills": 0,
            "refused_updates": 0,
            "rejected_inputs": 0,
            "risk_breaches": 0,
            "operator_commands": 0,
            "entries_paused": 0,
        }
        for instrument in instruments:
            self._execution.market(instrument.symbol)

    # ------------------------------------------------------------- handle
    def handle(self, event: object) -> list[EngineCommand]:
        """Consume one event; return the commands it causes (possibly none)."""
        try:
            if type(event) is Bar:
                return self._on_bar(event)
            if type(event) is Fill:
                _check_fill(event)
                return self._on_fill(event)
            if type(event) is OrderUpdate:
                _check_update(event)
                return self._on_update(event)
            if type(event) is Timer:
                _check_time(event.time_ns)
                if type(event.key) is not str:
                    raise BadInput("key", event.key, "must be a string")
                return self._on_timer(event)
            if type(event) is CashFlow:
                _check_flow(event)
                return self._on_cash_flow(event)
            if type(event) is OperatorCommand:
                _check_operator(event)
                return self._on_operator(event)
            raise BadInput(
                "event",
                type(event).__name__,
                "is not a Bar, Fill, OrderUpdate, Timer, CashFlow or OperatorCommand",
            )
        except BadInput as exc:
            self._counters["rejected_inputs"] += 1
            return [Alert(self._now, "warning", "bad_input", str(exc))]

    def _advance(self, event_ns: int) -> int:
        now = self._clock.now_ns()
        if event_ns > now:
            now = event_ns
        if now > self._now:
            self._now = now
        return self._now

    def _caps(self) -> TierCapabilities:
        return capabilities_for_equity(self._portfolio.equity())

    # --------------------------------------------------------------- bars
    def _on_bar(self, bar: Bar) -> list[EngineCommand]:
        symbol = bar.symbol
        agent = self._agents.get(symbol)
        if agent is None:
            raise BadInput("symbol", symbol, "is not in the engine's universe")
        self._guard.check(bar)
        # The agent goes first: if it refuses the bar (BadInput), nothing in the
        # engine has changed yet. Its signal uses bars before this one only.
        signal = agent.on_bar(bar)
        self._guard.accept(bar)
        self._last_signals[symbol] = signal
        self._counters["bars"] += 1
        execution = self._execution
        market = execution.markets[symbol]
        now = self._advance(bar.time_ns + market.bar_period_ns)
        market.on_bar(bar)
        self._portfolio.marks[symbol] = bar.close
        commands: list[EngineCommand] = []
        if execution.active_parents(symbol):
            self._absorb(execution.on_bar(now, bar, self._caps()), commands)
        if self._protective is not None:
            self._protective.on_bar(symbol)
            self._protect(now, symbol, commands, grow=True)
        market.on_atr(agent.atr)
        kind = signal.signal
        if signal.health != "ok":  # SPEC §4.6: gaps and staleness are alerted
            commands.append(
                Alert(now, "warning", f"health_{signal.health}", f"{symbol} at {bar.time_ns}")
            )
        if kind is Signal.HOLD:
            return commands
        commands.append(Record(now, "signal", _signal_payload(signal)))
        if kind in _ENTRIES:
            self._enter(now, signal, _ENTRIES[kind], commands)
        else:
            self._exit(now, symbol, _EXITS[kind], signal.reason, commands)
        return commands

    def _enter(
        self, now: int, signal: AgentSignal, direction: int, commands: list[EngineCommand]
    ) -> None:
        symbol = signal.symbol
        if self._paused:  # the signal is recorded above; it is not traded
            self._counters["entries_paused"] += 1
            commands.append(
                Record(
                    now,
                    "risk",
                    {"symbol": symbol, "quantity": 0, "reason": "refused: entries paused"},
                )
            )
            return
        if self._portfolio.quantity(symbol) != 0 or self._execution.active_parents(symbol):
            commands.append(
                Record(
                    now,
                    "risk",
                    {"symbol": symbol, "quantity": 0, "reason": "refused: order already working"},
                )
            )
            return
        instrument = self._instruments[symbol]
        entry = self._portfolio.marks[symbol]
        decision = self._execution.calculate_position_size(
            self._portfolio,
            instrument,
            direction,
            entry,
            signal.stop,
            self._execution.headroom_bps(symbol, entry),
        )
        self._decisions.append(decision)
        commands.append(Record(now, "risk", decision.as_payload()))
        if not decision.approved:
            return
        self._portfolio.reserve(decision, instrument.qty_decimals)
        self._stops[symbol] = signal.stop
        equity = self._portfolio.equity()
        intent = Intent(
            symbol=symbol,
            side=Side.BUY if direction > 0 else Side.SELL,
            quantity=decision.quantity,
            urgency=self._urgency,
            purpose="entry",
            decision_price=entry,
            stop=signal.stop,
            risk_budget=equity * self._portfolio.limits.risk_per_trade_bps // BPS,
        )
        _, outcome = self._execution.start_parent(now, intent, instrument, self._caps())
        self._absorb(outcome, commands)

    def _exit(
        self,
        now: int,
        symbol: str,
        direction: int,
        reason: Reason | None,
        commands: list[EngineCommand],
    ) -> None:
        """Close the position in ``direction``; cancel a still-working entry first."""
        execution = self._execution
        for parent in list(execution.active_parents(symbol)):
            if parent.intent.purpose == "entry" and parent.state == "working":
                self._absorb(execution.cancel_parent(now, parent, "exit signal"), commands)
        quantity = self._portfolio.quantity(symbol)
        if quantity * direction <= 0:
            return
        if symbol in self._exits_waiting or any(
            p.intent.purpose == "exit" for p in execution.active_parents(symbol)
        ):
            return
        if (
            reason is Reason.STOP
            and self._protective is not None
            and self._protective.guards(symbol)
        ):
            # The bar traded through the stop that rests at the broker: the
            # venue triggers it inside that bar; a market exit would sell twice.
            commands.append(
                Record(now, "stop_resting", {"symbol": symbol, "stop": self._stops.get(symbol)})
            )
            return
        self._start_exit(
            now,
            symbol,
            quantity,
            Urgency.HIGH if reason is Reason.STOP else self._urgency,
            commands,
        )

    def _start_exit(
        self, now: int, symbol: str, quantity: int, urgency: Urgency, commands: list[EngineCommand]
    ) -> None:
        """Exit ``quantity`` now, or once the symbol's resting stop is gone.

        A stop resting at the broker holds the shares (Alpaca refuses a sell
        against them) and may trigger while an exit works (IBKR/FIX would then
        sell twice). So the stop is cancelled first and the exit waits until
        the broker confirms the cancel, or the stop filled (then only what is
        left, if anything, is exited); ``_release_exit`` decides on each of the
        stop's answers, and ``STOP_CANCEL_TIMEOUT_NS`` later without one an
        alert says so (the exit keeps waiting: sending it could double-sell).
        """
        if self._protective is not None and self._protective.resting(symbol) is not None:
            waiting = self._exits_waiting.get(symbol)
            if waiting is None or _URGENCY_RANK[urgency] > _URGENCY_RANK[waiting[0]]:
                self._exits_waiting[symbol] = (urgency, now, False)
            commands.append(Record(now, "exit_waits_for_stop_cancel", {"symbol": symbol}))
            self._protect(now, symbol, commands)
            return
        instrument = self._instruments[symbol]
        equity = self._portfolio.equity()
        intent = Intent(
            symbol=symbol,
            side=Side.SELL if quantity > 0 else Side.BUY,
            quantity=abs(quantity),
            urgency=urgency,
            purpose="exit",
            decision_price=self._portfolio.marks.get(symbol) or 0,
            stop=self._stops.get(symbol),
            risk_budget=max(0, equity) * self._portfolio.limits.risk_per_trade_bps // BPS,
        )
        _, outcome = self._execution.start_parent(now, intent, instrument, self._caps())
        self._absorb(outcome, commands)
        self._protect(now, symbol, commands)

    def _protect(
        self, now: int, symbol: str, commands: list[EngineCommand], grow: bool = False
    ) -> None:
        """Bring the symbol's resting stop in line with its position
        (``core.execution.stops``); ``grow``: at a bar, a smaller stop grows too."""
        if self._protective is None:
            return
        exiting = symbol in self._exits_waiting or any(
            p.intent.purpose == "exit" for p in self._execution.active_parents(symbol)
        )
        quantity = self._portfolio.quantity(symbol)
        stop = self._stops.get(symbol)
        commands.extend(self._protective.reconcile(now, symbol, quantity, stop, exiting, grow))
        if symbol in self._exits_waiting:
            self._release_exit(now, symbol, commands)

    def _release_exit(self, now: int, symbol: str, commands: list[EngineCommand]) -> None:
        """Send the exit that waited for the stop's cancel once the stop is gone."""
        assert self._protective is not None
        urgency, since, alerted = self._exits_waiting[symbol]
        order = self._protective.resting(symbol)
        if order is not None:
            if not alerted and now - since >= STOP_CANCEL_TIMEOUT_NS:
                self._exits_waiting[symbol] = (urgency, since, True)
                commands.append(
                    Alert(
                        now,
                        "error",
                        "stop_cancel_unconfirmed",
                        f"{symbol}: cancel of stop {order.client_order_id} unanswered for"
                        f" {(now - since) // 10**9} s; the exit waits (it could sell twice)",
                    )
                )
            return
        del self._exits_waiting[symbol]
        quantity = self._portfolio.quantity(symbol)
        if quantity == 0:
            record: dict[str, object] = {"symbol": symbol, "why": "the stop filled"}
            commands.append(Record(now, "exit_not_needed", record))
            return
        if any(p.intent.purpose == "exit" for p in self._execution.active_parents(symbol)):
            return
        self._start_exit(now, symbol, quantity, urgency, commands)

    # -------------------------------------------------------------- fills
    def _on_fill(self, fill: Fill) -> list[EngineCommand]:
        now = self._advance(fill.time_ns)
        commands: list[EngineCommand] = []
        outcome = self._execution.on_fill(now, fill)
        result = outcome.fill
        assert result is not None
        if result.outcome == "duplicate":
            self._counters["duplicate_fills"] += 1
            commands.append(Record(now, "duplicate_fill", {"exec_id": fill.exec_id}))
            return commands
        if not result.booked:
            self._counters["refused_fills"] += 1
            level = "error" if result.outcome == "overfill" else "warning"
            commands.append(
                Alert(now, level, f"fill_{result.outcome}", f"fill {fill.exec_id}: {result.reason}")
            )
            return commands
        order = result.order
        assert order is not None
        instrument = self._instruments[order.symbol]
        self._counters["fills"] += 1
        if result.outcome == "late":
            self._counters["late_fills"] += 1
            commands.append(
                Alert(now, "warning", "late_fill", f"fill {fill.exec_id}: {result.reason}")
            )
        change = self._portfolio.apply_fill(
            order.symbol, fill.side, fill.quantity, fill.price, fill.fee, instrument.qty_decimals
        )
        commands.append(
            Record(
                now,
                "fill",
                {
                    "client_order_id": order.client_order_id,
                    "parent_id": order.parent_id,
                    "exec_id": fill.exec_id,
                    "symbol": order.symbol,
                    "side": fill.side.value,
                    "quantity": fill.quantity,
                    "price": fill.price,
                    "fee": fill.fee,
                    "position": change.after,
                    "realized": change.realized,
                },
            )
        )
        self._sync_agent(order.symbol, change.after)
        self._execution.after_fill(now, outcome, self._caps())  # sized on the booked fill
        self._absorb(outcome, commands)
        if abs(change.after) > abs(change.before):
            self._check_fill_exposure(now, fill, commands)
        if result.outcome == "late":
            self._check_late_exposure(now, order, fill, commands)
        self._protect(now, order.symbol, commands)
        return commands

    def _check_late_exposure(
        self, now: int, order: ChildOrder, fill: Fill, commands: list[EngineCommand]
    ) -> None:
        """A fill after a confirmed cancel is exposure nobody approved any more.

        Its reservation may already back another entry, so if the book is now
        past a limit the engine says so loudly and works the late quantity
        straight back out (urgent, market) rather than carry a breach.
        """
        portfolio = self._portfolio
        limits = portfolio.limits
        direction = fill.side.sign
        equity = portfolio.equity()
        side_limit = max(0, equity) * limits.max_gross_per_side_bps // BPS
        count = portfolio.open_position_count()
        exposure = portfolio.side_exposure(direction)
        if count <= limits.max_positions and exposure <= side_limit:
            return
        self._counters["risk_breaches"] += 1
        commands.append(
            Alert(
                now,
                "error",
                "risk_breach",
                f"late fill {fill.exec_id} on {order.client_order_id}: {count} positions"
                f" (max {limits.max_positions}), exposure {exposure} (limit {side_limit});"
                f" unwinding {fill.quantity}",
            )
        )
        symbol = order.symbol
        position = portfolio.quantity(symbol)
        if position * direction <= 0:
            return
        if any(p.intent.purpose == "exit" for p in self._execution.active_parents(symbol)):
            return
        unwind = min(abs(position), fill.quantity) * (1 if position > 0 else -1)
        self._start_exit(now, symbol, unwind, Urgency.HIGH, commands)

    def _exposure_room(self, parent: ParentOrder, price: int) -> int:
        """Shares ``parent`` (an entry) may have working beyond its fills.

        The side's limit less what the book holds now (positions at their
        marks, other entries' unfilled reservations), at the reference price
        plus the headroom for the adverse move before the fills.
        """
        portfolio = self._portfolio
        symbol = parent.symbol
        direction = parent.side.sign
        mark = portfolio.marks.get(symbol, price)
        exposure, equity = portfolio.exposure_at(direction, symbol, mark)
        for other, reservation in portfolio.reservations.items():
            if other != symbol and reservation.direction == direction:
                exposure += notional(reservation.remaining, reservation.price, reservation.decimals)
        limit = max(0, equity) * portfolio.limits.max_gross_per_side_bps // BPS
        headroom = self._execution.headroom_bps(symbol, price)
        priced = max(price, mark) * (BPS + headroom) // BPS
        # The same adverse move may hit the rest of the book before the fill:
        # equity lower and exposure higher by the headroom.
        available = limit * (BPS - headroom) // BPS - exposure * (BPS + headroom) // BPS
        scale = 10**parent.instrument.qty_decimals
        result: int = max(0, available) * scale // max(1, priced)
        return result

    def _check_fill_exposure(self, now: int, fill: Fill, commands: list[EngineCommand]) -> None:
        """A fill that adds to its side must leave the side within its gross cap.

        Checked at the fill price. Sizing headroom and the release clip keep
        fills inside; if one still lands outside (the book's marks moved while
        the child was working), the engine says so loudly and stops every
        working entry on that side rather than add to the breach.
        """
        portfolio = self._portfolio
        direction = fill.side.sign
        if portfolio.quantity(fill.symbol) * direction <= 0:
            return
        exposure, equity = portfolio.exposure_at(direction, fill.symbol, fill.price)
        limit = max(0, equity) * portfolio.limits.max_gross_per_side_bps // BPS
        if exposure <= limit:
            return
        self._counters["risk_breaches"] += 1
        commands.append(
            Alert(
                now,
                "error",
                "risk_breach",
                f"fill {fill.exec_id}: {'long' if direction > 0 else 'short'} exposure"
                f" {format_price(exposure)} > limit {format_price(limit)} at the fill price;"
                " working entries on that side stopped",
            )
        )
        for parent in self._execution.parents_working():
            if parent.intent.purpose == "entry" and parent.side.sign == direction:
                self._absorb(
                    self._execution.cancel_parent(now, parent, "gross exposure cap"), commands
                )

    def _sync_agent(self, symbol: str, quantity: int) -> None:
        direction = (quantity > 0) - (quantity < 0)
        if direction == self._directions[symbol]:
            return
        self._directions[symbol] = direction
        stop = None
        if direction:
            stop = self._stops.get(symbol)
            mark = self._portfolio.marks.get(symbol)
            if mark is not None and (stop is None or (stop - mark) * direction >= 0):
                # No stop on the right side (a position nobody entered on
                # purpose, e.g. late fills through zero): stop at the mark, so
                # the agent exits it on the next bar that trades through.
                stop = mark
                self._stops[symbol] = stop
        self._agents[symbol].set_position(direction, stop)

    # ------------------------------------------------------------ updates
    def _on_update(self, update: OrderUpdate) -> list[EngineCommand]:
        now = self._advance(update.time_ns)
        commands: list[EngineCommand] = []
        outcome = self._execution.on_update(now, update, self._caps())
        result = outcome.update
        assert result is not None
        if result.outcome in ("refused", "unknown"):
            self._counters["refused_updates"] += 1
            commands.append(
                Alert(
                    now,
                    "warning",
                    f"update_{result.outcome}",
                    f"{update.client_order_id} {update.status.value}: {result.reason}",
                )
            )
        elif result.outcome == "applied":
            commands.append(
                Record(
                    now,
                    "order",
                    {
                        "client_order_id": update.client_order_id,
                        "from": result.before.value if result.before else None,
                        "to": result.after.value if result.after else None,
                        "reason": update.reason,
                    },
                )
            )
        self._absorb(outcome, commands)
        if result.order is not None:
            self._protect(now, result.order.symbol, commands)
        return commands

    def _on_timer(self, timer: Timer) -> list[EngineCommand]:
        now = self._advance(timer.time_ns)
        commands: list[EngineCommand] = []
        self._absorb(self._execution.on_timer(now, timer.key, self._caps()), commands)
        return commands

    # ---------------------------------------------------------- cash flows
    def _on_cash_flow(self, flow: CashFlow) -> list[EngineCommand]:
        """A deposit or withdrawal: cash moves, so equity and the tier do.

        Nothing is re-decided here: the tier is derived from equity at every
        decision, so the next order (and the gateway's route) simply sees the
        new one. Each ``flow_id`` is decided once; a repeat changes nothing.
        """
        now = self._advance(flow.time_ns)
        if flow.flow_id in self._flows:
            self._counters["duplicate_cash_flows"] += 1
            return [Record(now, "duplicate_cash_flow", {"flow_id": flow.flow_id})]
        self._flows.add(flow.flow_id)
        if flow.charge:
            self._portfolio.apply_charge(flow.amount)
            self._counters["charges"] += 1
            return [
                Record(
                    now,
                    "financing",
                    {
                        "flow_id": flow.flow_id,
                        "amount": flow.amount,
                        "reason": flow.reason,
                        "cash": self._portfolio.cash,
                    },
                )
            ]
        before = self._caps().tier
        try:
            self._portfolio.apply_cash_flow(flow.amount)
        except BadInput as exc:
            self._counters["refused_cash_flows"] += 1
            return [
                Alert(now, "error", "cash_flow_refused", f"cash flow {flow.flow_id}: {exc}"),
                Record(
                    now,
                    "cash_flow_refused",
                    {"flow_id": flow.flow_id, "amount": flow.amount, "reason": str(exc)},
                ),
            ]
        self._counters["cash_flows"] += 1
        equity = self._portfolio.equity()
        after = self._caps().tier
        what = "deposit" if flow.amount > 0 else "withdrawal"
        tier = after.value if after is before else f"{before.value} -> {after.value}"
        return [
            Record(
                now,
                "cash_flow",
                {
                    "flow_id": flow.flow_id,
                    "amount": flow.amount,
                    "reason": flow.reason,
                    "cash": self._portfolio.cash,
                    "equity": equity,
                    "tier_before": before.value,
                    "tier_after": after.value,
                },
            ),
            Alert(
                now,
                "info",
                "cash_flow",
                f"{what} {format_price(abs(flow.amount))} ({flow.flow_id}): equity"
                f" {format_price(equity)}, tier {tier}",
            ),
        ]

    # ------------------------------------------------------------ operator
    def _on_operator(self, command: OperatorCommand) -> list[EngineCommand]:
        """Pause, resume or flatten (``core.operator``): recorded and alerted.

        Pausing cancels the entries still working, so no entry order goes out
        while paused; flatten also pauses (a kill switch that re-entered on the
        next signal would not be one) and starts an urgent exit for every
        position that has no exit working yet, in universe order."""
        now = self._advance(command.time_ns)
        action = command.action
        before = self._paused
        commands: list[EngineCommand] = []
        canceled: list[str] = []
        exits: dict[str, int] = {}
        self._paused = action != "resume"
        if self._paused:
            execution = self._execution
            for symbol in self._instruments:
                for parent in list(execution.active_parents(symbol)):
                    if parent.intent.purpose == "entry" and parent.state == "working":
                        canceled.append(parent.parent_id)
                        reason = f"operator {action}"
                        self._absorb(execution.cancel_parent(now, parent, reason), commands)
                if action != "flatten":
                    continue
                quantity = self._portfolio.quantity(symbol)
                if quantity == 0:
                    continue
                if any(p.intent.purpose == "exit" for p in execution.active_parents(symbol)):
                    continue
                exits[symbol] = quantity
                self._start_exit(now, symbol, quantity, Urgency.HIGH, commands)
        self._counters["operator_commands"] += 1
        who = f" by {command.origin}" if command.origin else ""
        text = f"{action}{who}: entries {'paused' if self._paused else 'allowed'}"
        if canceled:
            text += f"; cancelled {len(canceled)} working entries"
        if action == "flatten":
            text += f"; closing {len(exits)} positions" if exits else "; no position to close"
        header: list[EngineCommand] = [
            Record(
                now,
                "operator",
                {
                    "command_id": command.command_id,
                    "action": action,
                    "origin": command.origin,
                    "paused_before": before,
                    "paused": self._paused,
                    "canceled_parents": canceled,
                    "exits": exits,
                },
            ),
            Alert(now, "warning", f"operator_{action}", text),
        ]
        return header + commands

    # ------------------------------------------------------------ outcomes
    def _absorb(self, outcome: Outcome, commands: list[EngineCommand]) -> None:
        commands.extend(outcome.commands)
        for parent in outcome.finished:
            self._finished(parent, commands)

    def _finished(self, parent: ParentOrder, commands: list[EngineCommand]) -> None:
        """A parent is over: free its reservation; chase a residual exit."""
        symbol = parent.symbol
        if parent.intent.purpose == "entry":
            self._portfolio.release(symbol)
            return
        quantity = self._portfolio.quantity(symbol)
        exiting = -parent.side.sign  # a sell exits a long (+1)
        if quantity * exiting > 0 and parent.progress.filled > 0:
            commands.append(
                Alert(
                    self._now,
                    "warning",
                    "residual_position",
                    f"{symbol}: {quantity} left after exit {parent.parent_id}; exiting again",
                )
            )
            self._start_exit(self._now, symbol, quantity, parent.intent.urgency, commands)
            return
        self._protect(self._now, symbol, commands)  # an exit over: what is left is guarded again

    # ------------------------------------------------------------ snapshots
    def snapshot(self) -> bytes:
        """The whole core state as canonical, checksummed bytes (``core.snapshot``)."""
        from core.snapshot import snapshot_engine  # imported lazily: a sibling of this module

        return snapshot_engine(self)

    def restore(self, data: bytes) -> None:
        """Become the engine ``data`` was taken of; this engine must be built with
        the same instruments and stop mode. Bad bytes raise ``SnapshotError``."""
        from core.snapshot import restore_engine

        restore_engine(self, data)

    # ------------------------------------------------------------ accessors
    @property
    def now_ns(self) -> int:
        return self._now

    @property
    def cash(self) -> int:
        return self._portfolio.cash

    @property
    def initial_cash(self) -> int:
        return self._portfolio.initial_cash

    def equity(self) -> int:
        return self._portfolio.equity()

    @property
    def net_cash_flows(self) -> int:
        """Σ deposits − withdrawals applied so far (nano-units)."""
        return self._portfolio.net_flows

    @property
    def paused(self) -> bool:
        """Whether the operator has paused entries (``OperatorCommand``)."""
        return self._paused

    def last_signal(self, symbol: str) -> AgentSignal | None:
        """The agent's verdict on the symbol's last bar (HOLD included): its
        zones, volume percentile and health, for people watching."""
        return self._last_signals.get(symbol)

    def has_cash_flow(self, flow_id: str) -> bool:
        """Whether this transfer id was already decided (applied or refused)."""
        return flow_id in self._flows

    def positions(self) -> dict[str, int]:
        """Signed quantity per symbol (non-zero positions only)."""
        return {s: p.quantity for s, p in self._portfolio.positions.items() if p.quantity}

    def position(self, symbol: str) -> int:
        return self._portfolio.quantity(symbol)

    @property
    def risk_limits(self) -> RiskLimits:
        return self._portfolio.limits

    @property
    def portfolio(self) -> Portfolio:
        """The live portfolio object; callers must treat it as read-only."""
        return self._portfolio

    @property
    def execution(self) -> ExecutionEngine:
        return self._execution

    def tier(self) -> TierCapabilities:
        return self._caps()

    def open_orders(self) -> list[ChildOrder]:
        return self._execution.open_orders()

    def orders(self) -> list[ChildOrder]:
        return list(self._execution.book.orders)

    def order(self, client_order_id: str) -> ChildOrder | None:
        return self._execution.book.get(client_order_id)

    def fills_for(self, client_order_id: str) -> tuple[Fill, ...]:
        order = self._execution.book.get(client_order_id)
        return tuple(order.fills) if order is not None else ()

    def parents(self) -> list[ParentOrder]:
        return list(self._execution.parents.values())

    def instrument(self, symbol: str) -> Instrument:
        return self._instruments[symbol]

    def protective_stops(self) -> list[ChildOrder]:
        """Every resting stop order sent, in order (none without ``resting_stops``)."""
        return list(self._protective.orders) if self._protective is not None else []

    def resting_stop(self, symbol: str) -> ChildOrder | None:
        """The symbol's live stop order at the broker, if any."""
        return self._protective.resting(symbol) if self._protective is not None else None

    def decisions(self) -> list[SizingDecision]:
        return list(self._decisions)

    def counters(self) -> dict[str, int]:
        return dict(self._counters)

    def agent(self, symbol: str) -> AgentLike:
        return self._agents[symbol]


def _check_time(time_ns: object) -> None:
    if type(time_ns) is not int or time_ns < 0:
        raise BadInput("time_ns", time_ns, "must be a non-negative integer of nanoseconds")


def _check_fill(fill: Fill) -> None:
    """Shape checks a venue's Fill must pass before it may touch the books."""
    _check_time(fill.time_ns)
    for name in ("quantity", "price", "fee"):
        value = getattr(fill, name)
        if type(value) is not int:
            raise BadInput(name, value, "must be an integer (quantity units / nano-units)")
    for name in ("client_order_id", "exec_id", "venue"):
        value = getattr(fill, name)
        if type(value) is not str:
            raise BadInput(name, value, "must be a string")
    if not isinstance(fill.side, Side):
        raise BadInput("side", fill.side, "must be a Side")


def _check_update(update: OrderUpdate) -> None:
    _check_time(update.time_ns)
    if type(update.client_order_id) is not str:
        raise BadInput("client_order_id", update.client_order_id, "must be a string")
    if not isinstance(update.status, OrdStatus):
        raise BadInput("status", update.status, "must be an OrdStatus")


def _check_flow(flow: CashFlow) -> None:
    _check_time(flow.time_ns)
    if type(flow.flow_id) is not str or not flow.flow_id:
        raise BadInput("flow_id", flow.flow_id, "must be a non-empty string")
    if type(flow.amount) is not int or flow.amount == 0:
        raise BadInput("amount", flow.amount, "must be a non-zero integer of nano-units")
    if type(flow.reason) is not str:
        raise BadInput("reason", flow.reason, "must be a string")
    if type(flow.charge) is not bool:
        raise BadInput("charge", flow.charge, "must be true or false")


def _check_operator(command: OperatorCommand) -> None:
    _check_time(command.time_ns)
    if command.action not in OPERATOR_ACTIONS:
        raise BadInput("action", command.action, f"must be one of {', '.join(OPERATOR_ACTIONS)}")
    for name in ("command_id", "origin"):
        if type(getattr(command, name)) is not str:
            raise BadInput(name, getattr(command, name), "must be a string")


def _signal_payload(signal: AgentSignal) -> dict[str, object]:
    return {
        "symbol": signal.symbol,
        "time_ns": signal.time_ns,
        "signal": signal.signal.value,
        "reason": signal.reason.value if signal.reason else None,
        "conviction": signal.conviction,
        "stop": signal.stop,
        "granularity": signal.granularity,
    }
