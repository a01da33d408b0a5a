"""Protective stops resting at the broker: one stop order per open position.

Checking a stop at the bar's close and exiting at market on the next bar lets
a gap or a flash crash run straight through it, so the "1% risk" of a trade
was no loss cap. Instead, once an entry has filled, the position's stop rests
at the broker as a stop order (Alpaca stop order, IBKR STP, FIX OrdType=3
with StopPx) that the venue triggers inside the bar: filled at the stop, or
at the open when the bar gapped through it.

The order follows the position, decided by one rule each time anything about
the symbol changes (a fill, an order update, an exit starting or ending):

===========================  ==========================================
the book wants               what is sent
===========================  ==========================================
no stop, none resting        nothing
a stop, none resting         ``SubmitOrder`` (STOP, GTC, opposite side)
none (flat, or an exit is    ``CancelOrder``
working), one resting
a stop on the other side     ``CancelOrder`` (the new one follows the
                             cancel's answer)
another price, or fewer      ``ReplaceOrder`` (quantity = filled + want)
shares
more shares (an entry still  ``ReplaceOrder`` at the next bar: one
filling)                     modify a bar, not one per child fill
the same                     nothing
a request still unanswered   nothing (decided again on the answer)
===========================  ==========================================

While an exit parent works the position, no stop rests: the exit is the
protection and the two would otherwise race to sell the same shares twice.
"""

from __future__ import annotations

from core.commands import (
    CancelOrder,
    OrderType,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.execution.orders import ChildOrder, OrderBook

STOP_ALGO = "STOP"

StopCommand = SubmitOrder | CancelOrder | ReplaceOrder


class ProtectiveStops:
    """The resting stop of every symbol, kept in the engine's one order book."""

    __slots__ = ("_book", "_refused", "_resting", "orders")

    def __init__(self, book: OrderBook) -> None:
        self._book = book
        self._resting: dict[str, ChildOrder] = {}  # insertion-ordered: deterministic
        self._refused: dict[str, bool] = {}  # symbol -> a stop was rejected since its last bar
        self.orders: list[ChildOrder] = []  # every stop ever sent, in order

    def resting(self, symbol: str) -> ChildOrder | None:
        """The symbol's live stop order at the broker (None when there is none)."""
        order = self._resting.get(symbol)
        if order is not None and order.is_terminal:
            del self._resting[symbol]
            if order.status is OrdStatus.REJECTED:
                self._refused[symbol] = True
            return None
        return order

    def on_bar(self, symbol: str) -> None:
        """A new bar: a stop the broker refused may be sent again (never in the
        reject's own reply, which would hammer a venue that is down)."""
        self._refused.pop(symbol, None)

    def guards(self, symbol: str) -> bool:
        """Whether a live stop will trigger at the venue (not being cancelled)."""
        order = self.resting(symbol)
        return order is not None and order.status is not OrdStatus.PENDING_CANCEL

    def is_stop(self, order: ChildOrder) -> bool:
        return order.parent_id is None and order.order_type is OrderType.STOP

    def reconcile(
        self,
        now_ns: int,
        symbol: str,
        position: int,
        stop: int | None,
        exit_working: bool,
        grow: bool = True,
    ) -> list[StopCommand]:
        """The command (if any) that brings the resting stop to what the book wants.

        ``grow=False`` (between bars) leaves a stop smaller than the position as
        it is: an entry working in many children would otherwise modify the
        stop at every fill; the next bar grows it once."""
        want = 0 if exit_working or stop is None or position == 0 else abs(position)
        side = Side.SELL if position > 0 else Side.BUY
        order = self.resting(symbol)
        if order is None:
            if want == 0 or self._refused.get(symbol):
                return []
            child, command = self._book.submit(
                now_ns,
                None,
                symbol,
                side,
                want,
                OrderType.STOP,
                algo=STOP_ALGO,
                time_in_force=TimeInForce.GTC,
                stop_price=stop,
            )
            self._resting[symbol] = child
            self.orders.append(child)
            return [command]
        if order.pending is not None:
            return []
        if want == 0 or order.side is not side:
            cancel = self._book.request_cancel(now_ns, order)
            return [cancel] if cancel is not None else []
        quantity = order.filled + want
        if quantity == order.quantity and order.stop_price == stop:
            return []
        if not grow and quantity > order.quantity and order.stop_price == stop:
            return []
        replace = self._book.request_replace(now_ns, order, quantity, None, stop)
        return [replace] if replace is not None else []


__all__ = ["STOP_ALGO", "ProtectiveStops"]
