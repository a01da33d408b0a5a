"""One seeded random stream per simulator component.

Streams are derived from the run's seed and the component's *name* (not from
the order in which components ask), so adding a component, or a symbol, does
not shift the numbers any other component draws.
"""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, *path: str) -> np.random.Generator:
    """The generator for ``path`` (e.g. ``("market", "AAPL")``) under ``seed``."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    key = tuple(zlib.crc32(part.encode("utf-8")) for part in path)
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))
