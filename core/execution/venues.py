"""Venues are data (``venues.json``), and what we know about them is learned.

The table says which venues exist, their fees, minimum notional, block
capability and the lowest tier allowed there. ``VenueStats`` accumulates, from
the system's own child orders and fills only, each venue's fill rate, price
improvement, time to first fill and largest fill — the routers score on those.
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


@dataclass(slots=True)
class VenueStats:
    """Learned from our own orders; Laplace's rule of succession for fill rate."""

    sent: int = 0  # child quantity routed here
    filled: int = 0
    fills: int = 0
    improvement_bps_qty: float = 0.0  # Σ improvement(bps) × qty
    delay_ns_sum: int = 0
    delayed_orders: int = 0
    largest_fill: int = 0

    @property
    def fill_rate(self) -> float:
        """(filled + 1) / (sent + 2): an untried venue starts at ½, not 0 or 1."""
        return (self.filled + 1) / (self.sent + 2)

    @property
    def improvement_bps(self) -> float:
        return self.improvement_bps_qty / self.filled if self.filled else 0.0

    def mean_delay_ns(self) -> float:
        return self.delay_ns_sum / self.delayed_orders if self.delayed_orders else 0.0


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
        stats = self.stats.get(name or "")
        if stats is not None:
            stats.sent += quantity

    def record_fill(
        self,
        name: str | None,
        quantity: int,
        price: int,
        reference: int,
        side_sign: int,
        delay_ns: int | None,
    ) -> None:
        stats = self.stats.get(name or "")
        if stats is None or reference <= 0:
            return
        stats.filled += quantity
        stats.fills += 1
        stats.improvement_bps_qty += side_sign * (reference - price) / reference * 1e4 * quantity
        stats.largest_fill = max(stats.largest_fill, quantity)
        if delay_ns is not None:
            stats.delay_ns_sum += delay_ns
            stats.delayed_orders += 1


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
