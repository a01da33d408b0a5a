"""The travel profile and support/resistance (SPEC §4.2–§4.3), reference twin.

This is the readable definition; ``core/_sr.pyx`` is the compiled twin the
agent uses, and property tests hold the two to identical answers.

Everything here is in *ticks*: a bar that travelled the open price interval
``(low, high)`` is stored as the tick interval ``(floor(low/tick),
ceil(high/tick))``. Buckets are tick-aligned, so this rounding changes no
bucket's count at any granularity, which is what makes the profile lossless:
the counts of any bucket at any granularity can be recomputed exactly from
two sorted multisets (the lows and the highs), whatever ``g`` was when the
bar arrived.

A bar covers bucket ``k`` (width ``g``) iff ``L < (k+1)g`` and ``H > kg``.
The two ways to miss it (``L ≥ (k+1)g`` and ``H ≤ kg``) are disjoint because
``L < H``, so ``count(k) = N − #{L ≥ (k+1)g} − #{H ≤ kg}``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np
from sortedcontainers import SortedList


class PyTravelProfile:
    """All travel ever seen by one symbol, queryable at any granularity."""

    def __init__(self) -> None:
        self._lows: SortedList[int] = SortedList()
        self._highs: SortedList[int] = SortedList()
        self._domain_low: int | None = None  # floor(all-time low / tick)
        self._domain_high: int | None = None  # floor(all-time high / tick)

    @property
    def travelled(self) -> int:
        return len(self._lows)

    @property
    def domain_ticks(self) -> tuple[int, int] | None:
        if self._domain_low is None or self._domain_high is None:
            return None
        return self._domain_low, self._domain_high

    def export_state(self) -> tuple[bytes, bytes, tuple[int, int] | None]:
        """The lossless profile for a snapshot (``core.snapshot``): the sorted
        travel lows and highs as native int64 bytes, and the domain. Pairing
        lows with highs is not needed: every count is ``#lows`` and ``#highs``
        on either side of a bucket, so the two multisets are the whole state."""
        n = len(self._lows)
        lows = np.fromiter(self._lows, dtype=np.int64, count=n)
        highs = np.fromiter(self._highs, dtype=np.int64, count=n)
        return lows.tobytes(), highs.tobytes(), self.domain_ticks

    def restore_state(self, lows: bytes, highs: bytes, domain: tuple[int, int] | None) -> None:
        """Become the profile ``export_state`` described (of either twin)."""
        low_values = np.frombuffer(lows, dtype=np.int64)
        high_values = np.frombuffer(highs, dtype=np.int64)
        if low_values.size != high_values.size:
            raise ValueError(f"{low_values.size} travel lows but {high_values.size} highs")
        self._lows = SortedList(low_values.tolist())
        self._highs = SortedList(high_values.tolist())
        self._domain_low, self._domain_high = domain if domain is not None else (None, None)

    def add_bar(self, low_tick: int, high_tick: int, travel_low: int, travel_high: int) -> None:
        """Absorb one bar.

        ``low_tick``/``high_tick`` are floor(low/tick) and floor(high/tick),
        which extend the domain; ``travel_low``/``travel_high`` are
        floor(low/tick) and ceil(high/tick), recorded only when the bar moved.
        """
        if self._domain_low is None or low_tick < self._domain_low:
            self._domain_low = low_tick
        if self._domain_high is None or high_tick > self._domain_high:
            self._domain_high = high_tick
        if travel_low < travel_high:
            self._lows.add(travel_low)
            self._highs.add(travel_high)

    def count(self, bucket: int, g: int) -> int:
        """How many bars travelled any part of bucket ``[bucket·g, (bucket+1)·g)``."""
        lows_above = len(self._lows) - bisect_left(self._lows, (bucket + 1) * g)
        highs_below = bisect_right(self._highs, bucket * g)
        return len(self._lows) - lows_above - highs_below

    def score(self, bucket: int, g: int) -> int:
        return -self.count(bucket, g)

    def levels(self, price_tick: int, g: int) -> tuple[int | None, int | None]:
        """(support bucket, resistance bucket) around ``price_tick`` at granularity ``g``.

        Highest score wins; ties go to the bucket nearest the price. None where
        the domain has no bucket on that side.
        """
        if self._domain_low is None or self._domain_high is None:
            return None, None
        here = price_tick // g
        lowest, highest = self._domain_low // g, self._domain_high // g
        support = None
        best = None
        for bucket in range(min(here - 1, highest), lowest - 1, -1):  # nearest first
            score = self.score(bucket, g)
            if best is None or score > best:
                support, best = bucket, score
        resistance = None
        best = None
        for bucket in range(max(here + 1, lowest), highest + 1):
            score = self.score(bucket, g)
            if best is None or score > best:
                resistance, best = bucket, score
        return support, resistance
