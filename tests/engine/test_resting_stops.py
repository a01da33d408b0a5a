"""Protective stops resting at the broker (issue 12): the engine's side.

After an entry fills, the position's stop goes out as a resting stop order
(GTC, opposite side, the entry's stop price); it grows with later entry fills,
is cancelled while an exit works and when the position is flat, and when the
agent sees a bar through the stop the engine does not send a market exit on
top of the resting stop. Without ``resting_stops`` nothing changes.
"""

from __future__ import annotations

from core.commands import (
    Alert,
    CancelOrder,
    OrderType,
    OrdStatus,
    Record,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.signals import Reason, Signal
from tests.engine.harness import D, Harness, of_kind, signal_at, submits

LONG = (Signal.ENTER_LONG, Reason.LEVEL, 98 * D)
SHORT = (Signal.ENTER_SHORT, Reason.LEVEL, 102 * D)


def stops(commands: list) -> list[SubmitOrder]:
    return [c for c in submits(commands) if c.order_type is OrderType.STOP]


def parents_of(commands: list) -> list[SubmitOrder]:
    return [c for c in submits(commands) if c.order_type is not OrderType.STOP]


def cancelled(commands: list) -> list[str]:
    return [c.orig_client_order_id for c in of_kind(commands, CancelOrder)]


def entered(script: dict, side_sign: int = 1) -> tuple[Harness, SubmitOrder]:
    h = Harness(cash=5_000_000 * D, script=signal_at(script), resting_stops=True)
    h.bars(20)
    (entry,) = submits(h.bar()[1])
    assert entry.side.sign == side_sign
    h.update(entry.client_order_id, OrdStatus.NEW)
    return h, entry


def test_an_entry_fill_places_the_stop_and_later_fills_grow_it() -> None:
    h, entry = entered({20: LONG})
    out = h.fill(entry, quantity=1000)
    (stop,) = stops(out)
    assert (stop.side, stop.quantity, stop.stop_price) == (Side.SELL, 1000, 98 * D)
    assert stop.time_in_force is TimeInForce.GTC and stop.parent_id is None
    assert h.engine.resting_stop("AAA").client_order_id == stop.client_order_id
    # more fills between bars: the stop grows once, at the next bar (one modify a bar)
    assert of_kind(h.fill(entry, quantity=500), ReplaceOrder) == []
    assert of_kind(h.update(stop.client_order_id, OrdStatus.NEW), ReplaceOrder) == []
    assert of_kind(h.fill(entry, quantity=200), ReplaceOrder) == []
    (replace,) = of_kind(h.bar()[1], ReplaceOrder)
    assert (replace.quantity, replace.stop_price) == (1700, 98 * D)
    h.update(replace.client_order_id, OrdStatus.REPLACED)
    assert h.engine.resting_stop("AAA").quantity == 1700


def test_a_short_is_guarded_by_a_buy_stop_above() -> None:
    h, entry = entered({20: SHORT}, -1)
    (stop,) = stops(h.fill(entry))
    assert (stop.side, stop.quantity, stop.stop_price) == (Side.BUY, entry.quantity, 102 * D)


def test_the_stop_filling_closes_the_position_and_no_market_exit_is_sent() -> None:
    h, entry = entered({20: LONG, 23: (Signal.EXIT_LONG, Reason.STOP, 98 * D)})
    (stop,) = stops(h.fill(entry))
    h.update(stop.client_order_id, OrdStatus.NEW)
    h.bars(2)
    _, commands = h.bar(price=97 * D)  # the agent sees the bar through its stop
    assert [c for c in submits(commands) if c.side is Side.SELL] == []
    assert stop.client_order_id not in cancelled(commands)
    assert [r.kind for r in of_kind(commands, Record)].count("stop_resting") == 1
    out = h.fill(stop, price=98 * D)
    assert h.engine.position("AAA") == 0 and h.agents["AAA"].direction == 0
    assert [c for c in submits(out) if c.side is Side.SELL] == []
    assert h.engine.resting_stop("AAA") is None
    assert h.engine.order(stop.client_order_id).status is OrdStatus.FILLED


def test_a_target_exit_cancels_the_stop_and_a_failed_exit_puts_it_back() -> None:
    h, entry = entered({20: LONG, 23: (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)})
    (stop,) = stops(h.fill(entry))
    h.update(stop.client_order_id, OrdStatus.NEW)
    h.bars(2)
    _, commands = h.bar()
    (cancel,) = [
        c for c in of_kind(commands, CancelOrder) if c.orig_client_order_id == stop.client_order_id
    ]
    # the stop holds the shares: the exit waits for the cancel's confirmation
    assert [c for c in parents_of(commands) if c.side is Side.SELL] == []
    confirmed = h.update(cancel.client_order_id, OrdStatus.CANCELED)
    exits = [c for c in parents_of(confirmed) if c.side is Side.SELL]
    assert exits and all(e.side is Side.SELL for e in exits)
    assert h.engine.resting_stop("AAA") is None
    out: list = []
    for child in exits:  # the venue refuses the exit three times: the parent halts
        out += h.update(child.client_order_id, OrdStatus.REJECTED, "no")
    for _ in range(4):
        if h.engine.resting_stop("AAA") is not None:
            break
        out += h.bar()[1]
        for child in parents_of(out):
            if h.engine.order(child.client_order_id).status is OrdStatus.PENDING_NEW:
                out += h.update(child.client_order_id, OrdStatus.REJECTED, "no")
    again = h.engine.resting_stop("AAA")
    assert again is not None and again.quantity == h.engine.position("AAA") == entry.quantity


def test_an_exit_waiting_for_the_cancel_is_dropped_when_the_stop_fills_instead() -> None:
    """The cancel lost the race: the stop sold the position, so no exit is sent."""
    h, entry = entered({20: LONG, 23: (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)})
    (stop,) = stops(h.fill(entry))
    h.update(stop.client_order_id, OrdStatus.NEW)
    h.bars(2)
    _, commands = h.bar()
    assert stop.client_order_id in cancelled(commands)
    assert [c for c in parents_of(commands) if c.side is Side.SELL] == []
    out = h.fill(stop, price=98 * D)
    out += h.bars(2)
    assert h.engine.position("AAA") == 0
    assert [c for c in submits(out) if c.side is Side.SELL] == []
    assert "exit_not_needed" in [r.kind for r in of_kind(out, Record)]


def test_a_partly_filled_stop_then_cancelled_exits_only_what_is_left() -> None:
    h, entry = entered({20: LONG, 23: (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)})
    (stop,) = stops(h.fill(entry))
    h.update(stop.client_order_id, OrdStatus.NEW)
    h.bars(2)
    _, commands = h.bar()
    (cancel,) = [
        c for c in of_kind(commands, CancelOrder) if c.orig_client_order_id == stop.client_order_id
    ]
    out = h.fill(stop, quantity=entry.quantity // 4, price=98 * D)
    assert [c for c in parents_of(out) if c.side is Side.SELL] == []  # still waiting
    out = h.update(cancel.client_order_id, OrdStatus.CANCELED)
    left = entry.quantity - entry.quantity // 4
    assert h.engine.position("AAA") == left
    exits = [c for c in parents_of(out) if c.side is Side.SELL]
    assert exits and sum(e.quantity for e in exits) <= left


def test_an_unanswered_stop_cancel_is_alerted_and_the_exit_keeps_waiting() -> None:
    h, entry = entered({20: LONG, 23: (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)})
    (stop,) = stops(h.fill(entry))
    h.update(stop.client_order_id, OrdStatus.NEW)
    h.bars(2)
    _, commands = h.bar()
    assert stop.client_order_id in cancelled(commands)
    out = h.bars(3)  # no answer from the broker for three minutes
    alerts = [a for a in of_kind(out, Alert) if a.kind == "stop_cancel_unconfirmed"]
    assert len(alerts) == 1 and alerts[0].level == "error"
    assert [c for c in submits(out) if c.side is Side.SELL] == []
    assert h.engine.position("AAA") == entry.quantity


def test_a_rejected_stop_is_sent_again_at_the_next_bar_not_in_the_reply() -> None:
    h, entry = entered({20: LONG})
    (stop,) = stops(h.fill(entry))
    assert stops(h.update(stop.client_order_id, OrdStatus.REJECTED, "venue down")) == []
    assert h.engine.resting_stop("AAA") is None
    (again,) = stops(h.bar()[1])
    assert again.quantity == entry.quantity and again.client_order_id != stop.client_order_id


def test_without_resting_stops_the_stop_is_checked_at_the_close_as_before() -> None:
    h = Harness(cash=5_000_000 * D, script=signal_at({20: LONG}))
    h.bars(20)
    (entry,) = submits(h.bar()[1])
    assert stops(h.fill(entry)) == [] and h.engine.protective_stops() == []
