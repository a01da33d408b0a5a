"""The 30 large caps the scenarios trade by default, with sector and a realistic base price.

Data, not generation: a symbol outside this list still gets a seeded base price
from its own stream (``sim.market.generate``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UniverseEntry:
    symbol: str
    sector: str
    base_price: str  # Decimal string, dollars


_IT = "Information Technology"
_COMM = "Communication Services"
_DISC = "Consumer Discretionary"
_STAPLES = "Consumer Staples"
_FIN = "Financials"
_HEALTH = "Health Care"

UNIVERSE_30: tuple[UniverseEntry, ...] = (
    # Base prices: about where each traded at the start of 2024 (NVDA before its 2024 split).
    UniverseEntry("AAPL", _IT, "185.64"),
    UniverseEntry("MSFT", _IT, "370.87"),
    UniverseEntry("GOOGL", _COMM, "138.17"),
    UniverseEntry("AMZN", _DISC, "149.93"),
    UniverseEntry("NVDA", _IT, "481.68"),
    UniverseEntry("META", _COMM, "346.29"),
    UniverseEntry("TSLA", _DISC, "248.42"),
    UniverseEntry("JPM", _FIN, "170.30"),
    UniverseEntry("V", _FIN, "259.04"),
    UniverseEntry("JNJ", _HEALTH, "156.16"),
    UniverseEntry("WMT", _STAPLES, "157.96"),
    UniverseEntry("PG", _STAPLES, "147.66"),
    UniverseEntry("XOM", "Energy", "102.12"),
    UniverseEntry("UNH", _HEALTH, "532.81"),
    UniverseEntry("HD", _DISC, "349.73"),
    UniverseEntry("MA", _FIN, "430.15"),
    UniverseEntry("BAC", _FIN, "33.84"),
    UniverseEntry("KO", _STAPLES, "59.38"),
    UniverseEntry("PEP", _STAPLES, "169.70"),
    UniverseEntry("CVX", "Energy", "149.23"),
    UniverseEntry("MRK", _HEALTH, "110.96"),
    UniverseEntry("COST", _STAPLES, "666.30"),
    UniverseEntry("DIS", _COMM, "90.85"),
    UniverseEntry("CSCO", _IT, "50.63"),
    UniverseEntry("NFLX", _COMM, "468.50"),
    UniverseEntry("CAT", "Industrials", "288.74"),
    UniverseEntry("BA", "Industrials", "259.64"),
    UniverseEntry("NEE", "Utilities", "60.74"),
    UniverseEntry("LIN", "Materials", "409.39"),
    UniverseEntry("PLD", "Real Estate", "132.51"),
)
BY_SYMBOL = {entry.symbol: entry for entry in UNIVERSE_30}
