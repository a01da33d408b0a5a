"""The simulator's event loop: the real core driven through a simulated world.

One ``Simulation`` owns the event queue, the engine, the venues, the fault
injector, the journal and the invariant checker. Every random draw comes from
a named stream of the run's seed (``sim.rng``); every timestamp from the
queue. Same seed and inputs give the same journal, byte for byte, hence the
same run hash, in any process.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from core.agent import PySymbolAgent, SymbolAgent
from core.clock import ManualClock
from core.commands import (
    Alert,
    CancelOrder,
    CashFlow,
    Fill,
    OrderUpdate,
    Record,
    ReplaceOrder,
    ScheduleTimer,
    SubmitOrder,
    Timer,
)
from core.engine import Engine
from core.events import Bar
from core.execution.commissions import broker_for_equity, fee_model
from core.execution.cost_model import Urgency
from core.health import Schedule, SessionSchedule
from core.instruments import Instrument
from core.signals import AgentSignal
from sim.faults import FaultRates
from sim.financing import FinancingRates, accrual_days, accrue
from sim.invariants import InvariantChecker, InvariantViolation
from sim.journal import Journal
from sim.loop import EventQueue, Rank
from sim.recovery import CrashSnapshots
from sim.rng import stream
from sim.venues import LIT_LATENCY_NS, VenueSimulator

DAY_NS = 86_400 * 10**9
URGENCY = {"low": Urgency.LOW, "medium": Urgency.NORMAL, "high": Urgency.HIGH}
"""The CLI's ``--urgency`` words; medium is the engine's NORMAL (risk-priced)."""


@dataclass(frozen=True)
class MarketFeed:
    """What the world prints: bars (sorted by time), instruments, session closes,
    and the trading schedule the agents judge gaps and staleness by."""

    instruments: tuple[Instrument, ...]
    bars: tuple[Bar, ...]
    session_closes: frozenset[int]
    period_ns: int
    schedule: Schedule | None = None


@dataclass(frozen=True)
class RunSpec:
    scenario: str
    seed: int
    feed: MarketFeed
    initial_cash: int  # nano-units
    faults: FaultRates
    reproduce: str
    urgency: str = "medium"  # low | medium | high: the engine's entry urgency
    broker: str | None = None  # commission schedule; None = the account tier's broker
    financing: FinancingRates = FinancingRates()
    provenance: str = ""  # what the market is: synthetic, or which real data (shown to users)
    resting_stops: bool = True  # stops rest at the broker; False: checked at the bar's close


@dataclass
class RunResult:
    spec: RunSpec
    run_hash: str
    journal_lines: int
    engine: Engine
    bars_seen: list[Bar]
    signals: list[AgentSignal]
    fills: list[tuple[Fill, str | None]]  # booked fills with their parent id
    tca: list[dict[str, object]]
    equity: list[tuple[int, int, int]]  # (time, equity, cash) per minute
    alerts: dict[str, int]
    invariant_checks: int
    crashes: int
    faults_seen: dict[str, int]
    violation: InvariantViolation | None = None
    venue_book: dict[str, list[Fill]] = field(default_factory=dict)
    financing: dict[str, int] = field(default_factory=dict)  # reason -> Σ charged (nano)
    cash_flows: list[CashFlow] = field(default_factory=list)  # every flow the broker booked


class _SignalTap:
    """Wraps an agent so the runner sees every signal (HOLDs included)."""

    __slots__ = ("_agent", "_sink", "enabled")

    def __init__(self, agent: PySymbolAgent, sink: Callable[[AgentSignal], None]) -> None:
        self._agent = agent
        self._sink = sink
        self.enabled = True

    def on_bar(self, bar: Bar) -> AgentSignal:
        signal = self._agent.on_bar(bar)
        if self.enabled:
            self._sink(signal)
        return signal

    def set_position(self, direction: int, stop: int | None) -> None:
        self._agent.set_position(direction, stop)

    @property
    def atr(self) -> int | None:
        return self._agent.atr

    def __getattr__(self, name: str) -> object:
        return getattr(self._agent, name)


@dataclass(frozen=True)
class _Accrual:
    """The broker's daily financing run at a session close."""

    close_ns: int
    days: int


class Simulation:
    def __init__(self, spec: RunSpec, journal_path: Path | None = None) -> None:
        self.spec = spec
        feed = spec.feed
        self._instruments = {i.symbol: i for i in feed.instruments}
        self.broker = spec.broker or broker_for_equity(spec.initial_cash)
        self._journal = Journal(journal_path, keep=spec.faults.crash > 0)
        self._queue = EventQueue()
        self._venues = VenueSimulator(
            spec.seed,
            self._instruments,
            spec.faults,
            set(feed.session_closes),
            sessions=_sessions(feed.schedule),
            fees=fee_model(self.broker),
        )
        self._feed_rng = stream(spec.seed, "faults", "feed")
        self._crash_rng = stream(spec.seed, "faults", "crash")
        # Recovery is the gateway's: the newest snapshot and the journal after it.
        self._snapshots = CrashSnapshots(feed.session_closes) if spec.faults.crash > 0 else None
        self._checker = InvariantChecker(spec.initial_cash, spec.seed, spec.reproduce)
        self._taps: list[_SignalTap] = []
        self.signals: list[AgentSignal] = []
        self.bars_seen: list[Bar] = []
        self.booked: list[tuple[Fill, str | None]] = []
        self.tca: list[dict[str, object]] = []
        self.equity: list[tuple[int, int, int]] = []
        self.alerts: dict[str, int] = {}
        self.crashes = 0
        self.faults_seen: dict[str, int] = {}
        self._delivered: dict[str, Fill] = {}
        self._stale_until: dict[str, int] = {}
        self._last_bar_time: dict[str, int] = {}
        self._last_market_minute = -1
        self.financing: dict[str, int] = {}
        self.cash_flows: list[CashFlow] = []
        self._clock, self.engine = self._new_engine()

    # ------------------------------------------------------------ engine
    def _new_engine(self) -> tuple[ManualClock, Engine]:
        clock = ManualClock(0)

        def agent_factory(instrument: Instrument) -> _SignalTap:
            agent = SymbolAgent(instrument, self_tracking=False, schedule=self.spec.feed.schedule)
            tap = _SignalTap(agent, self.signals.append)
            self._taps.append(tap)
            return tap

        engine = Engine(
            list(self.spec.feed.instruments),
            self.spec.initial_cash,
            clock,
            stream(self.spec.seed, "engine"),
            agent_factory=agent_factory,
            schedule=_sessions(self.spec.feed.schedule),
            urgency=URGENCY[self.spec.urgency],
            resting_stops=self.spec.resting_stops,  # the simulated broker takes stop orders
        )
        return clock, engine

    def _recover(self, at_ns: int) -> None:
        """Crash: drop the engine, rebuild one from the newest snapshot and the
        journal after it (``sim.recovery``), check it is the crashed one exactly."""
        old = self.engine
        self._taps.clear()
        clock, fresh = self._new_engine()
        for tap in self._taps:
            tap.enabled = False
        start = 0
        snapshots = self._snapshots
        if snapshots is not None and snapshots.data is not None:
            fresh.restore(snapshots.data)
            clock.advance_to(snapshots.at_ns)
            start = snapshots.line
        for when, event in self._journal.inputs_with_times(start):
            clock.advance_to(max(clock.now_ns(), when))
            fresh.handle(event)
        for tap in self._taps:
            tap.enabled = True
        same = fresh.snapshot() == old.snapshot()  # every bit of the core's state
        if not same:
            self._checker.fail(
                "engine rebuilt from its journal differs from the crashed one", at_ns
            )
        self._clock, self.engine = clock, fresh
        self.crashes += 1

    # -------------------------------------------------------------- run
    def run(self, on_progress: Callable[[int], None] | None = None) -> RunResult:
        feed = self.spec.feed
        for bar in feed.bars:
            self._queue.push(bar.time_ns + feed.period_ns, Rank.MARKET, bar)
        if feed.bars:
            last = feed.bars[-1].time_ns + feed.period_ns
            closes = [c for c in feed.session_closes if c <= last]
            for close, days in sorted(accrual_days(closes).items()):
                self._queue.push(close, Rank.TIMER, _Accrual(close, days))
        violation = None
        processed_bars = 0
        try:
            while self._queue:
                at_ns, rank, item = self._queue.pop()
                if rank is Rank.MARKET:
                    self._market(at_ns, cast(Bar, item))  # the MARKET rank carries bars only
                    processed_bars += 1
                    if on_progress is not None and processed_bars % 1000 == 0:
                        on_progress(processed_bars)
                elif rank is Rank.TO_VENUE:
                    self._to_venue(at_ns, item)
                else:
                    self._deliver(at_ns, item)
            if self._last_market_minute >= 0:
                self._mark_equity(self._last_market_minute)  # the final minute too
            end = max(self._clock.now_ns(), 0)
            self._checker.check(self.engine, end)  # every order's whole history, once
            self._checker.check_venue_book(self._venues.executed(), end)
        except InvariantViolation as exc:
            violation = exc
        finally:
            self._journal.close()
        if on_progress is not None:
            on_progress(processed_bars)
        return RunResult(
            spec=self.spec,
            run_hash=self._journal.run_hash,
            journal_lines=self._journal.lines,
            engine=self.engine,
            bars_seen=self.bars_seen,
            signals=self.signals,
            fills=self.booked,
            tca=self.tca,
            equity=self.equity,
            alerts=self.alerts,
            invariant_checks=self._checker.checks,
            crashes=self.crashes,
            faults_seen={**self.faults_seen, **self._venues.faults_seen},
            violation=violation,
            venue_book=self._venues.executed(),
            financing=dict(sorted(self.financing.items())),
            cash_flows=list(self.cash_flows),
        )

    def _count(self, fault: str) -> None:
        self.faults_seen[fault] = self.faults_seen.get(fault, 0) + 1

    def _market(self, at_ns: int, bar: Bar) -> None:
        faults = self.spec.faults
        if at_ns != self._last_market_minute:
            if self._last_market_minute >= 0:
                self._mark_equity(self._last_market_minute)
                self._checker.check(self.engine, at_ns, [])
            self._last_market_minute = at_ns
            self._venues.start_outages(at_ns)
        for when, report in self._venues.match(bar, at_ns):
            self._queue.push(when, Rank.REPORT, report)
        symbol = bar.symbol
        rng = self._feed_rng
        if self._stale_until.get(symbol, -1) > at_ns:
            self._count("stale_bar")
            return
        if faults.stale and rng.random() < faults.stale:
            self._stale_until[symbol] = at_ns + int(rng.integers(3, 15)) * self.spec.feed.period_ns
            self._count("stale_feed")
            return
        if faults.drop_bar and rng.random() < faults.drop_bar:
            self._count("drop_bar")
            return
        self._queue.push(at_ns, Rank.BAR, bar)

    def _mark_equity(self, at_ns: int) -> None:
        self.equity.append((at_ns, self.engine.equity(), self.engine.cash))

    def _to_venue(self, at_ns: int, command: object) -> None:
        for when, report in self._venues.receive(at_ns, command):
            self._queue.push(when, Rank.REPORT, report)

    def _accrue(self, at_ns: int, accrual: _Accrual) -> None:
        """Charge borrow and debit interest on the world's ledger, as cash flows."""
        positions, cash = self._checker.ledger()
        closes = self._venues.last_closes()
        decimals = {s: i.qty_decimals for s, i in self._instruments.items()}
        for flow in accrue(
            accrual.close_ns, accrual.days, positions, closes, decimals, cash, self.spec.financing
        ):
            self.financing[flow.reason] = self.financing.get(flow.reason, 0) - flow.amount
            self.cash_flows.append(flow)
            self._deliver(at_ns, flow)

    def _deliver(self, at_ns: int, event: object) -> None:
        if type(event) is _Accrual:
            self._accrue(at_ns, event)
            return
        faults = self.spec.faults
        if type(event) is Bar and faults.crash and self._crash_rng.random() < faults.crash:
            self._recover(at_ns)
        self._clock.advance_to(max(self._clock.now_ns(), at_ns))
        self._journal.write("in", at_ns, event)
        touched: list[str] = []
        first_delivery = False
        breaches = 0
        if type(event) is Fill:
            first_delivery = event.exec_id not in self._delivered
            breaches = self.engine.counters()["risk_breaches"]
            self._checker.on_delivered_fill(event)
            self._delivered.setdefault(event.exec_id, event)
            touched.append(event.client_order_id)
        elif type(event) is OrderUpdate:
            touched.append(event.client_order_id)
        elif type(event) is CashFlow:
            self._checker.on_delivered_flow(event)
        elif type(event) is Bar:
            self.bars_seen.append(event)
            self._last_bar_time[event.symbol] = event.time_ns
        signals_before = len(self.signals)
        commands = self.engine.handle(event)
        if type(event) is Bar:
            for signal in self.signals[signals_before:]:
                self._checker.check_signal(signal, event.time_ns, at_ns)
        for command in commands:
            self._journal.write("out", at_ns, command)
            self._dispatch(at_ns, command, touched)
        if commands or type(event) is not Bar:
            # A bar that made no command changed no position, cash, order or
            # approved decision; the per-minute check below still re-derives
            # everything, so a fault planted on such a bar is caught within
            # the minute (tests/sim/test_runner.py).
            self._checker.check(self.engine, at_ns, touched)
        if first_delivery and type(event) is Fill:  # only a fill is a first delivery
            self._checker.check_fill_exposure(self.engine, event, breaches, at_ns)
        if self._snapshots is not None:
            self._snapshots.after_input(self._journal.lines, at_ns, self.engine)

    def _dispatch(self, at_ns: int, command: object, touched: list[str]) -> None:
        match command:
            case SubmitOrder():
                touched.append(command.client_order_id)
                latency = self._venues.latency(command.venue)
                self._queue.push(at_ns + latency, Rank.TO_VENUE, command)
            case CancelOrder() | ReplaceOrder():
                touched.append(command.orig_client_order_id)
                self._queue.push(at_ns + LIT_LATENCY_NS, Rank.TO_VENUE, command)
            case ScheduleTimer():
                when = max(command.time_ns, at_ns)
                self._queue.push(when, Rank.TIMER, Timer(when, command.key))
            case Alert():
                self.alerts[command.kind] = self.alerts.get(command.kind, 0) + 1
            case Record(kind="fill"):
                fill = self._delivered.get(str(command.payload["exec_id"]))
                if fill is not None:
                    parent = command.payload.get("parent_id")
                    self.booked.append((fill, None if parent is None else str(parent)))
            case Record(kind="tca"):
                self.tca.append(dict(command.payload))


def _sessions(schedule: Schedule | None) -> SessionSchedule | None:
    return schedule if isinstance(schedule, SessionSchedule) else None


def feed_from_bars(
    bars: Sequence[Bar],
    instruments: Sequence[Instrument],
    sessions: Sequence[tuple[int, int]] | None = None,
) -> MarketFeed:
    """A feed over given bars; the period is the shortest spacing of any symbol.

    With ``sessions`` (exchange open/close pairs) orders expire at each close
    and the agents judge gaps by the calendar; without, every bar's end is a
    close (daily bars: DAY orders live one bar) and the market never sleeps.
    """
    ordered = sorted(bars, key=lambda b: b.time_ns)  # stable: keeps symbol order within a minute
    spacing: int | None = None
    last: dict[str, int] = {}
    for bar in ordered:
        prev = last.get(bar.symbol)
        if prev is not None and (spacing is None or bar.time_ns - prev < spacing):
            spacing = bar.time_ns - prev
        last[bar.symbol] = bar.time_ns
    period = spacing or 60_000_000_000
    if sessions is None:
        closes = {b.time_ns + period for b in ordered}
        return MarketFeed(tuple(instruments), tuple(ordered), frozenset(closes), period)
    closes = {close for _, close in sessions}
    if period >= DAY_NS:
        closes |= {b.time_ns + period for b in ordered}
    schedule = SessionSchedule(sessions)
    return MarketFeed(tuple(instruments), tuple(ordered), frozenset(closes), period, schedule)
