"""Instruments and their tick/lot rules (SPEC §3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.errors import BadInput
from core.money import PRICE_SCALE, Price

ONE_DOLLAR = PRICE_SCALE
CENT = PRICE_SCALE // 100
SUB_DOLLAR_TICK = PRICE_SCALE // 10_000


class AssetClass(str, Enum):
    EQUITY = "equity"
    CRYPTO = "crypto"


@dataclass(frozen=True, slots=True)
class Instrument:
    """What the core needs to know to price and size a symbol.

    ``tick`` is in price nano-units; ``lot`` and quantities are in the
    instrument's smallest unit, of which there are ``10**qty_decimals`` per
    share (0 for whole-share equities).
    """

    symbol: str
    asset_class: AssetClass = AssetClass.EQUITY
    tick: Price = Price(CENT)
    lot: int = 1
    sector: str = "Unknown"
    qty_decimals: int = 0

    def __post_init__(self) -> None:
        if not self.symbol or not self.symbol.strip() or self.symbol != self.symbol.strip():
            raise BadInput("symbol", self.symbol, "must be a non-empty symbol without spaces")
        if self.tick <= 0:
            raise BadInput("tick", self.tick, "must be positive")
        if self.lot <= 0:
            raise BadInput("lot", self.lot, "must be positive")
        if not 0 <= self.qty_decimals <= 9:
            raise BadInput("qty_decimals", self.qty_decimals, "must be between 0 and 9")


def us_equity_tick(price: int) -> Price:
    """Reg NMS minimum tick: $0.01 at or above $1, $0.0001 below."""
    return Price(CENT if price >= ONE_DOLLAR else SUB_DOLLAR_TICK)


def round_to_tick(price: int, tick: int) -> Price:
    """Nearest tick, halves up; used for limit prices the core proposes."""
    return Price(((2 * price + tick) // (2 * tick)) * tick)
