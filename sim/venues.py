"""Simulated venues: where the engine's child orders meet the simulated tape.

The market prints bars; an order that has reached a venue trades against the
first bar that ends after it arrived. Lit venues fill marketable orders at
the bar's average price plus half the spread plus square-root impact, capped
by a participation of the bar's volume (the rest waits for later bars);
limits fill only where the bar traded through them. Dark pools cross at the
bar's midpoint when a contra shows up (a seeded draw per bar), never below
the order's minimum quantity. Fees and rebates come from the same venue table
the engine routes with (``core/execution/venues.json``); given a broker's
schedule (``core/execution/commissions.json``), every fill also pays that
broker's commission and, on sells, the SEC and FINRA fees.

Immediate-or-cancel means immediate: an IOC that reaches a venue inside a
session is answered on arrival, against the price of that instant (the last
printed close, the midpoint for a pegged order), so a one-bar parent's dark
sweep and its lit remainder both trade within the bar that follows the
decision. Maker or taker is decided when an order reaches the venue: a
limit that was not marketable then (a buy below the ask, a sell above the
bid) rests, fills at its limit when the tape trades through it and earns the
maker rebate; anything marketable pays the take fee. A fill is stamped when
it happened: inside the bar that filled it and inside the exchange session
(daily bars fill during that day's session, not at midnight).

Model constants (the simulated world's, not the strategy's):
``PARTICIPATION_CAP`` — all of our lit executions in one bar and symbol
together (whatever parent, child or lit venue they come from) take at most a
quarter of the bar's volume, the usual upper end of participation desks
allow; the quarter is a budget per (symbol, bar) that every lit fill draws
down, so two children of different parents, or five children of one, cannot
take more between them than one could. Dark pools fill by their own rule (a
contra of a seeded size per order); ``IMPACT_Y`` — the
square-root law's coefficient (Almgren et al. 2005 report ≈ 0.5–1 on daily
σ; the bar's range stands in for σ here).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.commands import (
    CancelOrder,
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.events import Bar
from core.execution.commissions import FeeModel
from core.execution.venues import Venue, default_venues
from core.health import SessionSchedule
from core.instruments import Instrument
from sim.faults import FaultRates
from sim.rng import stream

PARTICIPATION_CAP = 0.25
IMPACT_Y = 0.5
LIT_LATENCY_NS = 1_000_000  # 1 ms each way to a lit venue
DARK_LATENCY_NS = 5_000_000  # 5 ms to a dark pool
BROKER_VENUE = "SIM-BROKER"  # where "broker's choice" orders (venue=None) go


@dataclass(slots=True)
class SimOrder:
    """The venue's own book entry; the truth the engine is checked against."""

    ids: list[str]
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: int | None
    tif: TimeInForce
    venue: str
    min_quantity: int | None
    arrival_ns: int
    passive: bool = False  # a limit that was not marketable when it reached the venue
    stop_price: int | None = None  # an OrderType.STOP's trigger
    triggered: bool = False  # a stop the tape traded through: a market order from then on
    trigger_bar_ns: int | None = None  # the bar that triggered it: fills there at stop/open
    filled: int = 0
    open: bool = True
    fills: list[Fill] = field(default_factory=list)

    @property
    def client_order_id(self) -> str:
        return self.ids[-1]

    @property
    def leaves(self) -> int:
        return self.quantity - self.filled


Report = Fill | OrderUpdate


class VenueSimulator:
    """All venues of a run. ``receive`` takes commands; ``match`` takes bars.

    Both return (delivery time, report) pairs; the runner queues them.
    """

    def __init__(
        self,
        seed: int,
        instruments: dict[str, Instrument],
        faults: FaultRates,
        session_closes: set[int],
        venues: list[Venue] | None = None,
        dark_fill_rate: float | None = None,
        sessions: SessionSchedule | None = None,
        fees: FeeModel | None = None,
    ) -> None:
        self._instruments = instruments
        self._faults = faults
        self._closes = session_closes
        self._sessions = sessions
        self._fees = fees
        table = venues if venues is not None else default_venues()
        self._venues = {v.name: v for v in table}
        self._fill_rng = stream(seed, "venues", "fills")
        # Each pool's chance that a contra shows up in a bar: a seeded draw per
        # venue, unless the caller pins it (a stand-in run that must see dark fills).
        self._dark_prob = {
            v.name: float(stream(seed, "venues", "dark", v.name).uniform(0.25, 0.65))
            if dark_fill_rate is None
            else dark_fill_rate
            for v in table
            if v.kind == "dark"
        }
        self._fault_rng = stream(seed, "faults", "venues")
        self._orders: dict[str, SimOrder] = {}
        self._by_symbol: dict[str, list[SimOrder]] = {}
        self._last_bar: dict[str, Bar] = {}
        # Lit quantity still available to us in the symbol's current bar:
        # symbol -> (bar start, shares left under the participation cap).
        self._lit_budget: dict[str, tuple[int, int]] = {}
        self._outage_until: dict[str, int] = {}
        self._exec_seq = 0
        self.book: list[SimOrder] = []
        self.faults_seen: dict[str, int] = {}

    # ----------------------------------------------------------- commands
    def receive(self, now_ns: int, command: object) -> list[tuple[int, Report]]:
        if isinstance(command, SubmitOrder):
            return self._submit(now_ns, command)
        if isinstance(command, CancelOrder):
            return self._cancel(now_ns, command)
        if isinstance(command, ReplaceOrder):
            return self._replace(now_ns, command)
        raise TypeError(f"venues do not take {type(command).__name__}")

    def latency(self, venue: str | None) -> int:
        known = self._venues.get(venue) if venue else None
        return DARK_LATENCY_NS if known is not None and known.kind == "dark" else LIT_LATENCY_NS

    def _fault(self, name: str, rate: float) -> bool:
        """Draw whether fault ``name`` strikes now (no draw when it is off)."""
        if rate and self._fault_rng.random() < rate:
            self.faults_seen[name] = self.faults_seen.get(name, 0) + 1
            return True
        return False

    def _reply(self, now_ns: int, venue: str, report: Report) -> list[tuple[int, Report]]:
        """Deliver a report after the return latency, with the report faults."""
        rng, faults = self._fault_rng, self._faults
        delay = self.latency(venue)
        if self._fault("reorder", faults.reorder):
            delay += int(rng.integers(1, 20)) * LIT_LATENCY_NS
        if self._fault("delay", faults.delay):
            delay += int(rng.integers(1, 120)) * 1_000_000_000
        out = [(now_ns + delay, report)]
        if self._fault("duplicate", faults.duplicate):
            out.append((now_ns + delay + int(rng.integers(1, 50)) * LIT_LATENCY_NS, report))
        return out

    def _submit(self, now_ns: int, cmd: SubmitOrder) -> list[tuple[int, Report]]:
        venue = cmd.venue or BROKER_VENUE
        if cmd.client_order_id in self._orders:
            return self._reply(
                now_ns,
                venue,
                OrderUpdate(now_ns, cmd.client_order_id, OrdStatus.REJECTED, "duplicate ClOrdID"),
            )
        reason = ""
        if cmd.venue is not None and cmd.venue not in self._venues:
            reason = f"unknown venue {cmd.venue}"
        elif cmd.symbol not in self._instruments:
            reason = f"unknown symbol {cmd.symbol}"
        elif self._outage_until.get(venue, -1) > now_ns:
            reason = f"{venue} unavailable"
        elif self._fault("reject", self._faults.reject):
            reason = "rejected by venue (simulated)"
        elif cmd.quantity <= 0:
            reason = f"quantity {cmd.quantity} must be positive"
        elif cmd.order_type is OrderType.STOP and (cmd.stop_price or 0) <= 0:
            reason = f"stop price {cmd.stop_price} must be positive"
        if reason:
            return self._reply(
                now_ns, venue, OrderUpdate(now_ns, cmd.client_order_id, OrdStatus.REJECTED, reason)
            )
        order = SimOrder(
            ids=[cmd.client_order_id],
            symbol=cmd.symbol,
            side=cmd.side,
            quantity=cmd.quantity,
            order_type=cmd.order_type,
            limit_price=cmd.limit_price,
            tif=cmd.time_in_force,
            venue=venue,
            min_quantity=cmd.min_quantity,
            arrival_ns=now_ns,
            stop_price=cmd.stop_price,
        )
        order.passive = self._is_passive(order)
        self._orders[cmd.client_order_id] = order
        self.book.append(order)
        out = self._reply(now_ns, venue, OrderUpdate(now_ns, cmd.client_order_id, OrdStatus.NEW))
        last = self._last_bar.get(cmd.symbol)
        if order.tif is TimeInForce.IOC and last is not None and self._in_session(now_ns):
            out.extend(self._match_one(order, last, now_ns, instant=True))
            if order.open:
                order.open = False
                out.extend(self._expire(order, now_ns, OrdStatus.CANCELED, "IOC remainder"))
            return out
        self._by_symbol.setdefault(cmd.symbol, []).append(order)
        return out

    def _in_session(self, time_ns: int) -> bool:
        return self._sessions is None or self._sessions.session_at(time_ns) is not None

    def _is_passive(self, order: SimOrder) -> bool:
        """A lit limit that would not trade at the touch now: it rests (maker)."""
        venue = self._venues.get(order.venue)
        last = self._last_bar.get(order.symbol)
        if (
            order.limit_price is None
            or last is None
            or (venue is not None and venue.kind == "dark")
        ):
            return False
        half = self._half_spread(order.symbol, last.close)
        if order.side is Side.BUY:
            return order.limit_price < last.close + half
        return order.limit_price > last.close - half

    def _cancel(self, now_ns: int, cmd: CancelOrder) -> list[tuple[int, Report]]:
        order = self._orders.get(cmd.orig_client_order_id)
        if order is None or not order.open:
            venue = order.venue if order else BROKER_VENUE
            why = "unknown order" if order is None else "too late to cancel"
            return self._reply(
                now_ns, venue, OrderUpdate(now_ns, cmd.client_order_id, OrdStatus.REJECTED, why)
            )
        out: list[tuple[int, Report]] = []
        faults = self._faults
        last = self._last_bar.get(order.symbol)
        if (
            last is not None
            and self._in_session(now_ns)
            and self._fault("cancel_race", faults.cancel_race)
        ):
            # The race fill obeys the order's own terms (limit, midpoint, MinQty).
            out.extend(self._match_one(order, last, now_ns, cap=max(1, order.leaves // 2)))
        if order.open:
            order.open = False
            out.extend(
                self._reply(
                    now_ns,
                    order.venue,
                    OrderUpdate(now_ns, order.client_order_id, OrdStatus.CANCELED, "canceled"),
                )
            )
        return out

    def _replace(self, now_ns: int, cmd: ReplaceOrder) -> list[tuple[int, Report]]:
        order = self._orders.get(cmd.orig_client_order_id)
        if (
            order is None
            or not order.open
            or cmd.quantity <= order.filled
            or cmd.client_order_id in self._orders
        ):
            venue = order.venue if order else BROKER_VENUE
            return self._reply(
                now_ns,
                venue,
                OrderUpdate(now_ns, cmd.client_order_id, OrdStatus.REJECTED, "cannot replace"),
            )
        order.quantity = cmd.quantity
        order.limit_price = cmd.limit_price
        if order.order_type is OrderType.STOP and cmd.stop_price is not None:
            order.stop_price = cmd.stop_price
        order.passive = self._is_passive(order)  # a new price reaches the venue now
        order.ids.append(cmd.client_order_id)
        self._orders[cmd.client_order_id] = order
        return self._reply(
            now_ns, order.venue, OrderUpdate(now_ns, cmd.client_order_id, OrdStatus.REPLACED)
        )

    # --------------------------------------------------------------- bars
    def start_outages(self, now_ns: int) -> list[str]:
        """Maybe take venues down (per venue, per minute); returns those that fell."""
        fallen: list[str] = []
        if not self._faults.outage:
            return fallen
        for name in [*sorted(self._venues), BROKER_VENUE]:
            if self._outage_until.get(name, -1) <= now_ns and self._fault(
                "outage", self._faults.outage
            ):
                minutes = int(self._fault_rng.integers(5, 60))
                self._outage_until[name] = now_ns + minutes * 60_000_000_000
                fallen.append(name)
        return fallen

    def match(self, bar: Bar, bar_end_ns: int) -> list[tuple[int, Report]]:
        """Trade the symbol's resting orders against a bar that just printed."""
        self._last_bar[bar.symbol] = bar
        resting = self._by_symbol.get(bar.symbol)
        if not resting:
            return []
        out: list[tuple[int, Report]] = []
        closing = bar_end_ns in self._closes
        window = self._window(bar, bar_end_ns)
        still_open = []
        # Stops go first: a protective stop the bar triggers takes its share of
        # the bar's quarter before our other orders in the symbol (the entry it
        # protects included), since which traded first inside the bar is
        # unknown and the stop is what bounds the loss. Stable: arrival order
        # otherwise.
        for order in sorted(resting, key=lambda o: o.order_type is not OrderType.STOP):
            if not order.open:
                continue
            if order.arrival_ns < bar_end_ns and self._armed(order, bar):
                out.extend(
                    self._match_one(order, bar, bar_end_ns, at_ns=self._fill_time(order, window))
                )
                if order.open and order.tif is TimeInForce.IOC:
                    order.open = False
                    out.extend(self._expire(order, bar_end_ns, OrdStatus.CANCELED, "IOC remainder"))
                elif order.open and closing and order.tif is TimeInForce.DAY:
                    order.open = False
                    out.extend(self._expire(order, bar_end_ns, OrdStatus.EXPIRED, "session closed"))
            if order.open:
                still_open.append(order)
        self._by_symbol[bar.symbol] = still_open
        return out

    def _armed(self, order: SimOrder, bar: Bar) -> bool:
        """Whether ``order`` may trade in ``bar``: always, unless it is a stop the
        bar did not trade through (a sell stop triggers at or below its price, a
        buy stop at or above). A triggered stop is a market order from then on."""
        if order.order_type is not OrderType.STOP or order.triggered:
            return True
        stop = order.stop_price or 0
        if order.side is Side.SELL and bar.low > stop:
            return False
        if order.side is Side.BUY and bar.high < stop:
            return False
        order.triggered = True
        order.trigger_bar_ns = bar.time_ns
        return True

    def _stop_fill_price(self, order: SimOrder, bar: Bar) -> int | None:
        """In the bar that triggered it, a stop fills at its price, or at the open
        when the bar opened beyond it (the gap is the loss the stop cannot cap)."""
        if order.trigger_bar_ns != bar.time_ns:
            return None
        stop = order.stop_price or 0
        return min(stop, bar.open) if order.side is Side.SELL else max(stop, bar.open)

    def _window(self, bar: Bar, bar_end_ns: int) -> tuple[int, int]:
        """When the bar traded: its interval, cut to the session it overlaps."""
        start, end = bar.time_ns, bar_end_ns
        if self._sessions is not None:
            session = self._sessions.overlapping(start, end)
            if session is not None:
                start, end = max(start, session[0]), min(end, session[1])
        return start, end

    def _fill_time(self, order: SimOrder, window: tuple[int, int]) -> int:
        """An execution's time: once the order is there and the bar trading, plus latency."""
        start, end = window
        when = max(start, order.arrival_ns) + self.latency(order.venue)
        return min(when, max(start, end - 1))

    def _expire(
        self, order: SimOrder, now_ns: int, status: OrdStatus, why: str
    ) -> list[tuple[int, Report]]:
        return self._reply(
            now_ns, order.venue, OrderUpdate(now_ns, order.client_order_id, status, why)
        )

    def _match_one(
        self,
        order: SimOrder,
        bar: Bar,
        now_ns: int,
        cap: int | None = None,
        *,
        instant: bool = False,
        at_ns: int | None = None,
    ) -> list[tuple[int, Report]]:
        """Trade ``order`` against ``bar``; ``cap`` limits the quantity further.

        ``instant``: the order is answered on arrival against the last printed
        bar (an IOC), at that bar's close; ``at_ns`` is the execution's time
        (reports still leave at ``now_ns``, when the venue learns of the bar).
        """
        leaves = order.leaves if cap is None else min(order.leaves, cap)
        venue = self._venues.get(order.venue)
        stamp = now_ns if at_ns is None else at_ns
        if venue is not None and venue.kind == "dark":
            return self._match_dark(order, bar, now_ns, leaves, instant, stamp)
        if order.order_type is OrderType.STOP and not order.triggered:
            return []  # a resting stop trades only once the tape went through it
        quantity = min(leaves, self._lots(order, self._lit_room(bar)))
        if quantity <= 0:
            return []
        price = self._stop_fill_price(order, bar) if order.order_type is OrderType.STOP else None
        if price is None:
            price = self._lit_price(order, bar, quantity)
        if order.limit_price is not None:
            if order.side is Side.BUY:
                if bar.low > order.limit_price:
                    return []
                price = order.limit_price if order.passive else min(price, order.limit_price)
            else:
                if bar.high < order.limit_price:
                    return []
                price = order.limit_price if order.passive else max(price, order.limit_price)
        if self._fault("partial", self._faults.partial):
            quantity = self._lots(order, max(1, int(quantity * self._fault_rng.uniform(0.1, 0.9))))
            if quantity <= 0:
                return []
        self._take_lit(bar, quantity)
        return self._fill(now_ns, order, quantity, price, stamp)

    def _lit_room(self, bar: Bar) -> int:
        """Shares our lit orders may still take from ``bar`` (the per-bar cap)."""
        start, left = self._lit_budget.get(bar.symbol, (None, 0))
        if start != bar.time_ns:
            left = int(bar.volume * PARTICIPATION_CAP)
            self._lit_budget[bar.symbol] = (bar.time_ns, left)
        return left

    def _take_lit(self, bar: Bar, quantity: int) -> None:
        left = self._lit_room(bar)
        self._lit_budget[bar.symbol] = (bar.time_ns, max(0, left - quantity))

    def _match_dark(
        self, order: SimOrder, bar: Bar, now_ns: int, leaves: int, instant: bool, stamp: int
    ) -> list[tuple[int, Report]]:
        if self._fill_rng.random() >= self._dark_prob.get(order.venue, 0.0):
            return []
        contra = int(bar.volume * self._fill_rng.uniform(0.02, 0.3))
        quantity = self._lots(order, min(leaves, contra))
        if quantity <= 0 or (order.min_quantity and quantity < order.min_quantity):
            return []
        midpoint = bar.close if instant else (bar.high + bar.low) // 2
        if order.limit_price is not None and (
            (order.side is Side.BUY and midpoint > order.limit_price)
            or (order.side is Side.SELL and midpoint < order.limit_price)
        ):
            return []
        return self._fill(now_ns, order, quantity, midpoint, stamp)

    def _lots(self, order: SimOrder, quantity: int) -> int:
        lot = self._instruments[order.symbol].lot
        return (quantity // lot) * lot

    def _half_spread(self, symbol: str, price: int) -> int:
        """Half the quoted spread: at least half a tick, about a basis point wide."""
        return max(self._instruments[symbol].tick // 2, price // 20_000)

    def _lit_price(self, order: SimOrder, bar: Bar, quantity: int) -> int:
        """Bar average + half spread + square-root impact, inside the bar's range."""
        tick = self._instruments[order.symbol].tick
        reference = (bar.open + bar.high + bar.low + bar.close) // 4
        half_spread = self._half_spread(order.symbol, reference)
        volume = max(bar.volume, 1)
        impact = int(IMPACT_Y * (bar.high - bar.low) * math.sqrt(quantity / volume))
        # Round to the tick away from us first, then keep inside the bar: a bar
        # with off-tick extremes (adjusted data) must still contain the fill.
        if order.side is Side.BUY:
            price = -(-(reference + half_spread + impact) // tick) * tick
            return max(bar.low, min(bar.high, price))
        price = ((reference - half_spread - impact) // tick) * tick
        return min(bar.high, max(bar.low, price))

    def _fill(
        self, now_ns: int, order: SimOrder, quantity: int, price: int, stamp: int | None = None
    ) -> list[tuple[int, Report]]:
        quantity = min(quantity, order.leaves)
        if quantity <= 0:
            return []
        venue = self._venues.get(order.venue)
        fee = 0
        if venue is not None and venue.kind == "lit":
            # the maker earns the rebate (a negative fee), the taker pays
            fee = -venue.make_rebate * quantity if order.passive else venue.take_fee * quantity
        if self._fees is not None:
            # the broker's commission (per order, charged as it fills), the venue
            # fee if the broker passes it through, SEC/TAF on sells
            instrument = self._instruments[order.symbol]
            fee = self._fees.charge(
                order.ids[0], order.side, quantity, int(price), fee, instrument.qty_decimals
            )
        self._exec_seq += 1
        fill = Fill(
            now_ns if stamp is None else stamp,
            order.client_order_id,
            f"{order.venue}-{self._exec_seq}",
            order.symbol,
            order.side,
            quantity,
            int(price),
            order.venue,
            int(fee),
        )
        order.filled += quantity
        order.fills.append(fill)
        if order.filled >= order.quantity:
            order.open = False
        return self._reply(now_ns, order.venue, fill)

    def last_closes(self) -> dict[str, int]:
        """The last printed close of every symbol (the world's marks)."""
        return {symbol: bar.close for symbol, bar in self._last_bar.items()}

    def executed(self) -> dict[str, list[Fill]]:
        """Every fill each venue printed, by exec id order: the venues' truth."""
        return {o.client_order_id: list(o.fills) for o in self.book}

    def draw(self) -> np.random.Generator:
        return self._fault_rng
