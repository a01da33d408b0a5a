import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import Side
from core.errors import BadInput
from core.portfolio import Portfolio, RiskLimits, notional

D = 10**9


def test_long_round_trip_realises_the_price_difference() -> None:
    p = Portfolio(100_000 * D)
    p.apply_fill("AAA", Side.BUY, 100, 50 * D, 1 * D)
    p.mark("AAA", 55 * D)
    assert p.quantity("AAA") == 100
    assert p.unrealized("AAA") == 500 * D
    assert p.equity() == 100_000 * D + 500 * D - 1 * D
    change = p.apply_fill("AAA", Side.SELL, 100, 55 * D, 1 * D)
    assert change.realized == 500 * D
    assert p.cash == 100_000 * D + 500 * D - 2 * D
    assert p.quantity("AAA") == 0


def test_short_profits_when_price_falls() -> None:
    p = Portfolio(100_000 * D)
    p.apply_fill("AAA", Side.SELL, 10, 100 * D, 0)
    assert p.cash == 101_000 * D
    p.mark("AAA", 90 * D)
    assert p.unrealized("AAA") == 100 * D
    assert p.equity() == 100_100 * D
    change = p.apply_fill("AAA", Side.BUY, 4, 90 * D, 0)
    assert change.realized == 40 * D
    assert p.quantity("AAA") == -6


def test_a_fill_through_zero_flips_the_position() -> None:
    p = Portfolio(100_000 * D)
    p.apply_fill("AAA", Side.BUY, 10, 10 * D, 0)
    change = p.apply_fill("AAA", Side.SELL, 15, 12 * D, 0)
    assert change.realized == 20 * D
    assert p.quantity("AAA") == -5
    assert p.positions["AAA"].cost == -60 * D


def test_sizing_is_one_percent_of_equity_over_the_stop_distance_in_lots() -> None:
    p = Portfolio(100_000 * D)
    decision = p.size_entry("AAA", 1, 50 * D, 49 * D, lot=1)
    assert decision.quantity == 1000 and decision.reason == "ok"
    # 1000 / 0.30 = 3333.3 -> 3300 in lots of 100
    decision = p.size_entry("AAA", -1, 50 * D, 50 * D + 300_000_000, lot=100)
    assert decision.risk_quantity == 3300 and decision.quantity == 3300


def test_entry_reduced_to_fit_the_gross_limit_with_reason() -> None:
    p = Portfolio(100_000 * D)
    # 1% of 100k over a 1-cent stop = 100,000 shares of a $10 stock = $1M > 200%
    decision = p.size_entry("AAA", 1, 10 * D, 10 * D - D // 100, lot=1)
    assert decision.risk_quantity == 100_000
    assert decision.quantity == 20_000
    assert decision.reason == "reduced: gross long exposure limit"
    assert decision.side_exposure_after <= decision.side_limit


def test_reservations_count_against_the_limit() -> None:
    p = Portfolio(100_000 * D)
    first = p.size_entry("AAA", 1, 10 * D, 9 * D, lot=1)  # 1000 shares, $10k
    p.reserve(first)
    big = p.size_entry("BBB", 1, 10 * D, 10 * D - D // 100, lot=1)
    assert big.quantity == 19_000
    p.reserve(big)
    refused = p.size_entry("CCC", 1, 10 * D, 9 * D, lot=1)
    assert refused.quantity == 0 and refused.reason == "refused: gross long exposure at its limit"
    # the short side is independent
    assert p.size_entry("CCC", -1, 10 * D, 11 * D, lot=1).approved


def test_position_cap_refuses_the_twenty_first() -> None:
    p = Portfolio(10_000_000 * D)
    for i in range(20):
        decision = p.size_entry(f"S{i}", 1, 10 * D, 9 * D, lot=1)
        p.reserve(decision)
    refused = p.size_entry("S20", 1, 10 * D, 9 * D, lot=1)
    assert refused.quantity == 0 and "20 positions" in refused.reason
    p.release("S3")
    assert p.size_entry("S20", 1, 10 * D, 9 * D, lot=1).approved


@pytest.mark.parametrize(
    ("entry", "stop", "reason"),
    [(10 * D, 10 * D, "stop equals"), (10 * D, 11 * D, "wrong side"), (10 * D, None, "no stop")],
)
def test_bad_stops_are_refused_with_a_reason(entry: int, stop: int | None, reason: str) -> None:
    decision = Portfolio(100_000 * D).size_entry("AAA", 1, entry, stop, lot=1)
    assert decision.quantity == 0 and reason in decision.reason


def test_risk_overrides_may_only_tighten() -> None:
    limits = RiskLimits().tightened({"max_positions": 5, "risk_per_trade_bps": 50})
    assert limits.max_positions == 5 and limits.risk_per_trade_bps == 50
    with pytest.raises(BadInput, match=r"risk\.max_gross_per_side_bps"):
        RiskLimits().tightened({"max_gross_per_side_bps": 30_000})
    with pytest.raises(BadInput, match=r"risk\.leverage"):
        RiskLimits().tightened({"leverage": 1})
    with pytest.raises(BadInput, match="positive integer"):
        RiskLimits().tightened({"max_positions": 0})


fills = st.lists(
    st.tuples(
        st.sampled_from(["AAA", "BBB"]),
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(1, 500),
        st.integers(1, 200 * D),
        st.integers(-D, D),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(
    fills=fills,
    decimals=st.sampled_from([0, 3]),
    marks=st.tuples(st.integers(1, 300 * D), st.integers(1, 300 * D)),
)
def test_books_reconcile_exactly(fills, decimals, marks) -> None:
    p = Portfolio(1_000_000 * D)
    for symbol, side, qty, price, fee in fills:
        p.apply_fill(symbol, side, qty, price, fee, decimals)
    p.mark("AAA", marks[0])
    p.mark("BBB", marks[1])
    for symbol in ("AAA", "BBB"):
        expected = sum(q * s.sign for sym, s, q, _, _ in fills if sym == symbol)
        assert p.quantity(symbol) == expected
    cash = 1_000_000 * D - sum(
        s.sign * notional(q, px, decimals) + fee for _, s, q, px, fee in fills
    )
    assert p.cash == cash
    pnl = p.realized() + sum(p.unrealized(s) for s in p.positions) - p.fees_paid
    assert pnl == p.equity() - p.initial_cash
