"""The built-in demo market: range-bound minute bars on real NYSE sessions.

A small seeded stand-in until the full scenario generators exist; it shows
the agents finding a range's edges and trading the bounces that come on
heavy volume.
"""

from __future__ import annotations

import numpy as np

from core.events import Bar
from core.instruments import CENT
from sim.calendar import exchange_sessions
from sim.timefmt import parse_time

MINUTE_NS = 60 * 10**9
DEMO_SYMBOLS = (("ACME", 5_000, 5_500), ("GLOBEX", 12_000, 13_000), ("INITECH", 2_500, 2_700))
"""(symbol, range floor, range ceiling) in cents."""


def demo_bars(seed: int = 7, sessions: int = 5) -> list[Bar]:
    """Interleaved minute bars for the demo symbols, in time order."""
    rng = np.random.default_rng(seed)
    start = parse_time("2024-03-04")
    spans = exchange_sessions("XNYS", start, start + 30 * 86_400 * 10**9)[:sessions]
    minutes = [t for open_ns, close_ns in spans for t in range(open_ns, close_ns, MINUTE_NS)]
    per_symbol = [
        _range_bound(rng, symbol, floor, ceiling, minutes)
        for symbol, floor, ceiling in DEMO_SYMBOLS
    ]
    return [bar for group in zip(*per_symbol, strict=True) for bar in group]


def _range_bound(
    rng: np.random.Generator, symbol: str, floor: int, ceiling: int, minutes: list[int]
) -> list[Bar]:
    """A reflected random walk inside [floor, ceiling]; touching an edge brings volume."""
    width = ceiling - floor
    price = floor + width // 2
    bars = []
    for index, time_ns in enumerate(minutes):
        minute_of_day = index % 390
        u_shape = 1.0 + 2.0 * ((minute_of_day - 195) / 195) ** 2
        step = int(rng.normal(0.0, width / 40))
        close = price + step
        touched = close <= floor or close >= ceiling
        if close < floor:
            close = floor + (floor - close)
        if close > ceiling:
            close = ceiling - (close - ceiling)
        wick = int(abs(rng.normal(0.0, width / 80)))
        high = min(max(price, close) + wick, ceiling + width // 50)
        low = max(min(price, close) - wick, floor - width // 50)
        volume = int(rng.gamma(4.0, 2_500) * u_shape * (6.0 if touched else 1.0))
        bars.append(
            Bar(symbol, time_ns, price * CENT, high * CENT, low * CENT, close * CENT, volume)
        )
        price = close
    return bars
