"""Resting stop orders at the simulated venues (issue 12, protective stops).

A stop rests until the tape trades through it, then fills inside that bar: at
the stop, or at the open when the bar gapped through it; what the
participation cap leaves over trades on as a market order. Bars before it
arrived, bars that stay on the right side and the close never trigger it.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import (
    CancelOrder,
    OrderType,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.instruments import CENT
from sim.faults import FaultRates
from tests.sim.test_venues import MINUTE, SYMBOL, bar, fills, make_venues, updates


def stop(venues, order_id: str, side: Side, quantity: int, price_cents: int, at: int = 0):
    command = SubmitOrder(
        at,
        order_id,
        None,
        SYMBOL,
        side,
        quantity,
        OrderType.STOP,
        None,
        TimeInForce.GTC,
        None,
        stop_price=price_cents * CENT,
    )
    return [report for _, report in venues.receive(at, command)]


def test_a_sell_stop_rests_until_the_bar_trades_through_then_fills_at_the_stop() -> None:
    venues = make_venues(closes={MINUTE})
    [ack] = updates(stop(venues, "S-1", Side.SELL, 100, 95))
    assert ack.status is OrdStatus.NEW
    assert venues.match(bar(0, 100, 101, 96, 97, 10_000), MINUTE) == []  # and survives the close
    [fill] = fills(venues.match(bar(1, 97, 98, 94, 95, 10_000), 2 * MINUTE))
    assert (fill.quantity, fill.price, fill.side) == (100, 95 * CENT, Side.SELL)
    assert MINUTE <= fill.time_ns < 2 * MINUTE  # inside the bar that triggered it


def test_a_gap_through_the_stop_fills_at_the_open() -> None:
    venues = make_venues()
    stop(venues, "S-1", Side.SELL, 100, 95)
    [fill] = fills(venues.match(bar(0, 90, 92, 88, 91, 10_000), MINUTE))
    assert fill.price == 90 * CENT  # the open, worse than the stop: the gap is the loss


def test_a_buy_stop_covers_a_short_at_the_stop_or_the_gap_open() -> None:
    venues = make_venues()
    stop(venues, "B-1", Side.BUY, 50, 105)
    stop(venues, "B-2", Side.BUY, 50, 103)
    out = fills(venues.match(bar(0, 104, 108, 103, 107, 10_000), MINUTE))
    prices = {f.client_order_id: f.price for f in out}
    assert prices == {"B-1": 105 * CENT, "B-2": 104 * CENT}


def test_a_bar_before_the_stop_arrived_does_not_trigger_it() -> None:
    venues = make_venues()
    stop(venues, "S-1", Side.SELL, 100, 95, at=2 * MINUTE)
    assert venues.match(bar(1, 90, 91, 80, 85, 10_000), 2 * MINUTE) == []


def test_what_the_cap_leaves_trades_on_at_the_market() -> None:
    venues = make_venues()
    stop(venues, "S-1", Side.SELL, 1_000, 95)
    [first] = fills(venues.match(bar(0, 96, 96, 94, 95, 2_000), MINUTE))
    assert (first.quantity, first.price) == (500, 95 * CENT)
    [second] = fills(venues.match(bar(1, 99, 100, 98, 99, 2_000), 2 * MINUTE))
    assert second.quantity == 500 and 98 * CENT <= second.price <= 100 * CENT


def test_a_cancel_race_never_fills_an_untriggered_stop() -> None:
    venues = make_venues(faults=FaultRates(cancel_race=1.0))
    stop(venues, "S-1", Side.SELL, 100, 95)
    venues.match(bar(0, 100, 101, 99, 100, 10_000), MINUTE)
    out = [
        r for _, r in venues.receive(MINUTE, CancelOrder(MINUTE, "S-2", "S-1", SYMBOL, Side.SELL))
    ]
    assert fills(out) == [] and [u.status for u in updates(out)] == [OrdStatus.CANCELED]


def test_a_replace_moves_the_stop_and_its_quantity() -> None:
    venues = make_venues()
    stop(venues, "S-1", Side.SELL, 100, 95)
    replace = ReplaceOrder(0, "S-2", "S-1", SYMBOL, Side.SELL, 60, None, 97 * CENT)
    [ack] = updates([r for _, r in venues.receive(0, replace)])
    assert ack.status is OrdStatus.REPLACED
    [fill] = fills(venues.match(bar(0, 99, 99, 96, 98, 10_000), MINUTE))
    assert (fill.client_order_id, fill.quantity, fill.price) == ("S-2", 60, 97 * CENT)


@settings(max_examples=200, deadline=None)
@given(
    o=st.integers(50, 150),
    spread=st.integers(0, 20),
    drop=st.integers(0, 20),
    level=st.integers(40, 160),
    side=st.sampled_from(list(Side)),
)
def test_a_stop_fills_exactly_when_traded_through_never_better_than_its_price(
    o: int, spread: int, drop: int, level: int, side: Side
) -> None:
    low, high = o - drop, o + spread
    tape = bar(0, o, high, low, o, 100_000)
    venues = make_venues()
    stop(venues, "S-1", side, 100, level)
    out = fills(venues.match(tape, MINUTE))
    through = low <= level if side is Side.SELL else high >= level
    assert bool(out) == through
    if out:
        [fill] = out
        # never better than the stop for the one it protects; within the bar
        if side is Side.SELL:
            assert fill.price == min(level, o) * CENT
        else:
            assert fill.price == max(level, o) * CENT
        assert tape.low <= fill.price <= tape.high
