"""How long each engine input takes in the live process, end to end inside it:
journal, ``Engine.handle``, records, dispatch and observers (the dashboard's
included), in wall nanoseconds.

The last ``capacity`` samples are kept in a ring of machine integers, so
recording costs one clock read and one store; percentiles are computed only
when asked (the status API, the log line at stop, the dashboard benchmark).
"""

from __future__ import annotations

from array import array


class LatencyRecorder:
    def __init__(self, capacity: int = 1 << 18) -> None:
        self._ring = array("q", bytes(8 * capacity))
        self._capacity = capacity
        self.count = 0

    def add(self, nanoseconds: int) -> None:
        self._ring[self.count % self._capacity] = nanoseconds
        self.count += 1

    def samples(self) -> list[int]:
        kept = min(self.count, self._capacity)
        return list(self._ring[:kept])

    def summary(self) -> dict[str, float | int]:
        """n, and p50/p90/p99/max in microseconds over the kept samples."""
        values = sorted(self.samples())
        if not values:
            return {"n": 0}

        def at(q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))] / 1000

        return {
            "n": self.count,
            "p50_us": round(at(0.50), 1),
            "p90_us": round(at(0.90), 1),
            "p99_us": round(at(0.99), 1),
            "max_us": round(values[-1] / 1000, 1),
        }
