"""``generate_market``: the sessions, each symbol's stream and regime, the bars in order.

Checks its arguments (naming the field and value), lays out the XNYS sessions,
then per symbol draws base price and bar range from ``stream(seed, "market",
symbol)`` and runs that symbol's regime, path and volumes in that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.errors import BadInput
from core.events import Bar
from core.instruments import CENT, Instrument, us_equity_tick
from core.money import price_from_decimal
from sim.calendar import exchange_sessions
from sim.market.path import MINUTE_NS, RECORD, PricePath, SessionLayout
from sim.market.regimes import BUILDERS, REGIMES
from sim.market.universe import BY_SYMBOL
from sim.market.volume import bar_volumes
from sim.rng import stream
from sim.timefmt import parse_time

DAY_NS = 86_400 * 10**9
EXCHANGE = "XNYS"


@dataclass(frozen=True)
class SymbolTruth:
    """What the generator made true of a symbol's bars (nano-unit prices, ns times)."""

    symbol: str
    regime: str
    facts: dict[str, int]


@dataclass(frozen=True)
class Market:
    instruments: tuple[Instrument, ...]
    bars: tuple[Bar, ...]
    truth: dict[str, SymbolTruth]
    sessions: tuple[tuple[int, int], ...]
    start_ns: int
    end_ns: int


# --------------------------------------------------------------------------- assembly


def _layout(start: str, days: int) -> SessionLayout:
    start_ns = parse_time(start, "start")
    start_day = start_ns - start_ns % DAY_NS
    horizon = start_day + (days * 7 // 5 + 14) * DAY_NS
    spans = [s for s in exchange_sessions(EXCHANGE, start_day, horizon) if s[0] >= start_day]
    if len(spans) < days:
        raise BadInput("days", days, f"the {EXCHANGE} calendar has only {len(spans)} sessions")
    chosen = tuple((int(o), int(c)) for o, c in spans[:days])
    lengths = tuple((c - o) // MINUTE_NS for o, c in chosen)
    starts = tuple(sum(lengths[:k]) for k in range(days))
    return SessionLayout(chosen, lengths, starts)


def _check_args(
    seed: int, symbols: Sequence[str], regimes: Mapping[str, str] | str, days: int
) -> dict[str, str]:
    if type(seed) is not int or seed < 0:
        raise BadInput("seed", seed, "must be an integer >= 0")
    if type(days) is not int or days < 1:
        raise BadInput("days", days, "must be an integer >= 1")
    if isinstance(symbols, str) or not symbols:
        raise BadInput("symbols", symbols, "must be a non-empty sequence of symbols")
    if len(set(symbols)) != len(symbols):
        raise BadInput("symbols", list(symbols), "must not repeat a symbol")
    for symbol in symbols:
        if not isinstance(symbol, str) or not symbol or symbol != symbol.strip():
            raise BadInput("symbols", symbol, "must be a non-empty symbol without spaces")
    if isinstance(regimes, str):
        regimes = dict.fromkeys(symbols, regimes)
    chosen: dict[str, str] = {}
    for symbol in symbols:
        if symbol not in regimes:
            raise BadInput("regimes", symbol, "has no regime")
        regime = regimes[symbol]
        if regime not in REGIMES:
            raise BadInput(f"regimes[{symbol}]", regime, f"must be one of {', '.join(REGIMES)}")
        chosen[symbol] = regime
    return chosen


def generate_market(
    seed: int,
    symbols: Sequence[str],
    regimes: Mapping[str, str] | str,
    days: int,
    start: str = "2024-01-02",
) -> Market:
    """``days`` XNYS sessions of 1-minute bars from the first session on/after ``start``.

    ``regimes`` is one regime for every symbol or a mapping symbol → regime.
    Bars are sorted by time, then by the symbol's position in ``symbols``.
    """
    chosen = _check_args(seed, symbols, regimes, days)
    layout = _layout(start, days)
    instruments = []
    truth: dict[str, SymbolTruth] = {}
    columns: list[list[Bar]] = []
    times = [o + m * MINUTE_NS for o, c in layout.sessions for m in range((c - o) // MINUTE_NS)]
    for symbol in symbols:
        rng = stream(seed, "market", symbol)
        entry = BY_SYMBOL.get(symbol)
        drawn = Decimal(round(float(rng.uniform(20.0, 200.0)), 2)).quantize(Decimal("0.01"))
        base_text = entry.base_price if entry is not None else str(drawn)
        base_nano = price_from_decimal(base_text, "base_price")
        base = base_nano // CENT
        instruments.append(
            Instrument(
                symbol,
                tick=us_equity_tick(base_nano),
                sector=entry.sector if entry is not None else "Unknown",
            )
        )
        bar_range = max(3.0, base * rng.uniform(0.0006, 0.001))  # 6–10 bps a minute
        path = PricePath(rng, layout, base, bar_range)
        facts = BUILDERS[chosen[symbol]](path)
        volumes = bar_volumes(path, base_volume=float(rng.uniform(20_000, 120_000)))
        columns.append(
            [
                Bar(symbol, t, o * CENT, h * CENT, lo * CENT, c * CENT, v)
                for t, o, h, lo, c, v in zip(
                    times, path.opens, path.highs, path.lows, path.closes, volumes, strict=True
                )
            ]
        )
        if RECORD in path.kinds:
            facts["record_volume"] = volumes[path.kinds.index(RECORD)]
        truth[symbol] = SymbolTruth(symbol, chosen[symbol], facts)
    bars = tuple(bar for row in zip(*columns, strict=True) for bar in row)
    return Market(
        tuple(instruments),
        bars,
        truth,
        layout.sessions,
        layout.sessions[0][0],
        layout.sessions[-1][1],
    )
