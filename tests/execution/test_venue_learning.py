"""What the routers learn from their own orders (issue 12 items 3 and 4).

Evidence is per child order with a prior and fading weights, so one large IOC
that missed does not shut a pool out for good, a pool that stops filling is
tried less, one that recovers is found again (the probe rule), and an untried
pool is charged the same match-speed penalty as the pools we know.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.execution.dark_pool import DarkPoolRouter, dark_score
from core.execution.router import SmartRouter
from core.execution.venues import VenueBook, default_venues
from core.money import PRICE_SCALE
from core.tiers import AccountTier, capabilities

D = PRICE_SCALE
MIN = 60 * D  # one-minute bars
INST = capabilities(AccountTier.INSTITUTIONAL)
POOLS = ("SIGMA-X", "CROSSFINDER", "MS-POOL", "LEVEL-ATS")


def routers() -> tuple[VenueBook, SmartRouter, DarkPoolRouter]:
    book = VenueBook(default_venues())
    lit = SmartRouter(book)
    return book, lit, DarkPoolRouter(book, lit)


def lit_order(book: VenueBook, improvement_ticks: int = -2) -> None:
    """One lit child at NASDAQ that fills in full, ``improvement_ticks`` cents off."""
    book.record_sent("NASDAQ", 1_000)
    book.record_fill("NASDAQ", 1_000, 100 * D - improvement_ticks * D // 100, 100 * D, 1, 0, 1_000)


def decide(dark: DarkPoolRouter, sigma: float = 0.001):
    return dark.decide(INST, 200, 100 * D, 20_000 * D, sigma, MIN, 1, urgent=False)


def test_one_missed_large_ioc_counts_as_one_order_not_36393_shares() -> None:
    """The old share count left SIGMA-X at (0 + 1) / (36,393 + 2) ≈ 3e-5 for good."""
    book, _, _ = routers()
    book.record_sent("SIGMA-X", 36_393)  # an IOC that missed
    assert book.stats["SIGMA-X"].fill_rate == (0 + 1) / (1 + 2)
    book.record_sent("SIGMA-X", 100)
    book.record_fill("SIGMA-X", 100, 100 * D, 100 * D, 1, MIN, 100)  # a small one that filled
    assert 0.45 < book.stats["SIGMA-X"].fill_rate < 0.55  # one hit, one miss, the prior


def test_a_partial_fill_counts_the_filled_fraction_of_the_order() -> None:
    book, _, _ = routers()
    book.record_sent("NASDAQ", 1_000)
    book.record_fill("NASDAQ", 250, 100 * D, 100 * D, 1, 0, 1_000)
    assert book.stats["NASDAQ"].fill_rate == (0.25 + 1) / (1 + 2)


def test_a_replace_is_not_a_new_order() -> None:
    """Only ``record_sent`` adds an order; the engine no longer calls it for a replace."""
    book, _, _ = routers()
    book.record_sent("NYSE", 1_000)
    book.record_fill("NYSE", 1_500, 100 * D, 100 * D, 1, 0, 1_500)  # after growing to 1,500
    assert book.stats["NYSE"].fill_rate == (1 + 1) / (1 + 2)


def test_a_pool_that_stops_filling_is_tried_less_and_found_again_when_it_recovers() -> None:
    book, _, dark = routers()
    for name in POOLS:  # every pool tried and filled a few times (no probes pending)
        for _ in range(3):
            book.record_sent(name, 1_000)
            book.record_fill(name, 1_000, 100 * D + D // 100, 100 * D, 1, MIN // 4, 1_000)
    for _ in range(20):  # MS-POOL is the best: 5 bps better than the others, and fills
        book.record_sent("MS-POOL", 1_000)
        book.record_fill("MS-POOL", 1_000, 100 * D - 5 * D // 100, 100 * D, 1, MIN // 4, 1_000)
    assert decide(dark).venue == "MS-POOL"
    # MS-POOL stops filling: its rate falls order by order and it loses the flow
    rates = []
    for _ in range(30):
        book.record_sent("MS-POOL", 1_000)
        rates.append(book.stats["MS-POOL"].fill_rate)
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.5
    assert decide(dark).venue != "MS-POOL"
    # the pools go unused while lit fills are surer; their evidence fades until
    # each is probed again, MS-POOL included
    probed: list[str] = []
    for _ in range(2_000):
        decision = decide(dark)
        if decision.use_dark:
            assert decision.reason.startswith("probe")
            assert decision.venue is not None
            probed.append(decision.venue)
            book.record_sent(decision.venue, 1_000)
            if decision.venue == "MS-POOL":  # it recovered: the probe fills
                book.record_fill(
                    "MS-POOL", 1_000, 100 * D - 5 * D // 100, 100 * D, 1, MIN // 4, 1_000
                )
                break
        else:
            lit_order(book)
    assert "MS-POOL" in probed
    # found again: one fill after the fade is worth more than the faded misses
    assert book.stats["MS-POOL"].fill_rate > 0.5


def test_the_probe_happens_only_when_dark_would_otherwise_lose() -> None:
    """With every pool tried and lit clearly better, no probe: the child goes lit."""
    book, _, dark = routers()
    for name in POOLS:
        for _ in range(5):
            book.record_sent(name, 1_000)  # misses
    assert not decide(dark, sigma=0.01).use_dark


def test_an_untried_pool_pays_the_match_speed_penalty_the_known_pools_pay() -> None:
    """A 99%-fill pool must outrank an untried one (it used to be the other way:
    the penalty only existed once a venue had filled)."""
    book, _, dark = routers()
    for _ in range(100):
        book.record_sent("SIGMA-X", 1_000)
        book.record_fill("SIGMA-X", 1_000, 100 * D, 100 * D, 1, MIN, 1_000)
    book.record_sent("SIGMA-X", 1_000)  # 1 miss in 101: ≈ 99%
    tried = dark_score(book, book.get("SIGMA-X"), 200, 0.001, MIN)  # type: ignore[arg-type]
    untried = dark_score(book, book.get("CROSSFINDER"), 200, 0.001, MIN)  # type: ignore[arg-type]
    assert tried.fill_rate > 0.96  # the prior and the fading window keep it short of 99%
    assert untried.fill_rate == 0.5  # the prior
    assert untried.delay_bars == tried.delay_bars  # both ≈ one bar: the pooled speed
    assert tried.score_bps > untried.score_bps
    scores = decide(dark).scores
    assert scores[0].venue == "SIGMA-X"


def test_at_the_start_every_pool_is_scored_from_the_prior_alike() -> None:
    _, _, dark = routers()
    scores = decide(dark).scores
    assert len({(s.fill_rate, s.delay_bars, s.score_bps) for s in scores}) == 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(("SIGMA-X", "MS-POOL", "NASDAQ", "IEX")),
            st.integers(1, 10**6),
            st.floats(0, 1),
            st.integers(0, 10 * MIN),
        ),
        max_size=60,
    )
)
def test_learned_statistics_stay_in_range(history) -> None:
    """Whatever the history, a fill rate is a probability and a delay is ≥ 0."""
    book, _, _ = routers()
    for name, quantity, fraction, delay in history:
        book.record_sent(name, quantity)
        filled = int(quantity * fraction)
        if filled:
            book.record_fill(name, filled, 100 * D, 100 * D, 1, delay, quantity)
    for name, stats in book.stats.items():
        assert 0.0 <= stats.fill_rate <= 1.0, name
        assert stats.mean_delay_ns(book.pooled_delay_ns("dark")) >= 0.0, name
