"""Account tiers (SPEC §7): what an account of a given equity may do.

The tier is a pure function of equity so that it can be re-derived at every
decision: an account that grows past $100K gains the execution algorithms on
its next order, one that shrinks below loses them. Boundaries belong to the
higher tier (exactly $100,000.00 is semi-institutional).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.commands import OrderType
from core.money import PRICE_SCALE

SEMI_INSTITUTIONAL_MIN = 100_000 * PRICE_SCALE
"""SPEC §7: $100K, in nano-units of the quote currency."""

INSTITUTIONAL_MIN = 1_000_000 * PRICE_SCALE
"""SPEC §7: $1M, in nano-units of the quote currency."""


class AccountTier(StrEnum):
    RETAIL = "retail"
    SEMI_INSTITUTIONAL = "semi_institutional"
    INSTITUTIONAL = "institutional"


@dataclass(frozen=True, slots=True)
class TierCapabilities:
    """What a tier unlocks; the execution engine consults only this record."""

    tier: AccountTier
    supports_algos: bool
    supports_dark_pools: bool
    supports_fix: bool
    order_types: frozenset[OrderType]
    brokers: tuple[str, ...]
    lit_routing: bool  # may name a lit venue (ExDestination) rather than the broker's choice

    def allows(self, order_type: OrderType) -> bool:
        return order_type in self.order_types


_CAPABILITIES: dict[AccountTier, TierCapabilities] = {
    AccountTier.RETAIL: TierCapabilities(
        tier=AccountTier.RETAIL,
        supports_algos=False,
        supports_dark_pools=False,
        supports_fix=False,
        order_types=frozenset({OrderType.MARKET}),
        brokers=("alpaca",),
        lit_routing=False,
    ),
    AccountTier.SEMI_INSTITUTIONAL: TierCapabilities(
        tier=AccountTier.SEMI_INSTITUTIONAL,
        supports_algos=True,
        supports_dark_pools=False,
        supports_fix=False,
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
        brokers=("alpaca", "ibkr"),
        lit_routing=True,
    ),
    AccountTier.INSTITUTIONAL: TierCapabilities(
        tier=AccountTier.INSTITUTIONAL,
        supports_algos=True,
        supports_dark_pools=True,
        supports_fix=True,
        order_types=frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.PEGGED_MIDPOINT}),
        brokers=("alpaca", "ibkr", "fix"),
        lit_routing=True,
    ),
}


def tier_for_equity(equity: int) -> AccountTier:
    """The tier of an account with ``equity`` nano-units; boundaries go up."""
    if equity >= INSTITUTIONAL_MIN:
        return AccountTier.INSTITUTIONAL
    if equity >= SEMI_INSTITUTIONAL_MIN:
        return AccountTier.SEMI_INSTITUTIONAL
    return AccountTier.RETAIL


def capabilities(tier: AccountTier) -> TierCapabilities:
    return _CAPABILITIES[tier]


def capabilities_for_equity(equity: int) -> TierCapabilities:
    return _CAPABILITIES[tier_for_equity(equity)]
