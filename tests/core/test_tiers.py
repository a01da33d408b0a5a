from decimal import Decimal

import pytest

from core.commands import OrderType
from core.money import price_from_decimal
from core.tiers import AccountTier, capabilities, capabilities_for_equity, tier_for_equity


def usd(text: str) -> int:
    return price_from_decimal(Decimal(text))


@pytest.mark.parametrize(
    ("equity", "tier"),
    [
        ("0", AccountTier.RETAIL),
        ("50000", AccountTier.RETAIL),
        ("99999.99", AccountTier.RETAIL),
        ("99999.999999999", AccountTier.RETAIL),
        ("100000", AccountTier.SEMI_INSTITUTIONAL),
        ("100000.000000001", AccountTier.SEMI_INSTITUTIONAL),
        ("999999.99", AccountTier.SEMI_INSTITUTIONAL),
        ("1000000", AccountTier.INSTITUTIONAL),
        ("25000000", AccountTier.INSTITUTIONAL),
    ],
)
def test_boundaries_belong_to_the_higher_tier(equity: str, tier: AccountTier) -> None:
    assert tier_for_equity(usd(equity)) is tier


def test_negative_equity_is_retail() -> None:
    assert tier_for_equity(-usd("5")) is AccountTier.RETAIL


def test_retail_is_market_orders_through_alpaca_only() -> None:
    caps = capabilities_for_equity(usd("99999.99"))
    assert caps.order_types == frozenset({OrderType.MARKET})
    assert caps.brokers == ("alpaca",)
    assert not caps.supports_algos and not caps.supports_dark_pools and not caps.supports_fix
    assert not caps.lit_routing
    assert not caps.allows(OrderType.LIMIT)


def test_semi_institutional_gets_algos_and_routing_but_no_dark_or_fix() -> None:
    caps = capabilities_for_equity(usd("100000"))
    assert caps.supports_algos and caps.lit_routing
    assert not caps.supports_dark_pools and not caps.supports_fix
    assert "ibkr" in caps.brokers
    assert caps.allows(OrderType.LIMIT) and not caps.allows(OrderType.PEGGED_MIDPOINT)


def test_institutional_gets_dark_pools_and_fix() -> None:
    caps = capabilities_for_equity(usd("1000000"))
    assert caps.supports_algos and caps.supports_dark_pools and caps.supports_fix
    assert "fix" in caps.brokers
    assert caps.allows(OrderType.PEGGED_MIDPOINT)
    assert capabilities_for_equity(usd("999999.99")).tier is AccountTier.SEMI_INSTITUTIONAL


def test_every_tier_has_capabilities() -> None:
    for tier in AccountTier:
        assert capabilities(tier).tier is tier
