"""A hypothesis state machine driving the real Engine through the simulator.

Hypothesis chooses what the world does next: print more bars (a reflected
random walk that touches its edges on heavy volume, so the agents trade),
switch fault rates, crash the engine (``Simulation._recover`` rebuilds it
from the journal), or let the event loop run. After every step the machine
checks, with its own bookkeeping rather than the simulator's
``InvariantChecker``: position = Σ delivered fills, cash = initial − Σ
signed notional − fees, no order (engine or venue side) filled past its
quantity, every venue execution accounted for, and order transitions only
along FIX's lifecycle.

``Simulation`` has no public incremental API (``run`` drains a feed fixed at
construction), so the machine feeds bars into its queue and pops events the
way ``Simulation.run`` does, through the same private handlers.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from core.commands import Fill, OrdStatus, Side
from core.events import Bar
from core.instruments import CENT, Instrument
from sim.faults import FaultRates
from sim.invariants import InvariantViolation
from sim.journal import decode_event
from sim.loop import Rank
from sim.runner import MarketFeed, RunSpec, Simulation

MINUTE = 60_000_000_000
SYMBOLS = (("ACME", 5_000, 5_500), ("GLOBEX", 2_500, 2_700))  # cents: range floor, ceiling
CASH = 5_000_000 * 10**9

TERMINAL = {OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED}
PENDING = {OrdStatus.PENDING_NEW, OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE}

rates = st.one_of(st.just(0.0), st.floats(0.01, 0.5))


@st.composite
def fault_rates(draw: st.DrawFn) -> FaultRates:
    return FaultRates(
        reject=draw(rates),
        partial=draw(rates),
        cancel_race=draw(rates),
        duplicate=draw(rates),
        reorder=draw(rates),
        delay=draw(st.one_of(st.just(0.0), st.floats(0.001, 0.05))),
        drop_bar=draw(st.one_of(st.just(0.0), st.floats(0.001, 0.05))),
        stale=draw(st.one_of(st.just(0.0), st.floats(0.0005, 0.01))),
        outage=draw(st.one_of(st.just(0.0), st.floats(0.0005, 0.01))),
        crash=draw(st.one_of(st.just(0.0), st.floats(0.001, 0.02))),
    )


def legal(before: OrdStatus, after: OrdStatus) -> bool:
    """FIX lifecycle, written independently of ``core.execution.orders``."""
    if before in TERMINAL or after is OrdStatus.PENDING_NEW:
        return False
    if before == after:
        return after is OrdStatus.PARTIALLY_FILLED  # another partial fill
    if after is OrdStatus.REJECTED:
        return before in PENDING
    return True


class SimulatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sim: Simulation | None = None
        self.now = 0  # end of the last bar printed
        self.prices: dict[str, int] = {}
        self.crashes = 0
        self._read = 0  # journal lines already scanned for fills
        self._fills: dict[str, Fill] = {}

    @initialize(seed=st.integers(0, 2**16))
    def start(self, seed: int) -> None:
        instruments = tuple(Instrument(symbol) for symbol, _, _ in SYMBOLS)
        feed = MarketFeed(instruments, (), frozenset(), MINUTE, None)
        spec = RunSpec("machine", seed, feed, CASH, FaultRates(), "hypothesis state machine")
        self.sim = Simulation(spec)
        self.sim._journal._keep = True  # crashes replay it
        self.prices = {symbol: (lo + hi) // 2 for symbol, lo, hi in SYMBOLS}
        self.now = 390 * MINUTE
        self.print_bars(seed, 200)  # warm the agents up so most examples trade

    # ------------------------------------------------------------ rules
    @rule(walk_seed=st.integers(0, 2**32 - 1), minutes=st.integers(5, 40))
    def print_bars(self, walk_seed: int, minutes: int) -> None:
        """Bars for every symbol, then the loop runs up to the last bar's end."""
        assert self.sim is not None
        rng = np.random.default_rng(walk_seed)
        for _ in range(minutes):
            start = self.now
            for symbol, floor, ceiling in SYMBOLS:
                width = ceiling - floor
                price = self.prices[symbol]
                close = price + int(rng.normal(0.0, width / 30))
                touched = close <= floor or close >= ceiling
                close = min(max(close, floor), ceiling)
                wick = int(abs(rng.normal(0.0, width / 80)))
                high = max(price, close) + wick
                low = min(price, close) - wick
                volume = int(rng.gamma(4.0, 2_500) * (6.0 if touched else 1.0))
                bar = Bar(
                    symbol, start, price * CENT, high * CENT, low * CENT, close * CENT, volume
                )
                self.sim._queue.push(start + MINUTE, Rank.MARKET, bar)
                self.prices[symbol] = close
            self.now = start + MINUTE
        self.advance()

    @rule(faults=fault_rates())
    def switch_faults(self, faults: FaultRates) -> None:
        assert self.sim is not None
        self.sim.spec = dataclasses.replace(self.sim.spec, faults=faults)
        self.sim._venues._faults = faults

    @rule()
    def clear_faults(self) -> None:
        self.switch_faults(FaultRates())

    @precondition(lambda self: self.sim is not None and self.sim._journal.lines > 0)
    @rule()
    def crash(self) -> None:
        assert self.sim is not None
        old = self.sim.engine
        before = (
            {s: q for s, q in old.positions().items() if q},
            old.cash,
            sorted(o.client_order_id for o in old.open_orders()),
        )
        try:
            self.sim._recover(self.sim._clock.now_ns())
        except InvariantViolation as exc:
            raise AssertionError(str(exc)) from None
        fresh = self.sim.engine
        assert fresh is not old
        after = (
            {s: q for s, q in fresh.positions().items() if q},
            fresh.cash,
            sorted(o.client_order_id for o in fresh.open_orders()),
        )
        assert after == before
        self.crashes += 1

    @rule(extra_minutes=st.integers(0, 10))
    def advance_loop(self, extra_minutes: int) -> None:
        """Let late reports and timers come due without new bars (the market is quiet)."""
        self.now += extra_minutes * MINUTE
        self.advance()

    def advance(self) -> None:
        """Pop every event due by ``now``, as ``Simulation.run`` does."""
        sim = self.sim
        assert sim is not None
        queue = sim._queue
        try:
            while queue and (queue.peek_time() or 0) <= self.now:
                at_ns, rank, item = queue.pop()
                if rank is Rank.MARKET:
                    sim._market(at_ns, item)  # type: ignore[arg-type]
                elif rank is Rank.TO_VENUE:
                    sim._to_venue(at_ns, item)
                else:
                    sim._deliver(at_ns, item)
        except InvariantViolation as exc:
            raise AssertionError(f"simulator's own checker: {exc}") from None

    # -------------------------------------------------------- invariants
    def delivered(self) -> list[Fill]:
        """First delivery of each execution, read back from the journal's "in" lines."""
        assert self.sim is not None
        lines = self.sim._journal._lines
        for line in lines[self._read :]:
            if '"type":"Fill"' not in line:
                continue
            entry = json.loads(line)
            if entry["dir"] == "in":
                fill = decode_event(entry["item"])
                assert isinstance(fill, Fill)
                self._fills.setdefault(fill.exec_id, fill)
        self._read = len(lines)
        return list(self._fills.values())

    @invariant()
    def position_and_cash_equal_delivered_fills(self) -> None:
        if self.sim is None:
            return
        positions: dict[str, int] = {}
        cash = CASH
        for fill in self.delivered():
            signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
            positions[fill.symbol] = positions.get(fill.symbol, 0) + signed
            cash -= signed * fill.price + fill.fee
        engine = self.sim.engine
        assert {s: q for s, q in engine.positions().items() if q} == {
            s: q for s, q in positions.items() if q
        }
        assert engine.cash == cash

    @invariant()
    def nothing_overfilled(self) -> None:
        if self.sim is None:
            return
        for order in self.sim.engine.orders():
            assert 0 <= order.filled <= order.quantity, order.client_order_id
        for sim_order in self.sim._venues.book:
            assert sum(f.quantity for f in sim_order.fills) == sim_order.filled
            assert sim_order.filled <= sim_order.quantity, sim_order.ids

    @invariant()
    def only_legal_transitions(self) -> None:
        if self.sim is None:
            return
        for order in self.sim.engine.orders():
            for before, after in order.history:
                assert legal(before, after), (order.client_order_id, before, after)

    @invariant()
    def delivered_executions_are_venue_executions(self) -> None:
        """No fill from nowhere; and the engine books each printed execution once."""
        if self.sim is None:
            return
        printed = {f.exec_id: f for o in self.sim._venues.book for f in o.fills}
        for fill in self.delivered():
            assert printed.get(fill.exec_id) == fill

    def teardown(self) -> None:
        """Drain everything still in flight; then every venue execution reached the engine."""
        if self.sim is None:
            return
        self.now = 10**19
        self.advance()
        self.position_and_cash_equal_delivered_fills()
        printed = {f.exec_id for o in self.sim._venues.book for f in o.fills}
        assert printed == {f.exec_id for f in self.delivered()}
        event(f"traded: {bool(printed)}")
        event(f"crashed: {self.crashes + self.sim.crashes > 0}")


SimulatorMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestSimulatorMachine = SimulatorMachine.TestCase
