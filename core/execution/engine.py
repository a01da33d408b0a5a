"""The execution engine: intents → parent orders → child orders → TCA.

It owns the order book, the parent orders, the venue statistics and each
symbol's market statistics, and exposes the four decisions the SPEC names:
``recommend_algorithm``, ``calculate_position_size``, ``route_order`` and
``dark_pool_decision``. Everything is driven by events the caller passes in
(with their time); the only randomness is the injected generator (TWAP
jitter), so the same inputs give the same child orders and ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from core.commands import (
    Alert,
    EngineCommand,
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    Record,
    ScheduleTimer,
    Side,
    TimeInForce,
)
from core.events import Bar
from core.execution.algorithms import (
    Adaptive,
    Algorithm,
    Iceberg,
    ImplementationShortfall,
    Market,
    Pov,
    Progress,
    Twap,
    Vwap,
    is_schedule,
    twap_schedule,
    vwap_schedule,
)
from core.execution.cost_model import (
    MAX_PARTICIPATION,
    Algo,
    AlgoChoice,
    CostInputs,
    Urgency,
    choice_participation,
    choose_algorithm,
)
from core.execution.dark_pool import DarkDecision, DarkPoolRouter
from core.execution.market_stats import SymbolMarket
from core.execution.orders import ChildOrder, FillResult, OrderBook, UpdateResult
from core.execution.router import SmartRouter
from core.execution.tca import Execution, TcaReport, analyse
from core.execution.venues import Venue, VenueBook, default_venues
from core.health import SessionSchedule
from core.instruments import Instrument
from core.portfolio import Portfolio, SizingDecision, notional
from core.tiers import TierCapabilities

MAX_CONSECUTIVE_REJECTS = 3
"""A parent halts after three rejects in a row: one is a venue hiccup, two a
retry that also failed, three means the order itself is unacceptable — keep
sending and we are hammering a venue. Any fill resets the count."""

GROSS_HEADROOM_BARS = 2
"""Bars of volatility of headroom under the gross cap (``headroom_bps``)."""

GRACE_BARS = MAX_CONSECUTIVE_REJECTS
"""A parent lives this many bars past its planned horizon: a rejected or
cancelled slice is retried on the next bar, so the grace is one bar per
retry the parent is allowed before it halts."""


@dataclass(frozen=True, slots=True)
class Intent:
    """What the portfolio wants done: trade ``quantity`` now-ish, at this urgency."""

    symbol: str
    side: Side
    quantity: int
    urgency: Urgency
    purpose: str  # "entry" | "exit"
    decision_price: int
    stop: int | None = None
    risk_budget: int = 0  # nano-units the trade may lose (λ = 1 / this)


@dataclass(frozen=True, slots=True)
class RouteDecision:
    venue: str | None
    order_type: OrderType
    time_in_force: TimeInForce
    min_quantity: int | None
    dark: bool
    reason: str


@dataclass(slots=True)
class ParentOrder:
    parent_id: str
    intent: Intent
    instrument: Instrument
    algorithm: Algorithm
    choice: AlgoChoice
    created_ns: int
    start_ns: int
    end_ns: int
    progress: Progress
    state: str = "working"  # working | done | expired | canceled | halted
    children: list[ChildOrder] = field(default_factory=list)
    start_price: int | None = None  # arrival: the first print after the first child went out
    sent_ns: int | None = None  # when the first child was sent
    sent_price: int | None = None  # the last close then (arrival if no bar follows)
    consecutive_rejects: int = 0
    rejects: int = 0
    vwap_value: float = 0.0
    vwap_volume: int = 0
    # exec id -> the market's price when that fill was booked (the bar it traded
    # in, before our impact): the reference of the realised impact in TCA
    impact_refs: dict[str, int] = field(default_factory=dict)
    timer_ns: int | None = None
    tca: TcaReport | None = None
    finished_ns: int | None = None

    @property
    def symbol(self) -> str:
        return self.intent.symbol

    @property
    def side(self) -> Side:
        return self.intent.side

    @property
    def quantity(self) -> int:
        return self.intent.quantity

    @property
    def is_active(self) -> bool:
        """Still trading or still waiting for children to finish."""
        return self.tca is None

    def live_children(self) -> list[ChildOrder]:
        return [c for c in self.children if not c.is_terminal]

    def refresh(self) -> None:
        self.progress.filled = sum(c.filled for c in self.children)
        self.progress.working = sum(c.leaves for c in self.children)


@dataclass(slots=True)
class Outcome:
    """What one event did inside the execution engine, for the Engine to act on."""

    commands: list[EngineCommand] = field(default_factory=list)
    finished: list[ParentOrder] = field(default_factory=list)
    fill: FillResult | None = None
    update: UpdateResult | None = None


ExposureRoom = Callable[["ParentOrder", int], int]
"""(entry parent, reference price) → shares it may have working beyond its fills
without taking its side's gross exposure past the limit (the owner's portfolio
answers; the execution engine only obeys)."""


class ExecutionEngine:
    __slots__ = (
        "_active",
        "book",
        "dark_router",
        "exposure_room",
        "markets",
        "parents",
        "rng",
        "router",
        "schedule",
        "venues",
    )

    def __init__(
        self,
        rng: np.random.Generator,
        venues: list[Venue] | None = None,
        schedule: SessionSchedule | None = None,
    ) -> None:
        self.rng = rng
        self.schedule = schedule
        self.book = OrderBook()
        self.venues = VenueBook(venues if venues is not None else default_venues())
        self.router = SmartRouter(self.venues)
        self.dark_router = DarkPoolRouter(self.venues, self.router)
        self.markets: dict[str, SymbolMarket] = {}
        self.parents: dict[str, ParentOrder] = {}
        self._active: dict[str, list[ParentOrder]] = {}
        self.exposure_room: ExposureRoom | None = None

    # ------------------------------------------------------------ accessors
    def market(self, symbol: str) -> SymbolMarket:
        market = self.markets.get(symbol)
        if market is None:
            market = self.markets[symbol] = SymbolMarket(symbol, schedule=self.schedule)
        return market

    def active_parents(self, symbol: str) -> list[ParentOrder]:
        return self._active.get(symbol, [])

    def parents_working(self) -> list[ParentOrder]:
        """Every parent still releasing, in symbol-then-creation order."""
        return [p for ps in self._active.values() for p in ps if p.state == "working"]

    def sigma(self, symbol: str, price: int) -> float:
        """Per-bar volatility as a fraction of price: ATR / price (0 when unknown)."""
        atr = self.market(symbol).atr_now
        return atr / price if atr and price > 0 else 0.0

    # ------------------------------------------------------------ decisions
    def calculate_position_size(
        self,
        portfolio: Portfolio,
        instrument: Instrument,
        direction: int,
        entry: int,
        stop: int | None,
        headroom_bps: int = 0,
    ) -> SizingDecision:
        """SPEC §6 sizing and limits (delegated to the portfolio that owns them)."""
        return portfolio.size_entry(
            instrument.symbol,
            direction,
            entry,
            stop,
            instrument.lot,
            instrument.qty_decimals,
            headroom_bps,
        )

    def headroom_bps(self, symbol: str, price: int) -> int:
        """Adverse move to allow for between a decision and its fills, in bps.

        Two bars of volatility (the bar the child waits for and the one it
        trades in) plus a basis point of spread: the gross cap is sized and
        enforced at ``price × (1 + headroom)``, not at the decision close.
        """
        return int(GROSS_HEADROOM_BARS * self.sigma(symbol, price) * 1e4) + 1

    def cost_inputs(
        self, instrument: Instrument, quantity: int, price: int, risk_budget: int
    ) -> CostInputs:
        market = self.market(instrument.symbol)
        shares = quantity / 10**instrument.qty_decimals
        volume = market.mean_bar_volume / 10**instrument.qty_decimals
        price_f = price / 1e9
        return CostInputs(
            quantity=shares,
            price=price_f,
            sigma=self.sigma(instrument.symbol, price),
            bar_volume=volume,
            half_spread=instrument.tick / 2 / price if price > 0 else 0.0,
            risk_aversion=1.0 / (risk_budget / 1e9) if risk_budget > 0 else 0.0,
            max_bars=self._max_bars(market),
            day_bars=market.bars_per_day,
        )

    @staticmethod
    def _max_bars(market: SymbolMarket) -> int:
        """A day's bars at most, and never past today's learned last trading minute."""
        limit = market.bars_per_day
        if market.last_ns is not None:
            period = market.bar_period_ns
            left = market.bars_left_today(market.last_ns + period, period)
            if left is not None:
                limit = min(limit, left)
        return max(1, limit)

    def recommend_algorithm(
        self,
        instrument: Instrument,
        quantity: int,
        price: int,
        urgency: Urgency,
        caps: TierCapabilities,
        risk_budget: int,
    ) -> AlgoChoice:
        inputs = self.cost_inputs(instrument, quantity, price, risk_budget)
        if urgency is Urgency.LOW:
            inputs = CostInputs(
                inputs.quantity,
                inputs.price,
                inputs.sigma,
                inputs.bar_volume,
                inputs.half_spread,
                0.0,
                inputs.max_bars,
                inputs.day_bars,
            )
        market = self.market(instrument.symbol)
        return choose_algorithm(
            inputs,
            urgency=urgency,
            algos_allowed=caps.supports_algos,
            has_profile=market.has_full_day,
            volume_cv=market.bar_volume_cv,
            atr_zscore=market.atr_zscore(),
        )

    def dark_pool_decision(
        self,
        caps: TierCapabilities,
        instrument: Instrument,
        quantity: int,
        price: int,
        urgent: bool,
    ) -> DarkDecision:
        value = notional(quantity, price, instrument.qty_decimals)
        return self.dark_router.decide(
            caps,
            quantity,
            price,
            value,
            self.sigma(instrument.symbol, price),
            self.market(instrument.symbol).bar_period_ns,
            instrument.lot,
            urgent,
            instrument.qty_decimals,
        )

    def route_order(
        self,
        caps: TierCapabilities,
        instrument: Instrument,
        quantity: int,
        price: int,
        urgent: bool,
        passive: bool,
        limit: bool = False,
    ) -> RouteDecision:
        """Where a child goes and as what: broker's choice, a lit venue, or dark.

        ``passive``: a resting limit (maker; stays lit). ``limit``: a lit child
        is a limit order even when it crosses (Adaptive's marketable limit).
        """
        if not caps.supports_algos:
            return RouteDecision(
                None, OrderType.MARKET, TimeInForce.DAY, None, False, "tier: market orders only"
            )
        if not passive:
            dark = self.dark_pool_decision(caps, instrument, quantity, price, urgent)
            if dark.use_dark:
                return RouteDecision(
                    dark.venue,
                    OrderType.PEGGED_MIDPOINT,
                    TimeInForce.IOC,
                    dark.min_quantity,
                    True,
                    dark.reason,
                )
        lit = self.router.choose(caps, price, self.sigma(instrument.symbol, price), passive)
        order_type = OrderType.LIMIT if passive or limit else OrderType.MARKET
        return RouteDecision(
            lit.venue if lit else None,
            order_type,
            TimeInForce.DAY,
            None,
            False,
            "smart router" if lit else "broker routing",
        )

    # -------------------------------------------------------------- parents
    def start_parent(
        self,
        now_ns: int,
        intent: Intent,
        instrument: Instrument,
        caps: TierCapabilities,
        algo_override: Algo | None = None,
    ) -> tuple[ParentOrder, Outcome]:
        """Create a parent order for ``intent``; its first slice trades from ``now_ns``."""
        choice = self.recommend_algorithm(
            instrument,
            intent.quantity,
            intent.decision_price,
            intent.urgency,
            caps,
            intent.risk_budget,
        )
        if algo_override is not None and caps.supports_algos:
            inputs = self.cost_inputs(
                instrument, intent.quantity, intent.decision_price, intent.risk_budget
            )
            participation = choice_participation(inputs, choice.bars)
            choice = AlgoChoice(
                algo_override,
                choice.bars,
                min(MAX_PARTICIPATION, participation / (1.0 + participation)),
                choice.kappa,
                choice.expected_cost_bps,
                "requested",
                choice.impact_bps,
            )
        market = self.market(instrument.symbol)
        period = market.bar_period_ns
        algorithm = self._build(choice, intent.quantity, instrument, now_ns, period)
        bars = max(1, choice.bars)
        horizon = market.bars_per_day if choice.algo is Algo.POV else bars
        parent_id = f"P-{self.book.next_id(instrument.symbol)}"
        parent = ParentOrder(
            parent_id=parent_id,
            intent=intent,
            instrument=instrument,
            algorithm=algorithm,
            choice=choice,
            created_ns=now_ns,
            start_ns=now_ns,
            end_ns=now_ns + (horizon + GRACE_BARS) * period,
            progress=Progress(intent.quantity),
        )
        self.parents[parent_id] = parent
        self._active.setdefault(instrument.symbol, []).append(parent)
        outcome = Outcome()
        outcome.commands.append(
            Record(
                now_ns,
                "parent",
                {
                    "parent_id": parent_id,
                    "symbol": intent.symbol,
                    "side": intent.side.value,
                    "quantity": intent.quantity,
                    "purpose": intent.purpose,
                    "urgency": intent.urgency.value,
                    "algo": choice.algo.value,
                    "bars": choice.bars,
                    "expected_cost_bps": choice.expected_cost_bps,
                    "impact_bps": choice.impact_bps,
                    "adv_participation": intent.quantity / market.adv if market.adv else None,
                    "reason": choice.reason,
                    "decision_price": intent.decision_price,
                },
            )
        )
        outcome.commands.append(ScheduleTimer(parent.end_ns, f"expire:{parent_id}"))
        self._release(now_ns, parent, caps, outcome)
        return parent, outcome

    def _build(
        self, choice: AlgoChoice, quantity: int, instrument: Instrument, start: int, period: int
    ) -> Algorithm:
        lot = instrument.lot
        bars = max(1, choice.bars)
        algo = choice.algo
        if algo is Algo.TWAP:
            return Twap(twap_schedule(quantity, lot, start, period, bars, self.rng))
        if algo is Algo.VWAP:
            weights = self.market(instrument.symbol).profile_weights(start, period, bars)
            return Vwap(vwap_schedule(quantity, lot, start, period, weights))
        if algo is Algo.IS:
            return ImplementationShortfall(
                is_schedule(quantity, lot, start, period, bars, choice.kappa)
            )
        if algo is Algo.POV:
            return Pov(quantity, lot, choice.rate, start)
        if algo is Algo.ICEBERG:
            display = max(lot, quantity // bars // lot * lot)
            return Iceberg(quantity, min(display, quantity), start)
        if algo is Algo.ADAPTIVE:
            adaptive = Adaptive(quantity, lot, start, period, bars)
            adaptive.set_ratio(self.market(instrument.symbol).atr_ratio())
            return adaptive
        return Market([(start, quantity)])

    def _reference_price(self, parent: ParentOrder) -> int:
        last = self.market(parent.symbol).last_close
        return last if last is not None else parent.intent.decision_price

    def _release(
        self, now_ns: int, parent: ParentOrder, caps: TierCapabilities, outcome: Outcome
    ) -> None:
        """Send whatever the algorithm allows now, then ask for the next wake-up."""
        if parent.state != "working":
            return
        parent.refresh()
        progress = parent.progress
        lot = parent.instrument.lot
        algorithm = parent.algorithm
        allowed = algorithm.allowance(now_ns, progress)
        quantity = min(allowed - progress.released, progress.unreleased)
        if quantity < progress.unreleased:  # only the final release may be an odd lot
            quantity = quantity // lot * lot
        room = self._room(parent)
        if room is not None and progress.working > room:
            self._pull_back(now_ns, parent, outcome)
        if room is not None and quantity > 0 and progress.working + quantity > room:
            quantity = max(0, room - progress.working) // lot * lot
            if quantity <= 0 and progress.working == 0:
                self._close(now_ns, parent, "canceled", outcome, "gross exposure cap")
                return
        if quantity > 0:
            price = self._reference_price(parent)
            passive = algorithm.passive
            urgent = self._dark_excluded(parent)
            route = self.route_order(
                caps,
                parent.instrument,
                quantity,
                price,
                urgent,
                passive,
                limit=isinstance(algorithm, Adaptive),
            )
            limit = None
            if route.order_type is OrderType.LIMIT:
                limit = self._limit_price(parent, price)
            replaced = False
            if isinstance(algorithm, Adaptive):
                replaced = self._reprice_adaptive(now_ns, parent, quantity, limit, outcome)
            if not replaced:
                child, command = self.book.submit(
                    now_ns,
                    parent.parent_id,
                    parent.symbol,
                    parent.side,
                    quantity,
                    route.order_type,
                    limit,
                    route.venue,
                    route.min_quantity,
                    algorithm.algo.value,
                    route.time_in_force,
                )
                parent.children.append(child)
                self.venues.record_sent(route.venue, quantity)
                outcome.commands.append(command)
            if parent.sent_ns is None:
                parent.sent_ns, parent.sent_price = now_ns, price
            parent.refresh()
        wake = algorithm.next_wakeup(now_ns)
        if wake is not None and wake != parent.timer_ns:
            parent.timer_ns = wake
            outcome.commands.append(ScheduleTimer(wake, f"wake:{parent.parent_id}"))

    def _pull_back(self, now_ns: int, parent: ParentOrder, outcome: Outcome) -> None:
        """The cap has come closer than the working children allow (fills above
        the reference, marks moving): cancel them; the next release sends only
        what fits."""
        for child in parent.children:
            request = self.book.request_cancel(now_ns, child)
            if request is not None:
                outcome.commands.append(request)

    def _room(self, parent: ParentOrder) -> int | None:
        """Shares an entry may have working without breaching the gross cap."""
        if self.exposure_room is None or parent.intent.purpose != "entry":
            return None
        return self.exposure_room(parent, self._reference_price(parent))

    def _dark_excluded(self, parent: ParentOrder) -> bool:
        """Whether this parent's next child must skip the dark pools.

        A stop (HIGH urgency) never waits on an uncertain dark fill. A one-bar
        (MARKET) parent at normal urgency sweeps the dark pools once, as a
        midpoint IOC, and whatever missed goes lit at once (``on_update``): the
        dark score already charges one bar of adverse move for a miss, so a
        second dark attempt would pay that again for the same quantity. Sliced
        algorithms let every child compete, since a miss is folded into the
        next slice anyway.
        """
        if parent.intent.urgency is Urgency.HIGH:
            return True
        if parent.algorithm.algo is not Algo.MARKET:
            return False
        dark = {v.name for v in self.venues.dark}
        return any(child.venue in dark for child in parent.children)

    def _limit_price(self, parent: ParentOrder, price: int) -> int:
        tick = parent.instrument.tick
        algorithm = parent.algorithm
        offset = algorithm.offset_ticks() * tick if isinstance(algorithm, Adaptive) else 0
        limit = price + offset if parent.side is Side.BUY else price - offset
        return max(tick, limit // tick * tick)

    def _reprice_adaptive(
        self, now_ns: int, parent: ParentOrder, extra: int, limit: int | None, outcome: Outcome
    ) -> bool:
        """Fold new quantity into the working child with a fresh limit (cancel/replace)."""
        for child in reversed(parent.children):
            if child.is_terminal:
                continue
            if child.pending is not None:
                return True  # wait for the pending request before changing it again
            request = self.book.request_replace(now_ns, child, child.quantity + extra, limit)
            if request is not None:
                outcome.commands.append(request)  # the same order: no new venue evidence
                return True
        return False

    # --------------------------------------------------------------- events
    def on_bar(self, now_ns: int, bar: Bar, caps: TierCapabilities) -> Outcome:
        """A bar of ``bar.symbol`` (already added to its market statistics)."""
        outcome = Outcome()
        parents = self._active.get(bar.symbol)
        if not parents:
            return outcome
        typical = bar.vwap if bar.vwap is not None else (bar.high + bar.low + bar.close) / 3
        for parent in list(parents):
            if bar.time_ns >= parent.created_ns:
                parent.algorithm.on_market_volume(bar.volume)
            sent = parent.sent_ns
            if parent.start_price is None and sent is not None and bar.time_ns >= sent:
                # Arrival: the mid when the first child reached a venue, i.e.
                # the first print after it went out (this bar's open).
                parent.start_price = bar.open
            if parent.start_price is not None and parent.tca is None:
                parent.vwap_value += typical * bar.volume
                parent.vwap_volume += bar.volume
            if isinstance(parent.algorithm, Adaptive):
                parent.algorithm.set_ratio(self.market(bar.symbol).atr_ratio())
            self._step(now_ns, parent, caps, outcome)
        return outcome

    def on_timer(self, now_ns: int, key: str, caps: TierCapabilities) -> Outcome:
        outcome = Outcome()
        kind, _, parent_id = key.partition(":")
        parent = self.parents.get(parent_id)
        if parent is None or kind not in ("wake", "expire"):
            outcome.commands.append(
                Alert(now_ns, "warning", "unknown_timer", f"timer key={key!r} matches no order")
            )
            return outcome
        if kind == "wake":
            if parent.timer_ns is not None and parent.timer_ns <= now_ns:
                parent.timer_ns = None
            self._step(now_ns, parent, caps, outcome)
        elif parent.state == "working" and now_ns >= parent.end_ns:
            self._close(now_ns, parent, "expired", outcome)
        return outcome

    def _step(self, now_ns: int, parent: ParentOrder, caps: TierCapabilities, out: Outcome) -> None:
        if parent.state == "working" and now_ns >= parent.end_ns:
            self._close(now_ns, parent, "expired", out)
        elif parent.state == "working":
            self._release(now_ns, parent, caps, out)
        else:
            # Closed but a child is still live (its cancel was rejected): ask again.
            for child in parent.children:
                request = self.book.request_cancel(now_ns, child)
                if request is not None:
                    out.commands.append(request)
        self._maybe_finish(now_ns, parent, out)

    def cancel_parent(self, now_ns: int, parent: ParentOrder, reason: str) -> Outcome:
        outcome = Outcome()
        if parent.state == "working":
            self._close(now_ns, parent, "canceled", outcome, reason)
        self._maybe_finish(now_ns, parent, outcome)
        return outcome

    def _close(
        self, now_ns: int, parent: ParentOrder, state: str, out: Outcome, reason: str = ""
    ) -> None:
        """Stop releasing and cancel every live child of the parent."""
        parent.state = state
        for child in parent.children:
            request = self.book.request_cancel(now_ns, child)
            if request is not None:
                out.commands.append(request)
        out.commands.append(
            Record(
                now_ns,
                "parent_closed",
                {"parent_id": parent.parent_id, "state": state, "reason": reason},
            )
        )

    def on_fill(self, now_ns: int, fill: Fill) -> Outcome:
        """Book ``fill`` on its order and learn from it; no new orders yet.

        The owner books the fill in its portfolio next and then calls
        ``after_fill``: the next child's size depends on the exposure room,
        and the room must count the fill just received (releasing first sized
        the next child against the book as it was before this fill, and took
        ``universe30``'s short side past its 200% cap at the fill price).
        """
        outcome = Outcome()
        result = self.book.on_fill(fill)
        outcome.fill = result
        order = result.order
        if not result.booked or order is None:
            return outcome
        if order.parent_id is None:  # a resting protective stop: no routing to learn from
            return outcome
        reference = self.market(order.symbol).last_close or fill.price
        delay = fill.time_ns - order.created_ns if len(order.fills) == 1 else None
        self.venues.record_fill(
            order.venue or fill.venue,
            fill.quantity,
            fill.price,
            reference,
            fill.side.sign,
            delay,
            order.quantity,
        )
        parent = self.parents.get(order.parent_id or "")
        if parent is None:
            return outcome
        parent.consecutive_rejects = 0
        market = self.market(order.symbol)
        parent.impact_refs[fill.exec_id] = market.last_mean or market.last_close or fill.price
        return outcome

    def after_fill(self, now_ns: int, outcome: Outcome, caps: TierCapabilities) -> None:
        """The parent's next step once its owner has booked the fill ``on_fill`` took:
        pull back what the room no longer allows, stop an over-released parent,
        release the next child."""
        result = outcome.fill
        if result is None or not result.booked or result.order is None:
            return
        parent_id = result.order.parent_id
        parent = None if parent_id is None else self.parents.get(parent_id)
        if parent is None:
            return
        parent.refresh()
        room = self._room(parent)
        if room is not None and parent.progress.working > room:
            self._pull_back(now_ns, parent, outcome)
        if parent.progress.released > parent.quantity:
            # A fill that lost a race with a cancel arrived after the quantity
            # was re-released: stop everything still working on this parent.
            outcome.commands.append(
                Alert(
                    now_ns,
                    "error" if parent.progress.filled > parent.quantity else "warning",
                    "parent_over_released",
                    f"{parent.parent_id}: filled {parent.progress.filled} + working"
                    f" {parent.progress.working} > {parent.quantity}",
                )
            )
            for child in parent.children:
                request = self.book.request_cancel(now_ns, child)
                if request is not None:
                    outcome.commands.append(request)
        if parent.tca is None:
            self._step(now_ns, parent, caps, outcome)

    def on_update(self, now_ns: int, update: OrderUpdate, caps: TierCapabilities) -> Outcome:
        outcome = Outcome()
        result = self.book.on_update(update)
        outcome.update = result
        order = result.order
        if result.outcome != "applied" or order is None:
            return outcome
        if result.after is OrdStatus.REJECTED and not order.fills and order.parent_id is not None:
            # Refused before any venue could trade it (stale at start-up, a broker
            # or venue reject): no evidence about the venue's fill rate.
            self.venues.record_rejected(order.venue)
        parent = self.parents.get(order.parent_id or "")
        if parent is None:
            return outcome
        if result.after is OrdStatus.REJECTED:
            parent.rejects += 1
            parent.consecutive_rejects += 1
            if parent.consecutive_rejects >= MAX_CONSECUTIVE_REJECTS and parent.state == "working":
                outcome.commands.append(
                    Alert(
                        now_ns,
                        "error",
                        "parent_halted",
                        f"{parent.parent_id}: {parent.consecutive_rejects} rejects in a row"
                        f" ({update.reason or 'no reason given'})",
                    )
                )
                self._close(now_ns, parent, "halted", outcome, "consecutive rejects")
        # Rejected or cancelled quantity becomes releasable again, but only at
        # the next bar or timer: resending inside the same reply would hammer
        # a venue that is refusing us. The one exception is a one-bar parent's
        # dark sweep coming back: its IOC remainder goes lit at once, so the
        # sweep and the lit remainder trade in the same bar (the dark pools
        # are not tried again: ``_dark_excluded``).
        parent.refresh()
        if (
            result.after is OrdStatus.CANCELED
            and order.time_in_force is TimeInForce.IOC
            and parent.algorithm.algo is Algo.MARKET
            and parent.state == "working"
        ):
            self._step(now_ns, parent, caps, outcome)
        self._maybe_finish(now_ns, parent, outcome)
        return outcome

    def _maybe_finish(self, now_ns: int, parent: ParentOrder, out: Outcome) -> None:
        if parent.tca is not None:
            return
        parent.refresh()
        if parent.state == "working" and parent.progress.filled >= parent.quantity:
            parent.state = "done"
        if parent.state == "working" or parent.live_children():
            return
        parent.finished_ns = now_ns
        parent.tca = self._tca(parent)
        active = self._active.get(parent.symbol, [])
        if parent in active:
            active.remove(parent)
        out.finished.append(parent)
        out.commands.append(Record(now_ns, "tca", parent.tca.as_record()))

    def _tca(self, parent: ParentOrder) -> TcaReport:
        executions = [
            Execution(f.quantity, f.price, f.fee, parent.impact_refs.get(f.exec_id))
            for c in parent.children
            for f in c.fills
        ]
        end = self._reference_price(parent)
        start = parent.start_price
        if start is None:  # done before the next bar printed: the price it was sent at
            start = parent.sent_price if parent.sent_price is not None else end
        vwap = parent.vwap_value / parent.vwap_volume if parent.vwap_volume else None
        return analyse(
            parent_id=parent.parent_id,
            symbol=parent.symbol,
            side_sign=parent.side.sign,
            decided=parent.quantity,
            decision_price=parent.intent.decision_price,
            start_price=start,
            end_price=end,
            executions=executions,
            interval_vwap=vwap,
            impact_model_bps=parent.choice.impact_bps,
            half_spread_bps=parent.instrument.tick / 2 / start * 1e4 if start > 0 else 0.0,
            decimals=parent.instrument.qty_decimals,
            algo=parent.choice.algo.value,
        )

    def open_orders(self) -> list[ChildOrder]:
        return self.book.live_orders()
