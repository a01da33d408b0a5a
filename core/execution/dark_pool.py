"""Dark-pool router (SPEC §8, institutional only).

A dark venue is eligible when the child's notional reaches its minimum
(SPEC defaults: $10K, Liquidnet $100K — the block venue). Among eligible
venues the score, in bps of the child's notional, is

    score = f · PI − (1 − f) · miss − miss · √(delay / bar)  [+ block fit]

with ``f`` the learned fill rate (per child order, shrunk toward a prior of
½, fading with age: ``core.execution.venues.VenueStats``), ``PI`` learned
midpoint price improvement, ``delay`` the learned mean time to first fill
(match speed) shrunk toward the speed pooled over all dark pools — so an
untried pool pays the same match-speed penalty the pools we know pay. Block
capability: a block venue is only eligible for block-sized children, and for
those its learned largest fill relative to the child adds ``f·PI`` weight via
``block_fit`` ∈ [0, 1]. Dark is used when the best dark score beats the best
lit score. Otherwise, if an eligible pool was never tried or its evidence has
faded (``VenueBook.needs_probe``), this child probes it — the exploration rule
that lets a pool that recovered be found again; else the child goes lit.
Which children may compete at all (never a stop; a one-bar parent once) is
the execution engine's rule, see
``ExecutionEngine._dark_excluded`` and docs/cost-model.md §5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.execution.router import SmartRouter
from core.execution.venues import Venue, VenueBook, miss_cost_bps
from core.tiers import TierCapabilities


@dataclass(frozen=True, slots=True)
class DarkScore:
    venue: str
    score_bps: float
    fill_rate: float
    improvement_bps: float
    delay_bars: float
    block_fit: float


@dataclass(frozen=True, slots=True)
class DarkDecision:
    use_dark: bool
    venue: str | None
    min_quantity: int | None
    reason: str
    scores: tuple[DarkScore, ...] = ()


def dark_score(
    book: VenueBook, venue: Venue, quantity: int, sigma: float, bar_period_ns: int
) -> DarkScore:
    stats = book.stats[venue.name]
    f = stats.fill_rate
    pi = stats.improvement_bps
    delay_ns = stats.mean_delay_ns(book.pooled_delay_ns("dark"))
    delay_bars = delay_ns / bar_period_ns if bar_period_ns else 0.0
    miss = miss_cost_bps(sigma)
    block_fit = min(1.0, stats.largest_fill / quantity) if venue.block and quantity else 0.0
    score = f * pi * (1.0 + block_fit) - (1.0 - f) * miss - miss * math.sqrt(delay_bars)
    return DarkScore(venue.name, score, f, pi, delay_bars, block_fit)


class DarkPoolRouter:
    __slots__ = ("book", "lit")

    def __init__(self, book: VenueBook, lit: SmartRouter) -> None:
        self.book = book
        self.lit = lit

    def eligible(self, caps: TierCapabilities, notional: int) -> list[Venue]:
        if not caps.supports_dark_pools:
            return []
        return [v for v in self.book.dark if v.open_to(caps.tier) and notional >= v.min_notional]

    def decide(
        self,
        caps: TierCapabilities,
        quantity: int,
        price: int,
        notional: int,
        sigma: float,
        bar_period_ns: int,
        lot: int,
        urgent: bool,
        decimals: int = 0,
    ) -> DarkDecision:
        if not caps.supports_dark_pools:
            return DarkDecision(False, None, None, "tier has no dark-pool access")
        if urgent:
            return DarkDecision(False, None, None, "urgent: dark fills are not certain")
        venues = self.eligible(caps, notional)
        if not venues:
            return DarkDecision(False, None, None, "below every dark venue's minimum notional")
        index = {v.name: i for i, v in enumerate(venues)}
        scored = sorted(
            (dark_score(self.book, v, quantity, sigma, bar_period_ns) for v in venues),
            key=lambda s: (-s.score_bps, index[s.venue]),
        )
        best = scored[0]
        lit = self.lit.choose(caps, price, sigma)
        lit_score = lit.score_bps if lit is not None else float("-inf")
        reason = "dark scores higher"
        if best.score_bps < lit_score:
            probe = next((v for v in venues if self.book.needs_probe(v.name)), None)
            if probe is None:
                why = f"lit {lit.venue if lit else '-'} scores higher"
                return DarkDecision(False, None, None, why, tuple(scored))
            best = next(s for s in scored if s.venue == probe.name)
            reason = "probe: untried or faded evidence"
        venue = self.book.get(best.venue)
        assert venue is not None
        # MinQty: the smallest whole-lot quantity that meets the venue minimum.
        per_lot = max(1, price * lot // 10**decimals)  # notional of one lot, nano-units
        min_lots = -(-venue.min_notional // per_lot)
        min_qty = min(quantity, max(lot, min_lots * lot))
        return DarkDecision(True, best.venue, min_qty, reason, tuple(scored))
