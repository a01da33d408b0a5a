"""The prime broker's book over the venue simulator: dark pools, lit venues, requests."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import CancelOrder, OrderType, OrdStatus, ReplaceOrder, Side, SubmitOrder
from core.execution.venues import default_venues
from standins.fix_pb.book import CancelReject, PrimeBook, Report
from tests.primefix.conftest import market

DARK = [v.name for v in default_venues() if v.kind == "dark"]
LIT = [v.name for v in default_venues() if v.kind == "lit"]


def _bars(symbol: str, n: int):
    return [b for b in market().live if b.symbol == symbol][:n]


def _order(cl: str, venue: str | None, qty: int, min_qty: int | None = None, **kw) -> SubmitOrder:
    t0 = market().live_start_ns
    kw.setdefault("order_type", OrderType.PEGGED_MIDPOINT if venue in DARK else OrderType.MARKET)
    return SubmitOrder(
        t0, cl, None, "AAPL", kw.pop("side", Side.BUY), qty, venue=venue, min_quantity=min_qty, **kw
    )


def _run(book: PrimeBook, n: int = 60, symbol: str = "AAPL") -> list[Report | CancelReject]:
    out = []
    for bar in _bars(symbol, n):
        out.extend(book.on_bar(bar))
    return out


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    venue=st.sampled_from(DARK),
    min_qty=st.integers(100, 20_000),
    qty=st.integers(20_000, 60_000),
)
def test_dark_orders_fill_at_the_midpoint_and_never_below_min_qty(seed, venue, min_qty, qty):
    book = PrimeBook(market(), seed)
    book.submit(market().live_start_ns, "S", _order("D1", venue, qty, min_qty))
    bars = {b.time_ns: b for b in _bars("AAPL", 40)}
    fills = [r for r in _run(book, 40) if isinstance(r, Report) and r.fill is not None]
    for report in fills:
        fill = report.fill
        # stamped when it happened: inside the minute bar that filled it (issue 12)
        bar = bars[fill.time_ns // 60_000_000_000 * 60_000_000_000]
        assert fill.venue == venue
        assert fill.quantity >= min_qty
        assert fill.price == (bar.high + bar.low) // 2
        assert fill.fee == 0
    assert sum(r.fill.quantity for r in fills) == book.orders["D1"].cum <= qty


def test_dark_pool_with_min_qty_above_any_contra_never_fills():
    book = PrimeBook(market(), 1)
    book.submit(market().live_start_ns, "S", _order("D1", "SIGMA-X", 500_000, 400_000))
    reports = _run(book, 120)
    assert not [r for r in reports if isinstance(r, Report) and r.fill is not None]
    assert book.orders["D1"].status is OrdStatus.NEW


def test_lit_market_order_fills_through_the_lit_model_with_the_take_fee():
    book = PrimeBook(market(), 1)
    book.submit(market().live_start_ns, "S", _order("L1", "NYSE", 2_000))
    first = _bars("AAPL", 1)[0]
    fills = [r.fill for r in _run(book, 5) if isinstance(r, Report) and r.fill is not None]
    assert sum(f.quantity for f in fills) == 2_000
    assert all(first.low <= f.price <= first.high for f in fills)
    assert fills[0].venue == "NYSE"
    assert fills[0].fee == 2_000 * 3_000_000  # $0.0030 per share
    assert book.positions == {"AAPL": 2_000}
    assert book.cash == market().balance - sum(f.quantity * f.price + f.fee for f in fills)


def test_broker_choice_routes_lit_without_a_venue_fee():
    book = PrimeBook(market(), 1)
    book.submit(market().live_start_ns, "S", _order("B1", None, 300, side=Side.SELL))
    fills = [r.fill for r in _run(book, 3) if isinstance(r, Report) and r.fill is not None]
    assert [(f.venue, f.fee, f.quantity) for f in fills] == [("SIM-BROKER", 0, 300)]
    assert book.positions == {"AAPL": -300}  # a prime-brokerage account may go short


def test_unmarketable_limit_rests_and_cancel_ends_it():
    book = PrimeBook(market(), 1)
    t0 = market().live_start_ns
    book.submit(t0, "S", _order("P1", "NASDAQ", 100, order_type=OrderType.LIMIT, limit_price=10**9))
    assert not [r for r in _run(book, 10) if isinstance(r, Report) and r.fill is not None]
    out = book.cancel(t0, "S", CancelOrder(t0, "P1-c", "P1", "AAPL", Side.BUY))
    assert [(r.exec_type, r.cl_ord_id, r.orig_cl_ord_id) for r in out] == [(b"4", "P1-c", "P1")]
    again = book.cancel(t0, "S", CancelOrder(t0, "P1-c2", "P1", "AAPL", Side.BUY))
    assert isinstance(again[0], CancelReject) and "too late" in again[0].text


def test_replace_moves_the_chain_and_refuses_quantity_at_or_below_cum():
    book = PrimeBook(market(), 1)
    t0 = market().live_start_ns
    book.submit(t0, "S", _order("R1", "ARCA", 100, order_type=OrderType.LIMIT, limit_price=10**9))
    out = book.replace(t0, "S", ReplaceOrder(t0, "R2", "R1", "AAPL", Side.BUY, 300, None))
    assert [(r.exec_type, r.cl_ord_id, r.orig_cl_ord_id) for r in out] == [(b"5", "R2", "R1")]
    assert book.orders["R1"] is book.orders["R2"] and book.orders["R2"].quantity == 300
    stale = book.replace(t0, "S", ReplaceOrder(t0, "R3", "R1", "AAPL", Side.BUY, 400, None))
    assert isinstance(stale[0], CancelReject) and "current ClOrdID" in stale[0].text
    # a marketable price then fills it; a later replace to below CumQty is refused
    book.replace(t0, "S", ReplaceOrder(t0, "R4", "R2", "AAPL", Side.BUY, 300, 10**12))
    _run(book, 3)
    order = book.orders["R4"]
    assert order.cum == 300 and order.status is OrdStatus.FILLED
    late = book.replace(t0, "S", ReplaceOrder(t0, "R5", "R4", "AAPL", Side.BUY, 200, None))
    assert isinstance(late[0], CancelReject) and late[0].response_to == 2


def test_bad_orders_are_rejected_with_the_reason():
    book = PrimeBook(market(), 1)
    t0 = market().live_start_ns
    cases = {
        "X1": _order("X1", "NOWHERE", 100),
        "X2": SubmitOrder(t0, "X2", None, "ZZZZ", Side.BUY, 100),
        "X3": _order("X3", "SIGMA-X", 100, 200),
    }
    texts = {}
    for cl, cmd in cases.items():
        (report,) = book.submit(t0, "S", cmd)
        assert report.exec_type == b"8" and report.status is OrdStatus.REJECTED
        texts[cl] = report.text
    assert "unknown venue NOWHERE" in texts["X1"]
    assert "unknown symbol ZZZZ" in texts["X2"]
    assert "MinQty 200" in texts["X3"]
    (dup,) = book.submit(t0, "S", _order("X1", None, 100))
    assert dup.rej_reason == 6 and dup.text == "duplicate ClOrdID"
    assert book.positions == {}


def test_every_execution_is_in_positions_and_cash():
    book = PrimeBook(market(), 5)
    t0 = market().live_start_ns
    for i, venue in enumerate([*DARK, *LIT, None]):
        side = Side.BUY if i % 2 else Side.SELL
        book.submit(
            t0, "S", _order(f"O{i}", venue, 5_000, 1_000 if venue in DARK else None, side=side)
        )
    _run(book, 200)
    net = sum(e["qty"] * (1 if e["side"] == "buy" else -1) for e in book.executions)
    assert book.positions.get("AAPL", 0) == net
    assert len({e["exec_id"] for e in book.executions}) == len(book.executions)
    assert any(e["venue"] in DARK for e in book.executions)


def test_dark_ioc_children_get_one_bar_then_the_remainder_is_canceled():
    from core.commands import TimeInForce

    book = PrimeBook(market(), 2)
    book.submit(
        market().live_start_ns,
        "S",
        _order("I1", "MS-POOL", 40_000, 1_000, time_in_force=TimeInForce.IOC),
    )
    reports = [r for r in _run(book, 5) if isinstance(r, Report)]
    assert reports[-1].exec_type == b"4" and reports[-1].text == "IOC remainder"
    assert all(r.exec_type == b"F" for r in reports[:-1])
    assert book.orders["I1"].status is OrdStatus.CANCELED
    assert len({r.time_ns // 60_000_000_000 for r in reports}) == 1  # one bar only
