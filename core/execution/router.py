"""Smart order router over lit venues (SPEC §8).

Score of a lit venue for a marketable child, in bps of the child's notional
(higher is better), from the venue's learned statistics:

    score = f · (PI − fee) − (1 − f) · miss

``f`` the learned fill rate (Laplace), ``PI`` the mean price improvement
learned from our fills, ``fee`` the take fee in bps of the price (minus the
maker rebate for a passive limit child), ``miss`` the
expected adverse move while re-routing an unfilled child (σ over one bar).
Ties go to the venue listed first in the data file, so routing is
deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.execution.venues import Venue, VenueBook, miss_cost_bps
from core.tiers import TierCapabilities


@dataclass(frozen=True, slots=True)
class RouteScore:
    venue: str
    score_bps: float
    fill_rate: float
    improvement_bps: float
    fee_bps: float


def lit_score(
    book: VenueBook, venue: Venue, price: int, sigma: float, passive: bool = False
) -> RouteScore:
    """A marketable child pays the take fee; a resting (passive) one earns the rebate."""
    stats = book.stats[venue.name]
    per_share = -venue.make_rebate if passive else venue.take_fee
    fee_bps = per_share / price * 1e4 if price > 0 else 0.0
    f = stats.fill_rate
    pi = stats.improvement_bps
    score = f * (pi - fee_bps) - (1.0 - f) * miss_cost_bps(sigma)
    return RouteScore(venue.name, score, f, pi, fee_bps)


class SmartRouter:
    """Chooses the lit venue (FIX ExDestination) for a child order."""

    __slots__ = ("book",)

    def __init__(self, book: VenueBook) -> None:
        self.book = book

    def scores(
        self, caps: TierCapabilities, price: int, sigma: float, passive: bool = False
    ) -> list[RouteScore]:
        venues = [v for v in self.book.lit if v.open_to(caps.tier)]
        scored = [lit_score(self.book, v, price, sigma, passive) for v in venues]
        index = {v.name: i for i, v in enumerate(venues)}
        return sorted(scored, key=lambda s: (-s.score_bps, index[s.venue]))

    def choose(
        self, caps: TierCapabilities, price: int, sigma: float, passive: bool = False
    ) -> RouteScore | None:
        """Best lit venue, or None when the tier leaves routing to the broker."""
        if not caps.lit_routing:
            return None
        ranked = self.scores(caps, price, sigma, passive)
        return ranked[0] if ranked else None
