"""Shared synthetic data for the benchmarks (seeded, so runs compare)."""

from __future__ import annotations

import numpy as np

from core.events import Bar
from core.instruments import CENT

MINUTE_NS = 60 * 10**9


def synthetic_minute_bars(count: int, symbol: str = "BENCH", seed: int = 1) -> list[Bar]:
    """A random walk in cents with wicks and occasional volume bursts."""
    rng = np.random.default_rng(seed)
    steps = rng.integers(-6, 7, count)
    wicks_up = rng.integers(0, 4, count)
    wicks_down = rng.integers(0, 4, count)
    volumes = rng.integers(100, 10_000, count) * np.where(rng.random(count) < 0.02, 8, 1)
    price = 10_000  # $100.00 in cents
    bars = []
    for i in range(count):
        close = max(100, price + int(steps[i]))
        high = max(price, close) + int(wicks_up[i])
        low = max(1, min(price, close) - int(wicks_down[i]))
        bars.append(
            Bar(
                symbol,
                i * MINUTE_NS,
                price * CENT,
                high * CENT,
                low * CENT,
                close * CENT,
                int(volumes[i]),
            )
        )
        price = close
    return bars
