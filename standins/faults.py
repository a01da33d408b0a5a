"""Fault switches: 429s, dropped stream connections, a stream that goes silent.

Set at start from the command line and at run time through ``POST /_control``,
so a test can let a session settle and then break it at a chosen moment. Pure
bookkeeping: the server asks "should this request get a 429?" and "is the
stream silent at this monotonic time?"; a seeded generator makes rate-based
429s repeatable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


class BadControl(ValueError):
    """A control request the stand-in cannot follow; the text says why."""


@dataclass
class Faults:
    seed: int = 0
    rate_429: float = 0.0  # fraction of REST requests answered 429
    count_429: int = 0  # the next N REST requests are answered 429
    drop_after: int | None = None  # close each stream connection after N data frames
    silence_until: float = 0.0  # monotonic time the streams stay mute until
    silence_after_bars: int | None = None  # go silent once this many live minutes published
    silence_seconds: float = 0.0
    counters: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def count(self, name: str, by: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + by

    def take_429(self) -> bool:
        """Whether this request is answered 429 (and counts it)."""
        if self.count_429 > 0:
            self.count_429 -= 1
            self.count("429")
            return True
        if self.rate_429 and self._rng.random() < self.rate_429:
            self.count("429")
            return True
        return False

    def silent(self, monotonic: float) -> bool:
        return monotonic < self.silence_until

    def minute_published(self, minutes: int, monotonic: float) -> None:
        """Start the ``--silence-after`` silence once that many live minutes went out."""
        if self.silence_after_bars is not None and minutes >= self.silence_after_bars:
            self.silence_until = monotonic + self.silence_seconds
            self.silence_after_bars = None
            self.count("silences")

    def control(self, body: object, monotonic: float) -> str | None:
        """Apply one ``POST /_control`` body; returns ``"drop_streams"`` when the caller must."""
        if not isinstance(body, dict):
            raise BadControl("body must be a JSON object with a 'fault' field")
        fault = body.get("fault")
        if fault == "429":
            count, rate = body.get("count"), body.get("rate")
            if count is None and rate is None:
                raise BadControl("fault 429 needs 'count' (next N requests) or 'rate' (0..1)")
            if count is not None:
                if type(count) is not int or count < 0:
                    raise BadControl(f"count {count!r} must be a non-negative integer")
                self.count_429 = count
            if rate is not None:
                if not isinstance(rate, int | float) or not 0 <= rate <= 1:
                    raise BadControl(f"rate {rate!r} must be a number in [0, 1]")
                self.rate_429 = float(rate)
            return None
        if fault == "drop_streams":
            self.count("drops")
            return "drop_streams"
        if fault == "drop_after":
            frames = body.get("frames")
            if frames is not None and (type(frames) is not int or frames < 1):
                raise BadControl(f"frames {frames!r} must be a positive integer or null")
            self.drop_after = frames
            return None
        if fault == "silence":
            seconds = body.get("seconds")
            if not isinstance(seconds, int | float) or not 0 <= seconds <= 86_400:
                raise BadControl(f"seconds {seconds!r} must be a number in [0, 86400]")
            self.silence_until = monotonic + float(seconds)
            self.count("silences")
            return None
        if fault == "clear":
            self.rate_429, self.count_429, self.drop_after = 0.0, 0, None
            self.silence_until, self.silence_after_bars = 0.0, None
            return None
        raise BadControl(
            f"unknown fault {fault!r}: use 429, drop_streams, drop_after, silence or clear"
        )

    def state(self, monotonic: float) -> dict[str, Any]:
        return {
            "rate_429": self.rate_429,
            "pending_429": self.count_429,
            "drop_after": self.drop_after,
            "silent_for": max(0.0, self.silence_until - monotonic),
            "counters": dict(self.counters),
        }
