"""The discrete-event queue behind every simulation.

Ties are broken by (time, rank, insertion order): the rank says which kind
of happening comes first at the same instant (venue reports before the bar
that reveals the same minute, timers last), and insertion order makes the
rest deterministic without ever comparing payloads.
"""

from __future__ import annotations

import heapq
from enum import IntEnum


class Rank(IntEnum):
    TO_VENUE = 0  # a command reaching a venue
    REPORT = 1  # a fill or order update reaching the engine
    MARKET = 2  # the market prints a bar: venues match against it
    BAR = 3  # the engine receives that bar
    TIMER = 4  # a wake-up the engine asked for


class EventQueue:
    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, int, object]] = []
        self._seq = 0

    def push(self, time_ns: int, rank: Rank, item: object) -> None:
        heapq.heappush(self._heap, (time_ns, int(rank), self._seq, item))
        self._seq += 1

    def pop(self) -> tuple[int, Rank, object]:
        time_ns, rank, _, item = heapq.heappop(self._heap)
        return time_ns, Rank(rank), item

    def __len__(self) -> int:
        return len(self._heap)

    def peek_time(self) -> int | None:
        return self._heap[0][0] if self._heap else None
