"""Events the core consumes.

Each event carries its own timestamp (integer nanoseconds, UTC) so that the
core never needs to consult a clock to know when something happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import BadInput

INT64_MAX = 2**63 - 1
MAX_PRICE = 2**58
"""≈ $288M per unit. Keeps every integer the core derives from prices (14
summed true ranges, 13·ATR + TR) inside int64 in the compiled paths, so the
pure-Python twins and the Cython build can never disagree by overflow."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; prices in nano-units, volume in the instrument's unit.

    Construction validates SPEC §3's shape rule, so an invalid Bar cannot
    exist; the per-symbol "later than the previous bar" rule needs history and
    lives in ``BarSequenceGuard``.
    """

    symbol: str
    time_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    vwap: int | None = None
    trades: int | None = None

    def __post_init__(self) -> None:
        for name in ("time_ns", "open", "high", "low", "close", "volume"):
            value = getattr(self, name)
            if type(value) is not int:
                raise BadInput(name, value, "must be an integer")
        if not self.symbol:
            raise BadInput("symbol", self.symbol, "must not be empty")
        if not -INT64_MAX <= self.time_ns <= INT64_MAX:
            raise BadInput("time_ns", self.time_ns, "is outside the int64 nanosecond range")
        for name in ("low", "open", "close", "high"):  # name the price that is wrong
            if getattr(self, name) <= 0:
                raise BadInput(name, getattr(self, name), "must be positive")
        if self.high >= MAX_PRICE:
            raise BadInput("high", self.high, f"must be below {MAX_PRICE} nano-units")
        if self.low > min(self.open, self.close):
            raise BadInput("low", self.low, "is above min(open, close)")
        if self.high < max(self.open, self.close):
            raise BadInput("high", self.high, "is below max(open, close)")
        if not 0 <= self.volume <= INT64_MAX:
            raise BadInput("volume", self.volume, "must be an integer in [0, 2**63)")
        if self.vwap is not None and not self.low <= self.vwap <= self.high:
            raise BadInput("vwap", self.vwap, "must lie within [low, high]")
        if self.trades is not None and self.trades < 0:
            raise BadInput("trades", self.trades, "must be >= 0")


class BarSequenceGuard:
    """Rejects a bar whose time is not later than its symbol's previous bar."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def check(self, bar: Bar) -> None:
        last = self._last.get(bar.symbol)
        if last is not None and bar.time_ns <= last:
            raise BadInput(
                "time", bar.time_ns, f"is not later than {bar.symbol}'s previous bar at {last}"
            )

    def accept(self, bar: Bar) -> None:
        self.check(bar)
        self._last[bar.symbol] = bar.time_ns

    def last_time(self, symbol: str) -> int | None:
        return self._last.get(symbol)
