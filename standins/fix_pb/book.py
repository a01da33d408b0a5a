"""The prime broker's order book, positions and cash over the venue simulator.

A pure state machine (every call takes the market time it happens at), the
FIX twin of ``standins.broker.Broker``: orders keep their FIX identity (a
chain of ClOrdIDs, one OrderID) and their routing terms — ExDestination picks
a dark pool or a lit venue, MinQty and the midpoint peg go with the order —
and ``sim.venues.VenueSimulator`` decides every fill: dark pools cross at the
bar's midpoint when a contra shows up and never below MinQty, lit venues fill
through the lit model. The results are ``Report`` values the FIX application
turns into ExecutionReports and OrderCancelRejects.

Account model: a prime-brokerage margin account. The stand-in does not police
buying power or locates (an institutional account's credit limits live at the
broker's risk desk, not in the order path); positions may go short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from core.money import format_price, round_half_even_div
from sim.faults import NO_FAULTS
from sim.venues import BROKER_VENUE, VenueSimulator
from standins.market import MINUTE_NS, SessionMarket

OPEN = frozenset({OrdStatus.PENDING_NEW, OrdStatus.NEW, OrdStatus.PARTIALLY_FILLED})


@dataclass(eq=False)
class PbOrder:
    """One order as the prime broker sees it; ``ids`` is its ClOrdID chain."""

    order_id: str
    ids: list[str]
    session: str  # the FIX session that owns it (reports go back there)
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: int | None
    tif: TimeInForce
    venue: str | None
    min_quantity: int | None
    status: OrdStatus = OrdStatus.PENDING_NEW
    stop_price: int | None = None  # OrdType=3: StopPx(99)
    cum: int = 0
    notional: int = 0  # Σ qty × price of fills, nano-units

    @property
    def cl_ord_id(self) -> str:
        return self.ids[-1]

    @property
    def leaves(self) -> int:
        return self.quantity - self.cum if self.status in OPEN else 0

    @property
    def open(self) -> bool:
        return self.status in OPEN

    @property
    def avg_px(self) -> int:
        return round_half_even_div(self.notional, self.cum) if self.cum else 0


@dataclass(frozen=True, slots=True)
class Report:
    """An ExecutionReport to send: ``exec_type`` is FIX ExecType(150)."""

    time_ns: int
    order: PbOrder
    exec_type: bytes
    exec_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None = None
    fill: Fill | None = None
    text: str = ""
    rej_reason: int | None = None  # OrdRejReason(103)
    status: OrdStatus | None = None  # OrdStatus at the time (default: the order's now)


@dataclass(frozen=True, slots=True)
class CancelReject:
    """An OrderCancelReject (9): ``response_to`` 1 = cancel, 2 = replace."""

    time_ns: int
    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str
    status: OrdStatus
    response_to: int
    text: str


Outcome = Report | CancelReject


@dataclass
class PrimeBook:
    market: SessionMarket
    seed: int
    cash: int = 0
    orders: dict[str, PbOrder] = field(default_factory=dict)  # every ClOrdID of the chain
    positions: dict[str, int] = field(default_factory=dict)
    executions: list[dict[str, Any]] = field(default_factory=list)
    last_price: dict[str, int] = field(default_factory=dict)
    dark_fill_rate: float | None = None  # None: each pool's seeded draw

    def __post_init__(self) -> None:
        self.cash = self.market.balance
        closes = {close for _, close in self.market.sessions}
        self.venues = VenueSimulator(
            self.seed,
            self.market.instruments,
            NO_FAULTS,
            closes,
            dark_fill_rate=self.dark_fill_rate,
        )
        self._order_seq = 0
        self._status_seq = 0
        self._open_ids: dict[str, PbOrder] = {}  # the venue's current ClOrdID → order
        for bar in self.market.history:
            self.last_price[bar.symbol] = bar.close

    # ------------------------------------------------------------ requests
    def submit(self, now_ns: int, session: str, cmd: SubmitOrder) -> list[Outcome]:
        """NewOrderSingle. A ClOrdID already used is rejected (OrdRejReason 6)."""
        self._order_seq += 1
        order = PbOrder(
            order_id=f"PB{self._order_seq}",
            ids=[cmd.client_order_id],
            session=session,
            symbol=cmd.symbol,
            side=cmd.side,
            quantity=cmd.quantity,
            order_type=cmd.order_type,
            limit_price=cmd.limit_price,
            tif=cmd.time_in_force,
            venue=cmd.venue,
            min_quantity=cmd.min_quantity,
            stop_price=cmd.stop_price,
        )
        if cmd.client_order_id in self.orders:
            order.status = OrdStatus.REJECTED
            return [self._status(now_ns, order, b"8", "duplicate ClOrdID", rej_reason=6)]
        problem = self._check(cmd)
        if problem:
            order.status = OrdStatus.REJECTED
            self.orders[cmd.client_order_id] = order
            return [self._status(now_ns, order, b"8", problem, rej_reason=0)]
        self.orders[cmd.client_order_id] = order
        self._open_ids[cmd.client_order_id] = order
        return self._apply(self.venues.receive(now_ns, cmd))

    def cancel(self, now_ns: int, session: str, cmd: CancelOrder) -> list[Outcome]:
        """OrderCancelRequest: OrigClOrdID must be the order's current ClOrdID."""
        order = self.orders.get(cmd.orig_client_order_id)
        why = self._request_problem(order, cmd.orig_client_order_id, cmd.client_order_id)
        if why or order is None:
            return [
                self._cancel_reject(
                    now_ns, session, cmd.client_order_id, cmd.orig_client_order_id, order, 1, why
                )
            ]
        venue_reports = self.venues.receive(now_ns, cmd)
        out: list[Outcome] = []
        for time_ns, report in sorted(venue_reports, key=lambda r: r[0]):
            if isinstance(report, Fill):
                out.extend(self._fill(time_ns, report))
            elif report.status is OrdStatus.CANCELED:
                order.status = OrdStatus.CANCELED
                self._open_ids.pop(order.cl_ord_id, None)
                out.append(
                    self._status(
                        time_ns,
                        order,
                        b"4",
                        "canceled",
                        cl_ord_id=cmd.client_order_id,
                        orig=cmd.orig_client_order_id,
                    )
                )
            elif report.status is OrdStatus.REJECTED:
                out.append(
                    self._cancel_reject(
                        time_ns,
                        session,
                        cmd.client_order_id,
                        cmd.orig_client_order_id,
                        order,
                        1,
                        report.reason,
                    )
                )
        return out

    def replace(self, now_ns: int, session: str, cmd: ReplaceOrder) -> list[Outcome]:
        """OrderCancelReplaceRequest: new total OrderQty (> CumQty) and/or price."""
        order = self.orders.get(cmd.orig_client_order_id)
        why = self._request_problem(order, cmd.orig_client_order_id, cmd.client_order_id)
        if not why and order is not None and cmd.quantity <= order.cum:
            why = f"OrderQty {cmd.quantity} is not above CumQty {order.cum}"
        if why or order is None:
            return [
                self._cancel_reject(
                    now_ns, session, cmd.client_order_id, cmd.orig_client_order_id, order, 2, why
                )
            ]
        reports = self.venues.receive(now_ns, cmd)
        if any(isinstance(r, OrderUpdate) and r.status is OrdStatus.REJECTED for _, r in reports):
            return [
                self._cancel_reject(
                    now_ns,
                    session,
                    cmd.client_order_id,
                    cmd.orig_client_order_id,
                    order,
                    2,
                    "cannot replace",
                )
            ]
        self._open_ids.pop(order.cl_ord_id, None)
        order.ids.append(cmd.client_order_id)
        order.quantity = cmd.quantity
        if cmd.limit_price is not None:
            order.limit_price = cmd.limit_price
        if cmd.stop_price is not None and order.order_type is OrderType.STOP:
            order.stop_price = cmd.stop_price
        self.orders[cmd.client_order_id] = order
        self._open_ids[cmd.client_order_id] = order
        return [
            self._status(
                now_ns,
                order,
                b"5",
                "replaced",
                cl_ord_id=cmd.client_order_id,
                orig=cmd.orig_client_order_id,
            )
        ]

    def status_report(self, now_ns: int, cl_ord_id: str) -> Report | None:
        """OrderStatusRequest: the order's state now (ExecType I), None if unknown."""
        order = self.orders.get(cl_ord_id)
        if order is None:
            return None
        return self._status(now_ns, order, b"I", "", cl_ord_id=order.cl_ord_id)

    def open_reports(self, now_ns: int, session: str) -> list[Report]:
        """OrderMassStatusRequest: one status report per open order of ``session``."""
        seen: dict[str, PbOrder] = {}
        for order in self._open_ids.values():
            if order.session == session and order.open:
                seen.setdefault(order.order_id, order)
        return [self._status(now_ns, o, b"I", "", cl_ord_id=o.cl_ord_id) for o in seen.values()]

    def reject_exec_id(self) -> str:
        """An ExecID for a reject of a request that never became an order."""
        self._status_seq += 1
        return f"REJ-{self._status_seq}"

    # ----------------------------------------------------------------- bars
    def on_bar(self, bar: Bar) -> list[Outcome]:
        """A bar was published: resting orders trade against it in the venues."""
        self.last_price[bar.symbol] = bar.close
        return self._apply(self.venues.match(bar, bar.time_ns + MINUTE_NS))

    # -------------------------------------------------------------- helpers
    def _check(self, cmd: SubmitOrder) -> str:
        if cmd.symbol not in self.market.instruments:
            return f"unknown symbol {cmd.symbol}"
        if cmd.quantity <= 0:
            return f"OrderQty {cmd.quantity} must be positive"
        lot = self.market.instruments[cmd.symbol].lot
        if cmd.quantity % lot:
            return f"OrderQty {cmd.quantity} is not a multiple of the lot {lot}"
        if cmd.min_quantity is not None and not 0 < cmd.min_quantity <= cmd.quantity:
            return f"MinQty {cmd.min_quantity} must be in 1..OrderQty"
        if cmd.order_type is OrderType.LIMIT and cmd.limit_price is None:
            return "a limit order needs a Price"
        if cmd.order_type is OrderType.STOP and not (cmd.stop_price or 0) > 0:
            return "a stop order needs a positive StopPx"
        return ""

    def _request_problem(self, order: PbOrder | None, orig: str, new_id: str) -> str:
        if order is None:
            return f"unknown order {orig}"
        if orig != order.cl_ord_id:
            return f"OrigClOrdID {orig} is not the order's current ClOrdID {order.cl_ord_id}"
        if not order.open:
            return f"too late: order is {order.status.value}"
        if new_id in self.orders:
            return f"duplicate ClOrdID {new_id}"
        return ""

    def _apply(self, reports: list[tuple[int, Fill | OrderUpdate]]) -> list[Outcome]:
        out: list[Outcome] = []
        for time_ns, report in sorted(reports, key=lambda r: r[0]):
            if isinstance(report, Fill):
                out.extend(self._fill(time_ns, report))
                continue
            order = self._open_ids.get(report.client_order_id)
            if order is None:
                continue
            status = report.status
            if status is OrdStatus.NEW and order.status is OrdStatus.PENDING_NEW:
                order.status = OrdStatus.NEW
                out.append(self._status(time_ns, order, b"0", ""))
            elif status is OrdStatus.REJECTED and order.status is OrdStatus.PENDING_NEW:
                order.status = OrdStatus.REJECTED
                self._open_ids.pop(order.cl_ord_id, None)
                out.append(self._status(time_ns, order, b"8", report.reason, rej_reason=0))
            elif status in (OrdStatus.CANCELED, OrdStatus.EXPIRED) and order.open:
                order.status = status
                self._open_ids.pop(order.cl_ord_id, None)
                kind = b"4" if status is OrdStatus.CANCELED else b"C"
                out.append(self._status(time_ns, order, kind, report.reason))
        return out

    def _fill(self, time_ns: int, fill: Fill) -> list[Outcome]:
        order = self._open_ids.get(fill.client_order_id)
        if order is None:
            return []
        order.cum += fill.quantity
        order.notional += fill.quantity * fill.price
        if order.cum >= order.quantity:
            order.status = OrdStatus.FILLED
            self._open_ids.pop(order.cl_ord_id, None)
        else:
            order.status = OrdStatus.PARTIALLY_FILLED
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        self.positions[order.symbol] = self.positions.get(order.symbol, 0) + signed
        if not self.positions[order.symbol]:
            del self.positions[order.symbol]
        self.cash -= signed * fill.price + fill.fee
        self.executions.append(
            {
                "exec_id": fill.exec_id,
                "order_id": order.order_id,
                "cl_ord_id": order.cl_ord_id,
                "symbol": order.symbol,
                "side": order.side.value,
                "qty": fill.quantity,
                "price": format_price(fill.price),
                "venue": fill.venue,
                "fee": format_price(fill.fee),
                "min_qty": order.min_quantity,
                "order_type": order.order_type.value,
                "time_ns": time_ns,
            }
        )
        return [Report(time_ns, order, b"F", fill.exec_id, order.cl_ord_id, fill=fill)]

    def _status(
        self,
        time_ns: int,
        order: PbOrder,
        exec_type: bytes,
        text: str,
        cl_ord_id: str | None = None,
        orig: str | None = None,
        rej_reason: int | None = None,
    ) -> Report:
        self._status_seq += 1
        return Report(
            time_ns,
            order,
            exec_type,
            f"{order.order_id}-S{self._status_seq}",
            cl_ord_id or order.cl_ord_id,
            orig,
            text=text,
            rej_reason=rej_reason,
            status=order.status,
        )

    def _cancel_reject(
        self,
        now_ns: int,
        session: str,
        cl_ord_id: str,
        orig: str,
        order: PbOrder | None,
        response_to: int,
        text: str,
    ) -> CancelReject:
        status = order.status if order is not None else OrdStatus.REJECTED
        order_id = order.order_id if order is not None else "NONE"
        return CancelReject(now_ns, session, cl_ord_id, orig, order_id, status, response_to, text)

    # ---------------------------------------------------------------- truth
    def state_json(self) -> dict[str, Any]:
        """The prime broker's truth, for tests to compare the gateway's records with."""
        unique: dict[str, PbOrder] = {o.order_id: o for o in self.orders.values()}
        return {
            "orders": [
                {
                    "order_id": o.order_id,
                    "cl_ord_ids": list(o.ids),
                    "symbol": o.symbol,
                    "side": o.side.value,
                    "qty": o.quantity,
                    "cum_qty": o.cum,
                    "avg_px": format_price(o.avg_px),
                    "status": o.status.value,
                    "venue": o.venue or BROKER_VENUE,
                    "min_qty": o.min_quantity,
                    "order_type": o.order_type.value,
                }
                for o in unique.values()
            ],
            "executions": list(self.executions),
            "positions": dict(sorted(self.positions.items())),
            "cash": format_price(self.cash),
        }
