"""The universe (SPEC §5): at most 30 symbols, no duplicates, sectors."""

from __future__ import annotations

import pytest

from core.errors import BadInput
from core.instruments import (
    CENT,
    ONE_DOLLAR,
    SUB_DOLLAR_TICK,
    Instrument,
    round_to_tick,
    us_equity_tick,
)
from core.universe import MAX_SYMBOLS, Universe


def _inst(i: int, sector: str = "Tech") -> Instrument:
    return Instrument(f"S{i:02d}", sector=sector)


def test_thirty_symbols_allowed_thirty_one_refused() -> None:
    assert MAX_SYMBOLS == 30
    universe = Universe(_inst(i) for i in range(30))
    assert len(universe) == 30
    with pytest.raises(BadInput) as info:
        Universe(_inst(i) for i in range(31))
    assert info.value.field == "universe"
    assert info.value.value == 31


def test_duplicates_refused_naming_the_symbol() -> None:
    with pytest.raises(BadInput) as info:
        Universe([_inst(1), _inst(2), Instrument("S01", sector="Energy")])
    assert info.value.field == "symbol"
    assert info.value.value == "S01"


def test_order_membership_and_lookup() -> None:
    universe = Universe([_inst(3), _inst(1), _inst(2)])
    assert universe.symbols == ["S03", "S01", "S02"]
    assert [i.symbol for i in universe] == ["S03", "S01", "S02"]
    assert "S01" in universe and "S09" not in universe
    assert universe["S02"].symbol == "S02"
    with pytest.raises(BadInput) as info:
        universe["S09"]
    assert info.value.field == "symbol"
    assert len(Universe([])) == 0


def test_sectors_grouped_in_universe_order() -> None:
    universe = Universe(
        [
            Instrument("XOM", sector="Energy"),
            Instrument("AAPL", sector="Tech"),
            Instrument("CVX", sector="Energy"),
            Instrument("MSFT", sector="Tech"),
            Instrument("JPM", sector="Financials"),
        ]
    )
    assert universe.sectors() == {
        "Energy": ["XOM", "CVX"],
        "Tech": ["AAPL", "MSFT"],
        "Financials": ["JPM"],
    }
    assert list(universe.sectors()) == ["Energy", "Tech", "Financials"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"symbol": ""}, "symbol"),
        ({"symbol": " AAPL"}, "symbol"),
        ({"symbol": "AAPL", "tick": 0}, "tick"),
        ({"symbol": "AAPL", "lot": 0}, "lot"),
        ({"symbol": "AAPL", "qty_decimals": 10}, "qty_decimals"),
    ],
)
def test_instrument_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(BadInput) as info:
        Instrument(**kwargs)
    assert info.value.field == field


def test_us_equity_tick_rule_and_rounding_to_tick() -> None:
    assert us_equity_tick(ONE_DOLLAR) == CENT
    assert us_equity_tick(ONE_DOLLAR - 1) == SUB_DOLLAR_TICK == 10**5
    assert us_equity_tick(500 * ONE_DOLLAR) == CENT
    assert round_to_tick(1_005_000_000, CENT) == 1_010_000_000  # half up
    assert round_to_tick(1_004_999_999, CENT) == 1_000_000_000
