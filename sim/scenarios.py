"""Named scenarios: which market, how long, how much money, which faults.

A scenario is data. ``python -m sim list`` prints them; ``run NAME`` runs
one, and its options (--seed, --days, --symbols, --balance) override the
scenario's defaults without changing what the scenario means.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from core.errors import BadInput
from sim.faults import NO_FAULTS, FaultRates

DEFAULT_FIVE = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA")  # config.toml.example's universe
MIXED = ("range", "capitulation", "trend", "gaps", "flash_crash")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    symbols: tuple[str, ...]
    regimes: tuple[str, ...]  # assigned to symbols in turn
    days: int
    balance: str  # dollars, a decimal string
    faults: FaultRates = NO_FAULTS
    start: str = "2024-01-02"
    hard_to_borrow: tuple[tuple[str, int], ...] = ()  # (symbol, annual borrow rate in bps)

    def regime_map(self, symbols: tuple[str, ...]) -> dict[str, str]:
        return {s: self.regimes[i % len(self.regimes)] for i, s in enumerate(symbols)}


def _universe30() -> tuple[str, ...]:
    from sim.market import UNIVERSE_30

    return tuple(entry.symbol for entry in UNIVERSE_30)


_FAULTY = FaultRates(
    reject=0.03,
    partial=0.1,
    cancel_race=0.2,
    duplicate=0.05,
    reorder=0.05,
    delay=0.01,
    drop_bar=0.002,
    stale=0.0005,
    outage=0.0002,
    crash=0.0005,
)


def _catalogue() -> dict[str, Scenario]:
    items = [
        Scenario(
            "default",
            "The five symbols of config.toml.example, one regime each, three weeks, "
            "an institutional account (algorithms and dark pools in play)",
            DEFAULT_FIVE,
            MIXED,
            15,
            "5000000",
        ),
        Scenario(
            "range",
            "Range-bound markets with bounces at the edges",
            DEFAULT_FIVE,
            ("range",),
            10,
            "1000000",
        ),
        Scenario(
            "capitulation",
            "Sell-off to a record-volume low, rebound, retest",
            DEFAULT_FIVE,
            ("capitulation",),
            10,
            "1000000",
        ),
        Scenario("trend", "Trending markets", DEFAULT_FIVE, ("trend",), 10, "1000000"),
        Scenario("gaps", "Overnight gaps at the open", DEFAULT_FIVE, ("gaps",), 10, "1000000"),
        Scenario(
            "flash_crash",
            "Intraday flash crashes and recoveries",
            DEFAULT_FIVE,
            ("flash_crash",),
            10,
            "1000000",
        ),
        Scenario(
            "retail",
            "The default market with a $50K retail account (market orders only)",
            DEFAULT_FIVE,
            MIXED,
            15,
            "50000",
        ),
        Scenario(
            "semi",
            "The default market with a $500K semi-institutional account",
            DEFAULT_FIVE,
            MIXED,
            15,
            "500000",
        ),
        Scenario(
            "universe30",
            "Thirty symbols across sectors, mixed regimes, four weeks",
            _universe30(),
            MIXED,
            20,
            "20000000",
        ),
        Scenario(
            "faults",
            "The default market with every fault switched on",
            DEFAULT_FIVE,
            MIXED,
            10,
            "5000000",
            _FAULTY,
        ),
    ]
    return {s.name: s for s in items}


def scenario(name: str) -> Scenario:
    catalogue = _catalogue()
    if name not in catalogue:
        raise BadInput("scenario", name, f"is not one of {', '.join(catalogue)}")
    return catalogue[name]


def all_scenarios() -> list[Scenario]:
    return list(_catalogue().values())


def pick_symbols(base: Scenario, spec: str | None) -> tuple[str, ...]:
    """``--symbols``: a count drawn from the scenario's universe, or a list."""
    if spec is None:
        return base.symbols
    text = spec.strip()
    if text.isdigit():
        count = int(text)
        if not 1 <= count <= len(base.symbols):
            raise BadInput(
                "--symbols", spec, f"must be between 1 and {len(base.symbols)} for {base.name}"
            )
        return base.symbols[:count]
    symbols = tuple(s.strip().upper() for s in text.split(",") if s.strip())
    if not symbols:
        raise BadInput("--symbols", spec, "names no symbol")
    if len(set(symbols)) != len(symbols):
        raise BadInput("--symbols", spec, "names a symbol twice")
    for symbol in symbols:
        if not symbol.replace(".", "").isalnum():
            raise BadInput("--symbols", spec, f"{symbol!r} is not a ticker")
    return symbols


def with_overrides(base: Scenario, **changes: Any) -> Scenario:
    """``base`` with every change that is given (None: keep the scenario's)."""
    return replace(base, **{k: v for k, v in changes.items() if v is not None})
