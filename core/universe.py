"""The traded universe: at most 30 symbols, each with its sector (SPEC §5).

30 is the SPEC's limit (one agent per symbol, each independent); sectors are
data carried for reporting and for risk views, never for cross-symbol
optimisation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.errors import BadInput
from core.instruments import Instrument

MAX_SYMBOLS = 30  # SPEC §5


class Universe:
    """An ordered, duplicate-free set of instruments (order = as given)."""

    __slots__ = ("_by_symbol",)

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        by_symbol: dict[str, Instrument] = {}
        for instrument in instruments:
            if instrument.symbol in by_symbol:
                raise BadInput("symbol", instrument.symbol, "appears twice in the universe")
            by_symbol[instrument.symbol] = instrument
        if len(by_symbol) > MAX_SYMBOLS:
            raise BadInput(
                "universe", len(by_symbol), f"has more than {MAX_SYMBOLS} symbols (SPEC §5)"
            )
        self._by_symbol = by_symbol

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __getitem__(self, symbol: str) -> Instrument:
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise BadInput("symbol", symbol, "is not in the universe") from None

    @property
    def symbols(self) -> list[str]:
        return list(self._by_symbol)

    def sectors(self) -> dict[str, list[str]]:
        """Symbols grouped by sector, both in universe order."""
        grouped: dict[str, list[str]] = {}
        for instrument in self._by_symbol.values():
            grouped.setdefault(instrument.sector, []).append(instrument.symbol)
        return grouped
