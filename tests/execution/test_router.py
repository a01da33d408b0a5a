import json

import pytest

from core.errors import BadInput
from core.execution.dark_pool import DarkPoolRouter
from core.execution.router import SmartRouter
from core.execution.venues import VenueBook, default_venues, parse_venues
from core.money import PRICE_SCALE
from core.tiers import AccountTier, capabilities

D = PRICE_SCALE
MIN = 60 * D
SEMI = capabilities(AccountTier.SEMI_INSTITUTIONAL)
INST = capabilities(AccountTier.INSTITUTIONAL)
RETAIL = capabilities(AccountTier.RETAIL)


def routers():
    book = VenueBook(default_venues())
    lit = SmartRouter(book)
    return book, lit, DarkPoolRouter(book, lit)


def test_the_packaged_table_has_the_spec_dark_pools():
    dark = {v.name: v for v in default_venues() if v.kind == "dark"}
    assert {n: v.min_notional // D for n, v in dark.items()} == {
        "SIGMA-X": 10_000,
        "CROSSFINDER": 10_000,
        "MS-POOL": 10_000,
        "LEVEL-ATS": 10_000,
        "LIQUIDNET": 100_000,
    }
    assert dark["LIQUIDNET"].block and not dark["SIGMA-X"].block


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[]", "venues.json"),
        ("{", "venues.json"),
        (json.dumps({"lit": [{"name": ""}]}), "lit.name"),
        (json.dumps({"lit": [{"name": "X", "take_fee": 0.003}]}), "X.take_fee"),
        (json.dumps({"dark": [{"name": "Y", "min_tier": "vip"}]}), "Y.min_tier"),
        (json.dumps({"lit": [{"name": "X"}, {"name": "X"}]}), "venues"),
    ],
)
def test_a_bad_venue_table_names_the_field(text, field):
    with pytest.raises(BadInput) as info:
        parse_venues(text)
    assert info.value.field == field


def test_retail_leaves_routing_to_the_broker_and_semi_routes_to_iex():
    _, lit, _ = routers()
    assert lit.choose(RETAIL, 100 * D, 0.001) is None
    assert lit.choose(SEMI, 100 * D, 0.001).venue == "IEX"


def test_the_router_learns_from_fills():
    book, lit, _ = routers()
    first = lit.choose(INST, 100 * D, 0.001).venue
    assert first == "IEX"  # cheapest fee, nothing learned yet
    # IEX keeps missing, NASDAQ fills with price improvement
    book.record_sent("IEX", 10_000)
    book.record_sent("NASDAQ", 1_000)
    book.record_fill("NASDAQ", 1_000, 100 * D - D // 100, 100 * D, 1, 1_000)
    assert lit.choose(INST, 100 * D, 0.001).venue == "NASDAQ"
    scores = lit.scores(INST, 100 * D, 0.001)
    assert scores[0].venue == "NASDAQ"
    assert scores[0].improvement_bps == pytest.approx(1.0)


def test_dark_pool_eligibility_follows_minimum_notional_and_tier():
    _, _, dark = routers()
    assert dark.eligible(SEMI, 1_000_000 * D) == []
    assert dark.eligible(INST, 9_999 * D) == []
    names = [v.name for v in dark.eligible(INST, 10_000 * D)]
    assert "LIQUIDNET" not in names and len(names) == 4
    assert "LIQUIDNET" in [v.name for v in dark.eligible(INST, 100_000 * D)]


def test_dark_decision_prefers_learned_fills_and_sets_min_quantity():
    book, _, dark = routers()
    decision = dark.decide(INST, 200, 100 * D, 20_000 * D, 0.001, MIN, 1, urgent=False)
    assert decision.use_dark and decision.min_quantity == 100  # $10K at $100
    assert dark.decide(INST, 200, 100 * D, 20_000 * D, 0.001, MIN, 1, urgent=True).use_dark is False
    # MS-POOL fills each of ten orders and improves price by 5 bps: it wins
    # (evidence is per order, so one order alone would not outweigh the prior)
    for _ in range(10):
        book.record_sent("MS-POOL", 1_000)
        book.record_fill(
            "MS-POOL", 1_000, 100 * D - 5 * D // 100 // 100 * 100, 100 * D, 1, MIN // 2, 1_000
        )
    assert (
        dark.decide(INST, 200, 100 * D, 20_000 * D, 0.001, MIN, 1, urgent=False).venue == "MS-POOL"
    )
    # all dark venues miss a lot: lit wins
    for _ in range(5):
        for name in ("SIGMA-X", "CROSSFINDER", "MS-POOL", "LEVEL-ATS"):
            book.record_sent(name, 1_000_000)
    assert not dark.decide(INST, 200, 100 * D, 20_000 * D, 0.01, MIN, 1, urgent=False).use_dark


def test_block_venue_scores_its_block_fills():
    book, _, dark = routers()
    book.record_sent("LIQUIDNET", 5_000)
    book.record_fill("LIQUIDNET", 5_000, 100 * D - D // 100, 100 * D, 1, 0)
    for name in ("SIGMA-X", "CROSSFINDER", "MS-POOL", "LEVEL-ATS"):
        book.record_sent(name, 5_000)
        book.record_fill(name, 2_000, 100 * D - D // 100, 100 * D, 1, 0)
    decision = dark.decide(INST, 5_000, 100 * D, 500_000 * D, 0.001, MIN, 1, urgent=False)
    assert decision.venue == "LIQUIDNET"
    top = decision.scores[0]
    assert top.block_fit == 1.0


def test_min_quantity_for_fractional_units():
    _, _, dark = routers()
    # 0.001-share units, lots of 1 unit, $50,000 a share: $10K is 0.2 shares = 200 units
    decision = dark.decide(INST, 500, 50_000 * D, 25_000 * D, 0.001, MIN, 1, False, decimals=3)
    assert decision.use_dark and decision.min_quantity == 200


def test_passive_children_go_where_the_rebate_is():
    _, lit, _ = routers()
    assert lit.choose(INST, 100 * D, 0.001).venue == "IEX"  # cheapest to take
    assert lit.choose(INST, 100 * D, 0.001, passive=True).venue == "NYSE"  # pays a rebate
    rebate = lit.scores(INST, 100 * D, 0.001, passive=True)[0]
    assert rebate.fee_bps == pytest.approx(-0.2)
