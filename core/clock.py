"""Time is injected: the core never asks the machine what time it is.

The simulator drives a ``ManualClock``; the gateway supplies a live clock from
its own shell. Both satisfy ``Clock``, so the core cannot tell them apart.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Current time in integer nanoseconds since the Unix epoch, UTC."""
        ...


class ManualClock:
    """A clock that moves only when told to, and never backwards."""

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, when_ns: int) -> None:
        if when_ns < self._now:
            raise ValueError(f"clock cannot move backwards: {when_ns} < {self._now}")
        self._now = when_ns

    def advance_by(self, delta_ns: int) -> None:
        if delta_ns < 0:
            raise ValueError(f"clock cannot move backwards by {delta_ns} ns")
        self._now += delta_ns
