"""Child-order lifecycle (SPEC §8): an explicit FIX OrdStatus transition table.

Venues talk in messages that can be duplicated, reordered or late. The book
therefore never *overwrites* a status: every change is looked up in
``TRANSITIONS`` and a report that would need an illegal transition is refused
(and counted) with the order left as it was. Fills drive the fill statuses;
execution ids deduplicate; a fill beyond the order quantity is refused.

A fill reported after the order was cancelled or expired is accepted (the
shares really changed hands — the cancel lost the race) without changing the
terminal status, and flagged as late so the engine can alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

S = OrdStatus

TRANSITIONS: dict[OrdStatus, frozenset[OrdStatus]] = {
    S.PENDING_NEW: frozenset(
        {S.NEW, S.PARTIALLY_FILLED, S.FILLED, S.REJECTED, S.PENDING_CANCEL, S.CANCELED, S.EXPIRED}
    ),
    S.NEW: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELED, S.EXPIRED}
    ),
    S.PARTIALLY_FILLED: frozenset(
        {
            S.PARTIALLY_FILLED,
            S.FILLED,
            S.PENDING_CANCEL,
            S.PENDING_REPLACE,
            S.CANCELED,
            S.EXPIRED,
        }
    ),
    # A cancel or replace that the venue rejects returns the order to where it was.
    S.PENDING_CANCEL: frozenset(
        {S.CANCELED, S.FILLED, S.NEW, S.PARTIALLY_FILLED, S.REPLACED, S.EXPIRED, S.REJECTED}
    ),
    S.PENDING_REPLACE: frozenset(
        {S.REPLACED, S.FILLED, S.NEW, S.PARTIALLY_FILLED, S.CANCELED, S.EXPIRED}
    ),
    # FIX 4.2 OrdStatus=5: the order lives on under its new id and terms.
    S.REPLACED: frozenset(
        {S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.PENDING_REPLACE, S.CANCELED, S.EXPIRED}
    ),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
LATE_FILL_ACCEPTED = frozenset({S.CANCELED, S.EXPIRED})
LIVE_FILLABLE = frozenset({S.PENDING_NEW, S.NEW, S.PARTIALLY_FILLED, S.REPLACED})


def is_legal(before: OrdStatus, after: OrdStatus) -> bool:
    return after in TRANSITIONS[before]


@dataclass(slots=True)
class PendingRequest:
    """A cancel or replace sent and not yet answered."""

    request_id: str
    prior: OrdStatus
    quantity: int | None = None  # replace only
    limit_price: int | None = None
    stop_price: int | None = None


@dataclass(slots=True)
class ChildOrder:
    client_order_id: str
    parent_id: str | None
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType
    limit_price: int | None
    venue: str | None
    created_ns: int
    time_in_force: TimeInForce = TimeInForce.DAY
    min_quantity: int | None = None
    stop_price: int | None = None  # an OrderType.STOP's trigger
    status: OrdStatus = OrdStatus.PENDING_NEW
    filled: int = 0
    filled_notional: int = 0  # Σ qty × price (nano-units × units), exact
    fees: int = 0
    first_fill_ns: int | None = None
    pending: PendingRequest | None = None
    ids: list[str] = field(default_factory=list)
    replaced: list[tuple[str, int]] = field(default_factory=list)  # (earlier id, its quantity)
    history: list[tuple[OrdStatus, OrdStatus]] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def leaves(self) -> int:
        """Quantity still able to fill (0 once terminal)."""
        return 0 if self.is_terminal else self.quantity - self.filled

    def _move(self, after: OrdStatus) -> None:
        if not is_legal(self.status, after):
            raise IllegalTransition(self.client_order_id, self.status, after)
        self.history.append((self.status, after))
        self.status = after


class IllegalTransition(Exception):
    def __init__(self, order_id: str, before: OrdStatus, after: OrdStatus) -> None:
        super().__init__(f"order {order_id}: {before.value} -> {after.value} is not allowed")
        self.before = before
        self.after = after


@dataclass(frozen=True, slots=True)
class FillResult:
    """What happened to one Fill event."""

    outcome: str  # accepted | late | duplicate | overfill | unknown | invalid | rejected_order
    order: ChildOrder | None
    reason: str = ""

    @property
    def booked(self) -> bool:
        return self.outcome in ("accepted", "late")


@dataclass(frozen=True, slots=True)
class UpdateResult:
    outcome: str  # applied | ignored | refused | unknown
    order: ChildOrder | None
    before: OrdStatus | None = None
    after: OrdStatus | None = None
    reason: str = ""


class OrderBook:
    """Every child order the engine has sent, keyed by every id it has had.

    Client order ids come from one counter (``f"{symbol}-{seq}"``) so a rerun
    with the same inputs produces the same ids — no randomness, no clock.
    """

    __slots__ = ("_by_id", "_exec_ids", "_live", "_seq", "orders")

    def __init__(self) -> None:
        self._seq = 0
        self._by_id: dict[str, ChildOrder] = {}
        self._exec_ids: set[tuple[str, str]] = set()
        self._live: dict[str, ChildOrder] = {}  # insertion-ordered: deterministic
        self.orders: list[ChildOrder] = []

    def next_id(self, symbol: str) -> str:
        self._seq += 1
        return f"{symbol}-{self._seq}"

    @property
    def sequence(self) -> int:
        return self._seq

    def get(self, client_order_id: str) -> ChildOrder | None:
        return self._by_id.get(client_order_id)

    def live_orders(self) -> list[ChildOrder]:
        return list(self._live.values())

    # ------------------------------------------------------------ requests
    def submit(
        self,
        now_ns: int,
        parent_id: str | None,
        symbol: str,
        side: Side,
        quantity: int,
        order_type: OrderType = OrderType.MARKET,
        limit_price: int | None = None,
        venue: str | None = None,
        min_quantity: int | None = None,
        algo: str | None = None,
        time_in_force: TimeInForce = TimeInForce.DAY,
        stop_price: int | None = None,
    ) -> tuple[ChildOrder, SubmitOrder]:
        if quantity <= 0:
            raise ValueError(f"child quantity must be positive, got {quantity}")
        order_id = self.next_id(symbol)
        order = ChildOrder(
            client_order_id=order_id,
            parent_id=parent_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            order_type=order_type,
            limit_price=limit_price,
            venue=venue,
            created_ns=now_ns,
            time_in_force=time_in_force,
            min_quantity=min_quantity,
            stop_price=stop_price,
            ids=[order_id],
        )
        self._by_id[order_id] = order
        self._live[order_id] = order
        self.orders.append(order)
        command = SubmitOrder(
            time_ns=now_ns,
            client_order_id=order_id,
            parent_id=parent_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            order_type=order_type,
            limit_price=limit_price,
            time_in_force=time_in_force,
            venue=venue,
            min_quantity=min_quantity,
            algo=algo,
            stop_price=stop_price,
        )
        return order, command

    def request_cancel(self, now_ns: int, order: ChildOrder) -> CancelOrder | None:
        """Cancel a live order; None when it is terminal or a request is pending."""
        if order.is_terminal or order.pending is not None:
            return None
        request_id = self.next_id(order.symbol)
        order.pending = PendingRequest(request_id, order.status)
        order._move(OrdStatus.PENDING_CANCEL)
        self._by_id[request_id] = order
        return CancelOrder(now_ns, request_id, order.client_order_id, order.symbol, order.side)

    def request_replace(
        self,
        now_ns: int,
        order: ChildOrder,
        quantity: int,
        limit_price: int | None,
        stop_price: int | None = None,
    ) -> ReplaceOrder | None:
        """Change quantity/price of an acknowledged order; None when not possible."""
        if order.status not in (S.NEW, S.PARTIALLY_FILLED, S.REPLACED) or order.pending:
            return None
        if quantity <= order.filled:
            return None
        request_id = self.next_id(order.symbol)
        order.pending = PendingRequest(request_id, order.status, quantity, limit_price, stop_price)
        order._move(OrdStatus.PENDING_REPLACE)
        self._by_id[request_id] = order
        return ReplaceOrder(
            now_ns,
            request_id,
            order.client_order_id,
            order.symbol,
            order.side,
            quantity,
            limit_price,
            stop_price,
        )

    # -------------------------------------------------------------- events
    def on_update(self, update: OrderUpdate) -> UpdateResult:
        order = self._by_id.get(update.client_order_id)
        if order is None:
            return UpdateResult("unknown", None, reason="no order with this client order id")
        before = order.status
        status = update.status
        pending = order.pending
        if status == before:
            return UpdateResult("ignored", order, before, before, "duplicate status report")
        if status in (S.PARTIALLY_FILLED, S.FILLED):
            return UpdateResult("ignored", order, before, before, "fill statuses follow fills")
        if status is S.PENDING_NEW:
            return UpdateResult("ignored", order, before, before, "stale pending-new report")
        if status in (S.PENDING_CANCEL, S.PENDING_REPLACE):
            # Pending states are entered when *we* send the request; the
            # venue's echo confirms it or is stale, it never moves the order.
            outcome = "refused" if pending is None else "ignored"
            return UpdateResult(outcome, order, before, before, "pending states follow requests")
        if status is S.REJECTED and update.client_order_id not in order.ids:
            # Addressed to one of our cancel/replace requests, not to the order.
            if pending is None or update.client_order_id != pending.request_id:
                return UpdateResult("ignored", order, before, before, "stale request reject")
            # OrderCancelReject / replace reject: the order goes back to where it was.
            prior = pending.prior
            if order.filled:
                prior = S.PARTIALLY_FILLED
            elif prior is S.PENDING_NEW:
                prior = S.NEW  # the venue answered about it, so it has the order
            order.pending = None
            return self._transition(order, prior, update.reason or "request rejected")
        if status is S.REPLACED:
            if pending is None and update.client_order_id == order.client_order_id:
                return UpdateResult("ignored", order, before, before, "replace already confirmed")
            if pending is None or pending.quantity is None or before is not S.PENDING_REPLACE:
                return UpdateResult("refused", order, before, before, "no replace pending")
            return self._confirm_replace(order, pending, update.reason)
        if status is S.NEW and before in (S.PENDING_CANCEL, S.PENDING_REPLACE):
            return UpdateResult("ignored", order, before, before, "late ack while request pending")
        result = self._transition(order, status, update.reason)
        if result.outcome == "applied" and order.is_terminal:
            order.pending = None
        return result

    def _confirm_replace(
        self, order: ChildOrder, pending: PendingRequest, reason: str
    ) -> UpdateResult:
        """The order lives on under the replace's id and terms."""
        assert pending.quantity is not None
        order.replaced.append((order.client_order_id, order.quantity))
        order.quantity = max(pending.quantity, order.filled)
        order.limit_price = pending.limit_price
        order.stop_price = pending.stop_price
        order.client_order_id = pending.request_id
        order.ids.append(pending.request_id)
        order.pending = None
        result = self._transition(order, S.REPLACED, reason)
        if order.filled >= order.quantity:
            self._transition(order, S.FILLED, "filled at the replaced quantity")
        return result

    def _transition(self, order: ChildOrder, after: OrdStatus, reason: str) -> UpdateResult:
        before = order.status
        if not is_legal(before, after):
            return UpdateResult(
                "refused",
                order,
                before,
                before,
                f"{before.value} -> {after.value} is not a legal transition",
            )
        order._move(after)
        if order.is_terminal:
            self._live.pop(order.ids[0], None)
        return UpdateResult("applied", order, before, after, reason)

    def on_fill(self, fill: Fill) -> FillResult:
        order = self._by_id.get(fill.client_order_id)
        if order is None:
            return FillResult("unknown", None, f"client_order_id={fill.client_order_id!r} unknown")
        if fill.quantity <= 0:
            return FillResult("invalid", order, f"quantity={fill.quantity!r} must be positive")
        if fill.price <= 0:
            return FillResult("invalid", order, f"price={fill.price!r} must be positive")
        if fill.symbol != order.symbol or fill.side is not order.side:
            return FillResult(
                "invalid",
                order,
                f"symbol/side={fill.symbol!r}/{fill.side.value} do not match the order",
            )
        key = (fill.venue, fill.exec_id)
        if key in self._exec_ids:
            return FillResult("duplicate", order, f"exec_id={fill.exec_id!r} already booked")
        if order.status is S.REJECTED:
            return FillResult("rejected_order", order, "fill for an order the venue rejected")
        # Until a replace is confirmed the venue may still reject it, so the
        # order's capacity is its current quantity, never the requested one;
        # but an execution under the replace's own id is the venue's proof that
        # it took (its REPLACED report is still on the way): confirm it first.
        pending = order.pending
        if (
            pending is not None
            and pending.quantity is not None
            and fill.client_order_id == pending.request_id
            and order.status is S.PENDING_REPLACE
        ):
            self._confirm_replace(order, pending, "confirmed by an execution under its id")
        capacity = order.quantity
        if order.filled + fill.quantity > capacity:
            return FillResult(
                "overfill",
                order,
                f"quantity={fill.quantity} would fill {order.filled + fill.quantity} of {capacity}",
            )
        self._exec_ids.add(key)
        order.filled += fill.quantity
        order.filled_notional += fill.quantity * fill.price
        order.fees += fill.fee
        order.fills.append(fill)
        if order.first_fill_ns is None:
            order.first_fill_ns = fill.time_ns
        if order.status in LATE_FILL_ACCEPTED:
            return FillResult("late", order, f"fill after the order was {order.status.value}")
        complete = order.filled >= order.quantity
        if order.status in LIVE_FILLABLE:
            self._transition(order, S.FILLED if complete else S.PARTIALLY_FILLED, "fill")
        elif complete:  # pending cancel/replace: a complete fill ends the order
            order.pending = None
            self._transition(order, S.FILLED, "fill")
        return FillResult("accepted", order)
