"""Volumes for a finished path: the intraday U with noise, spikes reserved for events.

Ordinary bars are capped just under the spike line of SPEC §4.4 against the
history so far, so in this market a spike always means an event a regime recorded.
"""

from __future__ import annotations

import math

from sim.market.path import EVENT, ORDINARY, RECORD, PricePath

# --------------------------------------------------------------------------- volume


def _u_shape(minute: int, length: int) -> float:
    """Relative volume by time of day: an opening burst decaying over ~30 minutes,
    a quiet middle, and a build into the close (the well-known intraday U)."""
    x = (minute + 0.5) / length
    return 1.0 + 1.4 * math.exp(-x / 0.07) + 0.9 * math.exp(-(1.0 - x) / 0.05)


def _largest_ordinary(n: int, total: int, total_sq: int) -> int:
    """The largest volume that is *not* a spike against this history (SPEC §4.4).

    Not a spike ⇔ n·v − S ≤ isqrt(4·(n·Q − S²)) for integers.
    """
    return (total + math.isqrt(4 * (n * total_sq - total * total))) // n


def bar_volumes(path: PricePath, base_volume: float) -> list[int]:
    rng, layout = path.rng, path.layout
    n = total = total_sq = 0
    record = 0
    out: list[int] = []
    for k, length in enumerate(layout.lengths):
        for m in range(length):
            index = layout.starts[k] + m
            kind = path.kinds[index]
            noise = math.exp(rng.normal(0.0, 0.3))
            v = max(1, round(base_volume * _u_shape(m, length) * path.weights[index] * noise))
            ceiling = _largest_ordinary(n, total, total_sq) if n >= 2 else None
            if kind == ORDINARY:
                if ceiling is not None:
                    v = min(v, ceiling)
            elif ceiling is None:
                raise AssertionError("an event needs at least two bars of volume history")
            elif kind == EVENT:
                v = math.ceil((ceiling + 1) * rng.uniform(1.2, 1.7))
            elif kind == RECORD:
                v = math.ceil(max(record * rng.uniform(1.6, 2.2), (ceiling + 1) * 1.2))
            else:  # RETEST
                v = min(math.ceil((ceiling + 1) * rng.uniform(1.15, 1.4)), record - 1)
                if v <= ceiling:
                    raise AssertionError("the retest cannot be a spike below the record")
            out.append(v)
            n += 1
            total += v
            total_sq += v * v
            record = max(record, v)
    return out
