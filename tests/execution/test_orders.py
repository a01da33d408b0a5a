import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import Fill, OrderUpdate, OrdStatus, Side
from core.execution.orders import TERMINAL, TRANSITIONS, IllegalTransition, OrderBook, is_legal

S = OrdStatus
D = 10**9


def new_order(book: OrderBook, qty: int = 100):
    order, command = book.submit(0, "P-1", "AAA", Side.BUY, qty)
    return order, command


def fill(order_id: str, exec_id: str, qty: int, price: int = 10 * D, venue: str = "X") -> Fill:
    return Fill(1, order_id, exec_id, "AAA", Side.BUY, qty, price, venue)


def test_client_order_ids_come_from_one_counter() -> None:
    book = OrderBook()
    a, cmd = new_order(book)
    b, _ = new_order(book)
    assert (a.client_order_id, b.client_order_id) == ("AAA-1", "AAA-2")
    assert cmd.client_order_id == "AAA-1" and cmd.quantity == 100


def test_terminal_states_have_no_way_out() -> None:
    assert {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED} == TERMINAL
    for state in TERMINAL:
        assert not TRANSITIONS[state]
    assert is_legal(S.PENDING_NEW, S.NEW) and not is_legal(S.FILLED, S.NEW)


def test_happy_path_new_partial_filled() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    assert book.on_update(OrderUpdate(1, order.client_order_id, S.NEW)).outcome == "applied"
    assert book.on_fill(fill(order.client_order_id, "e1", 40)).outcome == "accepted"
    assert order.status is S.PARTIALLY_FILLED and order.leaves == 60
    assert book.on_fill(fill(order.client_order_id, "e2", 60)).outcome == "accepted"
    assert order.status is S.FILLED and order.leaves == 0
    assert order.history == [
        (S.PENDING_NEW, S.NEW),
        (S.NEW, S.PARTIALLY_FILLED),
        (S.PARTIALLY_FILLED, S.FILLED),
    ]
    assert book.live_orders() == []


def test_duplicate_exec_id_is_booked_once() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    assert book.on_fill(fill(order.client_order_id, "e1", 10)).booked
    again = book.on_fill(fill(order.client_order_id, "e1", 10))
    assert again.outcome == "duplicate" and order.filled == 10
    # the same exec id from another venue is a different execution
    assert book.on_fill(fill(order.client_order_id, "e1", 10, venue="Y")).booked


def test_overfill_is_refused_and_leaves_state_alone() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    book.on_fill(fill(order.client_order_id, "e1", 90))
    result = book.on_fill(fill(order.client_order_id, "e2", 20))
    assert result.outcome == "overfill" and "110 of 100" in result.reason
    assert order.filled == 90 and order.status is S.PARTIALLY_FILLED


def test_fill_before_ack_and_stale_ack_after_fill() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    book.on_fill(fill(order.client_order_id, "e1", 100))
    assert order.status is S.FILLED
    stale = book.on_update(OrderUpdate(2, order.client_order_id, S.NEW))
    assert stale.outcome == "refused" and order.status is S.FILLED


def test_cancel_flow_and_late_fill_after_cancel() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    book.on_update(OrderUpdate(1, order.client_order_id, S.NEW))
    cancel = book.request_cancel(2, order)
    assert cancel is not None and cancel.orig_client_order_id == order.client_order_id
    assert order.status is S.PENDING_CANCEL
    assert book.request_cancel(2, order) is None  # one request at a time
    book.on_fill(fill(order.client_order_id, "e1", 30))
    assert order.status is S.PENDING_CANCEL and order.filled == 30
    assert book.on_update(OrderUpdate(3, cancel.client_order_id, S.CANCELED)).outcome == "applied"
    assert order.status is S.CANCELED and order.leaves == 0
    late = book.on_fill(fill(order.client_order_id, "e2", 20))
    assert late.outcome == "late" and order.filled == 50 and order.status is S.CANCELED
    assert book.on_fill(fill(order.client_order_id, "e3", 60)).outcome == "overfill"


def test_cancel_reject_returns_the_order_to_its_state() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    book.on_update(OrderUpdate(1, order.client_order_id, S.NEW))
    book.on_fill(fill(order.client_order_id, "e1", 30))
    cancel = book.request_cancel(2, order)
    result = book.on_update(OrderUpdate(3, cancel.client_order_id, S.REJECTED, "too late"))
    assert result.outcome == "applied" and order.status is S.PARTIALLY_FILLED
    assert order.pending is None


def test_replace_flow_changes_id_quantity_and_price() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    first_id = order.client_order_id
    book.on_update(OrderUpdate(1, first_id, S.NEW))
    replace = book.request_replace(2, order, 150, 11 * D)
    assert replace is not None and replace.orig_client_order_id == first_id
    assert order.status is S.PENDING_REPLACE
    # until the replace is confirmed the old quantity is the capacity
    assert book.on_fill(fill(first_id, "e0", 120)).outcome == "overfill"
    assert book.on_fill(fill(first_id, "e1", 90)).booked
    assert book.on_update(OrderUpdate(3, replace.client_order_id, S.REPLACED)).outcome == "applied"
    assert order.client_order_id == replace.client_order_id and order.quantity == 150
    assert order.limit_price == 11 * D and order.status is S.REPLACED
    assert book.get(first_id) is order  # fills under the old id still find it
    assert book.on_fill(fill(replace.client_order_id, "e2", 60)).booked
    assert order.status is S.FILLED


def test_replace_cannot_shrink_below_filled() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    book.on_update(OrderUpdate(1, order.client_order_id, S.NEW))
    book.on_fill(fill(order.client_order_id, "e1", 60))
    assert book.request_replace(2, order, 60, None) is None
    assert book.request_replace(2, order, 61, None) is not None


def test_reject_expire_and_unknown() -> None:
    book = OrderBook()
    a, _ = new_order(book)
    b, _ = new_order(book)
    assert (
        book.on_update(OrderUpdate(1, a.client_order_id, S.REJECTED, "no locate")).outcome
        == "applied"
    )
    assert book.on_fill(fill(a.client_order_id, "e1", 1)).outcome == "rejected_order"
    book.on_update(OrderUpdate(1, b.client_order_id, S.NEW))
    assert book.on_update(OrderUpdate(2, b.client_order_id, S.EXPIRED)).after is S.EXPIRED
    assert book.on_update(OrderUpdate(3, "nope", S.NEW)).outcome == "unknown"
    assert book.on_fill(fill("nope", "e9", 1)).outcome == "unknown"


def test_illegal_move_raises_inside_the_model() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    with pytest.raises(IllegalTransition):
        order._move(S.REPLACED)


def test_fill_validation_names_the_field() -> None:
    book = OrderBook()
    order, _ = new_order(book)
    bad = Fill(1, order.client_order_id, "e1", "AAA", Side.BUY, 0, 10 * D)
    assert "quantity=0" in book.on_fill(bad).reason
    wrong = Fill(1, order.client_order_id, "e1", "AAA", Side.SELL, 1, 10 * D)
    assert book.on_fill(wrong).outcome == "invalid"
    assert order.filled == 0


messages = st.lists(
    st.one_of(
        st.tuples(st.just("update"), st.integers(0, 3), st.sampled_from(list(OrdStatus))),
        st.tuples(st.just("fill"), st.integers(0, 3), st.integers(1, 60), st.integers(0, 12)),
        st.tuples(st.just("cancel"), st.integers(0, 3)),
        st.tuples(st.just("replace"), st.integers(0, 3), st.integers(1, 200)),
        st.tuples(st.just("request_reject"), st.integers(0, 3)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(messages=messages)
def test_any_message_sequence_keeps_orders_legal(messages) -> None:
    book = OrderBook()
    orders = [new_order(book, 100)[0] for _ in range(4)]
    requests: dict[int, str] = {}
    for message in messages:
        order = orders[message[1]]
        if message[0] == "update":
            book.on_update(OrderUpdate(1, order.client_order_id, message[2]))
        elif message[0] == "fill":
            book.on_fill(fill(order.ids[0], f"e{message[3]}-{message[1]}", message[2]))
        elif message[0] == "cancel":
            cmd = book.request_cancel(1, order)
            if cmd:
                requests[message[1]] = cmd.client_order_id
        elif message[0] == "replace":
            cmd = book.request_replace(1, order, message[2], None)
            if cmd:
                requests[message[1]] = cmd.client_order_id
        elif message[1] in requests:
            book.on_update(OrderUpdate(1, requests[message[1]], S.REJECTED))
        for o in orders:
            assert all(is_legal(a, b) for a, b in o.history)
            assert o.filled <= o.quantity
            assert o.filled == sum(f.quantity for f in o.fills)
            assert len({f.exec_id for f in o.fills}) == len(o.fills)
            if o.is_terminal:
                assert o not in book.live_orders()


def test_a_stale_cancel_reject_does_not_reject_the_order():
    book = OrderBook()
    order, _ = new_order(book)
    first = book.request_cancel(1, order)
    book.on_update(OrderUpdate(2, first.client_order_id, S.REJECTED, "not yet known"))
    assert order.status is S.NEW
    second = book.request_cancel(3, order)
    stale = book.on_update(OrderUpdate(4, first.client_order_id, S.REJECTED, "duplicate"))
    assert stale.outcome == "ignored" and order.status is S.PENDING_CANCEL
    # a confirmation quoting the first request still cancels the order
    assert book.on_update(OrderUpdate(5, first.client_order_id, S.CANCELED)).outcome == "applied"
    assert order.status is S.CANCELED and second is not None


def test_a_fill_under_the_replace_id_confirms_a_grown_replace_before_its_report() -> None:
    """Regression (resting stops grow with the position): the venue applied a replace to
    150 and filled 120 under the new id; its REPLACED report arrives after the fill.
    The fill is the proof the replace took: booked in full, never refused as an overfill."""
    book = OrderBook()
    order, _ = new_order(book)
    book.on_update(OrderUpdate(1, order.client_order_id, S.NEW))
    replace = book.request_replace(2, order, 150, None)
    assert replace is not None
    result = book.on_fill(fill(replace.client_order_id, "e1", 120))
    assert result.outcome == "accepted"
    assert (order.quantity, order.filled, order.client_order_id) == (
        150,
        120,
        replace.client_order_id,
    )
    assert order.status is S.PARTIALLY_FILLED and order.pending is None
    late = book.on_update(OrderUpdate(3, replace.client_order_id, S.REPLACED))
    assert late.outcome == "ignored" and order.status is S.PARTIALLY_FILLED
    # a fill under the old id before the replace is still capped by the old quantity
    other, _ = new_order(book)
    book.on_update(OrderUpdate(1, other.client_order_id, S.NEW))
    assert book.request_replace(2, other, 150, None) is not None
    assert book.on_fill(fill(other.client_order_id, "e2", 120)).outcome == "overfill"
