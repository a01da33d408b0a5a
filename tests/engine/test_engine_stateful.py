"""Hypothesis state machine: the Engine against a hostile venue.

Bars, signals, acks, partial fills, duplicated fills, overfills, rejects,
unsolicited cancels, cancel/replace confirmations, late fills after a cancel,
garbage status reports, timers and cash flows (deposits, withdrawals, repeated
transfer ids, withdrawals beyond cash) arrive in any order. After every step the
books must reconcile exactly and no limit or transition rule may be broken.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from core.commands import (
    CashFlow,
    Fill,
    OrderType,
    OrdStatus,
    ScheduleTimer,
    Side,
    SubmitOrder,
    Timer,
)
from core.execution.algorithms import Iceberg, Pov
from core.execution.cost_model import Urgency
from core.execution.orders import is_legal
from core.portfolio import notional
from core.signals import Reason, Signal
from tests.engine.harness import MIN, D, Harness

SYMBOLS = ["AAA", "BBB", "CCC"]


class EngineMachine(RuleBasedStateMachine):
    @initialize(
        cash=st.sampled_from([50_000 * D, 500_000 * D, 5_000_000 * D]),
        urgency=st.sampled_from([Urgency.NORMAL, Urgency.LOW]),
        lot=st.sampled_from([1, 10]),
        seed=st.integers(0, 1000),
        max_positions=st.integers(1, 3),
    )
    def setup(self, cash, urgency, lot, seed, max_positions):
        from core.portfolio import RiskLimits

        self.pending: dict[str, tuple[Signal, Reason | None, int]] = {}

        def script(agent, bar):
            planned = self.pending.pop(bar.symbol, None)
            if planned is None:
                return Signal.HOLD, None, None
            kind, reason, distance = planned
            if kind in (Signal.ENTER_LONG, Signal.EXIT_LONG):
                return kind, reason, bar.close - distance
            return kind, reason, bar.close + distance

        self.h = Harness(
            symbols=SYMBOLS,
            cash=cash,
            script=script,
            urgency=urgency,
            seed=seed,
            lot=lot,
            limits=RiskLimits().tightened({"max_positions": max_positions}),
        )
        self.prices = {s: 100 * D for s in SYMBOLS}
        self.timers: list[ScheduleTimer] = []
        self.sent_fills: list[Fill] = []
        self.exec_seq = 0
        self.flows_decided: dict[str, bool] = {}  # transfer id → applied?
        self.flows_applied = 0
        for symbol in SYMBOLS:  # warm up: ATR history long enough for regime breaks
            for _ in range(20):
                self._bar(symbol, 0, 10_000)

    # ------------------------------------------------------------ helpers
    def _absorb(self, commands):
        for c in commands:
            if isinstance(c, ScheduleTimer):
                self.timers.append(c)
            if isinstance(c, SubmitOrder):
                caps = self.h.engine.tier()  # what this tier may do, right now
                assert caps.allows(c.order_type), (caps.tier, c.order_type)
                if not caps.supports_algos:
                    assert c.order_type is OrderType.MARKET and c.venue is None
                if c.min_quantity is not None:
                    assert caps.supports_dark_pools

    def _bar(self, symbol, move, volume, half_range=D // 4):
        price = max(D, self.prices[symbol] + move)
        self.prices[symbol] = price
        half_range = min(half_range, price - 1)
        _, commands = self.h.bar(symbol, price=price, volume=volume, half_range=half_range)
        self._absorb(commands)

    def _pick(self, index, live=True):
        orders = self.h.engine.open_orders() if live else self.h.engine.orders()
        if not orders:
            return None
        return orders[index % len(orders)]

    def _send_fill(self, order, quantity, price_offset=0):
        self.exec_seq += 1
        fill = Fill(
            self.h.clock.now_ns(),
            order.ids[0],
            f"E{self.exec_seq}",
            order.symbol,
            order.side,
            quantity,
            max(1, self.prices[order.symbol] + price_offset),
            "",
            quantity * 3_000_000 // 1000,
        )
        self.sent_fills.append(fill)
        self._absorb(self.h.engine.handle(fill))

    # -------------------------------------------------------------- rules
    @rule(
        symbol=st.sampled_from(SYMBOLS),
        move=st.integers(-2 * D, 2 * D),
        volume=st.integers(0, 40_000),
        signal=st.none() | st.sampled_from(list(Signal)),
        stop=st.booleans(),
        distance=st.integers(D // 100, 3 * D),
        wild=st.booleans(),
    )
    def bar(self, symbol, move, volume, signal, stop, distance, wild):
        if signal is not None:
            self.pending[symbol] = (signal, Reason.STOP if stop else Reason.LEVEL, distance)
        # a wild bar moves the ATR away from its history (Adaptive's trigger)
        self._bar(symbol, move, volume, 4 * D if wild else D // 4)

    @rule(i=st.integers(0, 50))
    def ack(self, i):
        order = self._pick(i)
        if order is not None:
            self._absorb(self.h.update(order.client_order_id, OrdStatus.NEW))

    @rule(i=st.integers(0, 50), fraction=st.floats(0.0, 1.0), offset=st.integers(-D, D))
    def fill(self, i, fraction, offset):
        order = self._pick(i)
        if order is not None and order.leaves > 0:
            lot = self.h.engine.execution.parents[order.parent_id].instrument.lot
            quantity = max(lot, int(order.leaves * fraction) // lot * lot)
            self._send_fill(order, min(quantity, order.leaves), offset)

    @rule(i=st.integers(0, 50))
    def duplicate_fill(self, i):
        if self.sent_fills:
            again = self.sent_fills[i % len(self.sent_fills)]
            self._absorb(self.h.engine.handle(again))

    @rule(i=st.integers(0, 50))
    def overfill(self, i):
        order = self._pick(i, live=False)
        if order is not None:
            self._send_fill(order, order.quantity - order.filled + 1)

    @rule(i=st.integers(0, 50))
    def reject(self, i):
        order = self._pick(i)
        if order is not None:
            self._absorb(self.h.update(order.client_order_id, OrdStatus.REJECTED, "venue says no"))

    @rule(i=st.integers(0, 50))
    def unsolicited_cancel(self, i):
        order = self._pick(i)
        if order is not None:
            self._absorb(self.h.update(order.client_order_id, OrdStatus.CANCELED))

    @rule(i=st.integers(0, 50), accept=st.booleans())
    def answer_request(self, i, accept):
        pending = [o for o in self.h.engine.open_orders() if o.pending is not None]
        if not pending:
            return
        order = pending[i % len(pending)]
        if not accept:
            status = OrdStatus.REJECTED
        elif order.status is OrdStatus.PENDING_CANCEL:
            status = OrdStatus.CANCELED
        else:
            status = OrdStatus.REPLACED
        self._absorb(self.h.update(order.pending.request_id, status))

    @rule(i=st.integers(0, 50), fraction=st.floats(0.0, 1.0))
    def late_fill_after_cancel(self, i, fraction):
        raced = [
            o
            for o in self.h.engine.orders()
            if o.status is OrdStatus.CANCELED
            and (OrdStatus.PENDING_CANCEL, OrdStatus.CANCELED) in o.history
            and o.filled < o.quantity
        ]
        if raced:
            order = raced[i % len(raced)]
            quantity = max(1, int((order.quantity - order.filled) * fraction))
            self._send_fill(order, quantity)

    @rule(i=st.integers(0, 50), status=st.sampled_from(list(OrdStatus)))
    def garbage_status(self, i, status):
        order = self._pick(i, live=False)
        if order is not None:
            self._absorb(self.h.update(order.client_order_id, status))

    @rule(
        number=st.integers(0, 8),
        amount=st.sampled_from([1_000, 60_000, 600_000, 2_000_000]).map(lambda d: d * D),
        withdraw=st.booleans(),
    )
    def cash_flow(self, number, amount, withdraw):
        """A transfer; ids repeat (the broker re-reports), withdrawals may exceed equity."""
        flow = CashFlow(self.h.clock.now_ns(), f"T{number}", -amount if withdraw else amount)
        engine = self.h.engine
        cash = engine.cash
        first = flow.flow_id not in self.flows_decided
        applies = first and (flow.amount > 0 or engine.equity() + flow.amount > 0)
        commands = engine.handle(flow)
        self._absorb(commands)
        if first:
            self.flows_decided[flow.flow_id] = applies
        if applies:
            self.flows_applied += flow.amount
            assert engine.cash == cash + flow.amount
        else:
            assert engine.cash == cash
            if first:  # refused: said loudly, naming the field and the value
                alert = [c for c in commands if getattr(c, "kind", "") == "cash_flow_refused"]
                assert alert and f"amount={flow.amount}" in alert[0].text

    @rule()
    def timer(self):
        if self.timers:
            self.timers.sort(key=lambda t: (t.time_ns, t.key))
            due = self.timers.pop(0)
            if due.time_ns > self.h.clock.now_ns():
                self.h.clock.advance_to(due.time_ns)
            self._absorb(self.h.engine.handle(Timer(due.time_ns, due.key)))

    @rule(symbol=st.sampled_from(SYMBOLS))
    def idle_minutes(self, symbol):
        self.h.clock.advance_by(MIN)

    # --------------------------------------------------------- invariants
    @invariant()
    def orders_are_legal_and_never_overfilled(self):
        for order in self.h.engine.orders():
            assert all(is_legal(a, b) for a, b in order.history), order.history
            assert 0 <= order.filled <= order.quantity
            assert order.filled == sum(f.quantity for f in order.fills)

    @invariant()
    def books_reconcile_with_fills_and_fees(self):
        engine = self.h.engine
        booked = [f for o in engine.orders() for f in o.fills]
        keys = [(f.venue, f.exec_id) for f in booked]
        assert len(keys) == len(set(keys))
        for symbol in SYMBOLS:
            expected = sum(f.side.sign * f.quantity for f in booked if f.symbol == symbol)
            assert engine.position(symbol) == expected
            agent = self.h.agents[symbol]
            assert agent.direction == (expected > 0) - (expected < 0)
        cash = (
            engine.initial_cash
            + self.flows_applied
            - sum(f.side.sign * notional(f.quantity, f.price) + f.fee for f in booked)
        )
        assert engine.cash == cash
        assert engine.net_cash_flows == self.flows_applied

    @invariant()
    def equity_is_money_put_in_plus_trading_pnl(self):
        """equity = initial + Σ unique applied flows + realised + unrealised − fees."""
        portfolio = self.h.engine.portfolio
        unrealized = sum(portfolio.unrealized(s) for s in portfolio.positions)
        trading = portfolio.realized() + unrealized - portfolio.fees_paid
        assert portfolio.equity() == portfolio.initial_cash + self.flows_applied + trading
        assert portfolio.pnl() == trading

    @invariant()
    def pov_and_iceberg_keep_their_promises(self):
        for parent in self.h.engine.parents():
            algo = parent.algorithm
            working = sum(c.leaves for c in parent.children)
            released = sum(c.filled for c in parent.children) + working
            lot = parent.instrument.lot
            if isinstance(algo, Pov):
                rho = algo.rate_num / algo.rate_den
                assert released <= rho / (1 - rho) * algo.market_volume + lot
            if isinstance(algo, Iceberg):
                assert working <= algo.display

    @invariant()
    def risk_limits_hold(self):
        engine = self.h.engine
        limits = engine.risk_limits
        for decision in engine.decisions():
            if decision.approved:
                assert decision.side_exposure_after <= decision.side_limit
                assert decision.quantity <= decision.risk_quantity
        # Only an exogenous fill after a confirmed cancel can push the book past
        # the position cap; the engine must then have flagged and unwound it.
        within = engine.portfolio.open_position_count() <= limits.max_positions
        assert within or engine.counters()["risk_breaches"] > 0
        for parent in engine.parents():
            assert parent.progress.filled <= parent.quantity
            if parent.intent.purpose == "entry":
                assert parent.intent.side is (
                    Side.BUY if parent.intent.stop < parent.intent.decision_price else Side.SELL
                )


EngineMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=80, deadline=None)
TestEngineMachine = EngineMachine.TestCase
