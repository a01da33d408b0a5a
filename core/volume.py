"""All-history volume percentile and the 2σ spike (SPEC §4.4), reference twin.

``core/_volume.pyx`` is the compiled twin. Nothing is windowed: every volume
the symbol ever printed counts, which is what "capitulation measured against
all of the symbol's history" means.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from sortedcontainers import SortedList


def is_spike(n: int, total: int, total_sq: int, volume: int) -> bool:
    """``volume > mean + 2σ`` (population σ over n volumes), exactly on integers.

    With ``S = Σv`` and ``Q = Σv²``: ``v > S/n + 2·sqrt(nQ − S²)/n`` ⇔
    ``n·v − S > 0`` and ``(n·v − S)² > 4·(n·Q − S²)``. The 2 is the SPEC's 2σ
    tail rule. Undefined (False) below two observations.
    """
    if n < 2:
        return False
    excess = n * volume - total
    return excess > 0 and excess * excess > 4 * (n * total_sq - total * total)


class PyVolumeTracker:
    """Every volume seen so far, for exact mid-rank percentiles and spike tests."""

    def __init__(self) -> None:
        self._volumes: SortedList[int] = SortedList()
        self._sum = 0
        self._sum_sq = 0

    @property
    def count(self) -> int:
        return len(self._volumes)

    def percentile(self, volume: int) -> float | None:
        """``(#less + ½·#equal) / n`` over the history; None with no history."""
        n = len(self._volumes)
        if n == 0:
            return None
        less: int = self._volumes.bisect_left(volume)
        equal: int = self._volumes.bisect_right(volume) - less
        return (2 * less + equal) / (2 * n)

    def spike(self, volume: int) -> bool:
        return is_spike(len(self._volumes), self._sum, self._sum_sq, volume)

    def export_state(self) -> bytes:
        """Every volume seen, sorted, as native int64 bytes (``core.snapshot``);
        the sums are derived from them on restore."""
        return np.fromiter(self._volumes, dtype=np.int64, count=len(self._volumes)).tobytes()

    def restore_state(self, volumes: bytes) -> None:
        """Become the tracker ``export_state`` described (of either twin)."""
        values = np.frombuffer(volumes, dtype=np.int64).tolist()
        if values and values[0] < 0:
            raise ValueError(f"volume must be >= 0, got {values[0]}")
        if any(b < a for a, b in pairwise(values)):
            raise ValueError("volumes to restore are not sorted")
        self._volumes = SortedList(values)
        self._sum = sum(values)
        self._sum_sq = sum(v * v for v in values)

    def add(self, volume: int) -> None:
        self._volumes.add(volume)
        self._sum += volume
        self._sum_sq += volume * volume
