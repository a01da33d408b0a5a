"""Venues are data (``venues.json``), and what we know about them is learned.

The table says which venues exist, their fees, minimum notional, block
capability and the lowest tier allowed there. ``VenueStats`` accumulates, from
the system's own child orders and fills only, each venue's fill rate, price
improvement, time to first fill and largest fill — the routers score on those.
Evidence is per order and fades (``DECAY``); see ``VenueStats``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources

from core.errors import BadInput
from core.money import price_from_decimal
from core.tiers import AccountTier

_TIER_RANK = {
    AccountTier.RETAIL: 0,
    AccountTier.SEMI_INSTITUTIONAL: 1,
    AccountTier.INSTITUTIONAL: 2,
}


@dataclass(frozen=True, slots=True)
class Venue:
    name: str
    kind: str  # "lit" | "dark"
    take_fee: int  # nano-units per share paid by a marketable order
    make_rebate: int  # nano-units per share earned by a resting order
    min_notional: int  # nano-units; 0 for lit venues
    block: bool
    min_tier: AccountTier

    def open_to(self, tier: AccountTier) -> bool:
        return _TIER_RANK[tier] >= _TIER_RANK[self.min_tier]


# Learning rule (docs/cost-model.md §5 "What the routers learn"): evidence is
# counted per child ORDER, not per share, so one large IOC that missed weighs
# what one small one does. Every observation fades by ``DECAY`` for each child
# order the book routes anywhere afterwards, so old evidence gives way to new
# and a venue left alone drifts back to the prior.
DECAY = 0.99  # per child order routed anywhere: evidence half-life ≈ 69 orders
PRIOR_FILL_RATE = 0.5  # what an untried venue is assumed to fill, per order
PRIOR_WEIGHT = 2.0  # the prior counts as two orders (Laplace's rule of succession)
DELAY_PRIOR_WEIGHT = 1.0  # one order's worth of the pooled match speed
PROBE_BELOW = 0.25  # a dark pool whose evidence weighs less than this is re-probed


@dataclass(slots=True)
class VenueStats:
    """Learned from our own child orders and fills, per order, with fading weights.

    ``orders`` and ``filled`` are decayed counts: each child order adds 1 to
    ``orders`` and the fraction of it that filled (0..1) to ``filled``. The
    fill rate is their ratio shrunk toward ``PRIOR_FILL_RATE`` with
    ``PRIOR_WEIGHT`` pseudo-orders, so an untried venue and a tried one are
    scored by the same formula.
    """

    orders: float = 0.0  # decayed number of child orders routed here
    filled: float = 0.0  # decayed Σ (filled quantity / order quantity) per order
    sent_orders: int = 0  # lifetime child orders (never decays: "was it ever tried?")
    fills: int = 0  # lifetime executions
    improvement_bps_qty: float = 0.0  # decayed Σ improvement(bps) × qty
    improvement_qty: float = 0.0  # decayed Σ qty behind the improvement
    delay_ns_sum: float = 0.0  # decayed Σ time from order to its first fill
    delayed_orders: float = 0.0  # decayed number of first fills
    largest_fill: int = 0

    @property
    def fill_rate(self) -> float:
        """(filled + w·p₀) / (orders + w): an untried venue starts at p₀ = ½."""
        rate = (self.filled + PRIOR_WEIGHT * PRIOR_FILL_RATE) / (self.orders + PRIOR_WEIGHT)
        return min(1.0, max(0.0, rate))

    @property
    def improvement_bps(self) -> float:
        return self.improvement_bps_qty / self.improvement_qty if self.improvement_qty else 0.0

    def mean_delay_ns(self, prior_ns: float = 0.0) -> float:
        """Mean time to a first fill, shrunk toward ``prior_ns`` by one pseudo-order.

        The prior is the match speed pooled over the venues of the same kind
        (``VenueBook.pooled_delay_ns``), so an untried pool is charged what the
        pools we know charge, not nothing.
        """
        weight = self.delayed_orders + DELAY_PRIOR_WEIGHT
        return (self.delay_ns_sum + DELAY_PRIOR_WEIGHT * prior_ns) / weight

    def fade(self, factor: float) -> None:
        self.orders *= factor
        self.filled *= factor
        self.improvement_bps_qty *= factor
        self.improvement_qty *= factor
        self.delay_ns_sum *= factor
        self.delayed_orders *= factor


class VenueBook:
    """The venue table plus the statistics learned for each venue."""

    __slots__ = ("dark", "lit", "stats")

    def __init__(self, venues: list[Venue]) -> None:
        self.lit = [v for v in venues if v.kind == "lit"]
        self.dark = [v for v in venues if v.kind == "dark"]
        self.stats: dict[str, VenueStats] = {v.name: VenueStats() for v in venues}

    def get(self, name: str) -> Venue | None:
        for venue in self.lit + self.dark:
            if venue.name == name:
                return venue
        return None

    def record_sent(self, name: str | None, quantity: int) -> None:
        """One child order of ``quantity`` went to ``name``; all evidence fades a step."""
        stats = self.stats.get(name or "")
        if stats is None or quantity <= 0:
            return
        for each in self.stats.values():
            each.fade(DECAY)
        stats.orders += 1.0
        stats.sent_orders += 1

    def record_rejected(self, name: str | None) -> None:
        """Take back a child that was refused before it could trade: no venue
        saw it, so it says nothing about the venue's fill rate."""
        stats = self.stats.get(name or "")
        if stats is None or stats.sent_orders <= 0:
            return
        stats.sent_orders -= 1
        stats.orders = max(stats.filled, stats.orders - 1.0, 0.0)

    def record_fill(
        self,
        name: str | None,
        quantity: int,
        price: int,
        reference: int,
        side_sign: int,
        delay_ns: int | None,
        order_quantity: int | None = None,
    ) -> None:
        """An execution of one of our child orders.

        ``order_quantity`` is the child's size, so the order's fill fraction is
        ``quantity / order_quantity`` (a whole order when not given). ``delay_ns``
        is given for the order's first fill only.
        """
        stats = self.stats.get(name or "")
        if stats is None or reference <= 0 or quantity <= 0:
            return
        size = order_quantity if order_quantity and order_quantity > 0 else quantity
        stats.filled += min(1.0, quantity / size)
        stats.fills += 1
        stats.improvement_bps_qty += side_sign * (reference - price) / reference * 1e4 * quantity
        stats.improvement_qty += quantity
        stats.largest_fill = max(stats.largest_fill, quantity)
        if delay_ns is not None:
            stats.delay_ns_sum += max(0, delay_ns)
            stats.delayed_orders += 1.0

    def pooled_delay_ns(self, kind: str) -> float:
        """Mean time to first fill over every venue of ``kind`` (0 before any fill)."""
        venues = self.dark if kind == "dark" else self.lit
        total = sum(self.stats[v.name].delay_ns_sum for v in venues)
        count = sum(self.stats[v.name].delayed_orders for v in venues)
        return total / count if count else 0.0

    def needs_probe(self, name: str) -> bool:
        """Never tried, or its evidence has faded below ``PROBE_BELOW`` orders."""
        return self.stats[name].orders < PROBE_BELOW


def _parse(entry: dict[str, object], kind: str) -> Venue:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise BadInput(f"{kind}.name", name, "must be a non-empty string")
    try:
        tier = AccountTier(str(entry.get("min_tier", "institutional")))
    except ValueError:
        raise BadInput(f"{name}.min_tier", entry.get("min_tier"), "is not a tier") from None
    block = entry.get("block", False)
    if not isinstance(block, bool):
        raise BadInput(f"{name}.block", block, "must be true or false")
    take_fee = price_from_decimal(entry.get("take_fee", "0"), f"{name}.take_fee")
    rebate = price_from_decimal(entry.get("make_rebate", "0"), f"{name}.make_rebate")
    min_notional = price_from_decimal(entry.get("min_notional", "0"), f"{name}.min_notional")
    if take_fee < 0 or rebate < 0 or min_notional < 0:
        raise BadInput(f"{name}.fees", (take_fee, rebate, min_notional), "must not be negative")
    return Venue(name, kind, take_fee, rebate, min_notional, block, tier)


def parse_venues(text: str) -> list[Venue]:
    """Parse a venue table; BadInput names the offending field."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput("venues.json", text[:40], f"is not JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise BadInput("venues.json", type(data).__name__, "must be an object")
    venues: list[Venue] = []
    for kind in ("lit", "dark"):
        entries = data.get(kind, [])
        if not isinstance(entries, list):
            raise BadInput(kind, entries, "must be a list of venues")
        for entry in entries:
            if not isinstance(entry, dict):
                raise BadInput(kind, entry, "each venue must be an object")
            venues.append(_parse(entry, kind))
    names = [v.name for v in venues]
    if len(set(names)) != len(names):
        raise BadInput("venues", names, "venue names must be unique")
    return venues


def default_venues() -> list[Venue]:
    """The packaged table (package data, read once per call)."""
    text = resources.files("core.execution").joinpath("venues.json").read_text("utf-8")
    return parse_venues(text)


def miss_cost_bps(sigma: float, bars_waited: float = 1.0) -> float:
    """Expected adverse move while re-routing unfilled quantity: σ·√bars, in bps."""
    return sigma * math.sqrt(max(bars_waited, 0.0)) * 1e4
