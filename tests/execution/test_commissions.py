"""Broker commissions and regulatory fees (issue 12, "what to add").

Hand-computed examples for each schedule, and the property that makes
per-fill charging right: however an order is split into fills, it pays its
broker what one fill of the whole order would (the minimum once, the caps
never exceeded).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import Side
from core.execution.commissions import BROKERS, broker_for_equity, default_schedules, fee_model

D = 10**9


def test_every_schedule_states_its_source() -> None:
    regulatory, brokers = default_schedules()
    assert sorted(brokers) == sorted(BROKERS)
    assert all(b.source for b in brokers.values())
    assert regulatory.sec_rate_ppb == 27_800  # $27.80 per million
    assert regulatory.taf_per_share == 166_000 and regulatory.taf_max_per_trade == 8_300_000_000


def test_alpaca_buys_are_free_and_sells_pay_sec_and_taf() -> None:
    model = fee_model("alpaca")
    assert model.charge("B", Side.BUY, 1_000, 100 * D, venue_fee=3 * D) == 0
    # $100,000 sold: SEC $2.78, TAF 1,000 × $0.000166 = $0.166
    assert model.charge("S", Side.SELL, 1_000, 100 * D, venue_fee=3 * D) == 2_946_000_000
    # TAF is capped per trade at $8.30
    big = fee_model("alpaca").charge("S", Side.SELL, 100_000, 10 * D, venue_fee=0)
    assert big == 1_000_000 * 27_800 + 8_300_000_000


def test_ibkr_fixed_minimum_and_one_percent_cap() -> None:
    model = fee_model("ibkr_pro_fixed")
    assert model.charge("A", Side.BUY, 100, 50 * D, venue_fee=D) == 1 * D  # minimum $1
    assert model.charge("B", Side.BUY, 1_000, 50 * D, venue_fee=D) == 5 * D  # $0.005 × 1,000
    assert model.charge("C", Side.BUY, 1_000, D // 100, venue_fee=0) == D // 10  # 1% of $10


def test_ibkr_tiered_and_prime_pass_venue_fees_and_rebates_through() -> None:
    tiered = fee_model("ibkr_pro_tiered")
    assert tiered.charge("A", Side.BUY, 1_000, 50 * D, venue_fee=3 * D) == 3_500_000_000 + 3 * D
    prime = fee_model("prime")
    rebate = -2 * D
    assert prime.charge("A", Side.BUY, 1_000, 50 * D, venue_fee=rebate) == 2 * D + rebate


def test_the_broker_follows_the_account_tier() -> None:
    assert broker_for_equity(50_000 * D) == "alpaca"
    assert broker_for_equity(500_000 * D) == "ibkr_pro_tiered"
    assert broker_for_equity(5_000_000 * D) == "prime"


@settings(max_examples=150, deadline=None)
@given(
    broker=st.sampled_from(BROKERS),
    parts=st.lists(st.integers(1, 5_000), min_size=1, max_size=8),
    price=st.integers(D // 100, 500 * D),
)
def test_splitting_an_order_into_fills_changes_no_commission(
    broker: str, parts: list[int], price: int
) -> None:
    whole = fee_model(broker).charge("W", Side.BUY, sum(parts), price, venue_fee=0)
    split = fee_model(broker)
    assert sum(split.charge("P", Side.BUY, q, price, venue_fee=0) for q in parts) == whole
    # sells: commission and TAF exactly; SEC rounds up per fill (a nano-unit each)
    whole_sell = fee_model(broker).charge("W", Side.SELL, sum(parts), price, venue_fee=0)
    split_sell = fee_model(broker)
    total = sum(split_sell.charge("P", Side.SELL, q, price, venue_fee=0) for q in parts)
    assert 0 <= total - whole_sell <= len(parts)
