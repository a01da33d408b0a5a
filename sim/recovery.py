"""Crash recovery in the simulator: the gateway's rule, newest snapshot + tail.

A simulated crash (``FaultRates.crash``) drops the engine and builds a fresh
one the way the gateway restarts: restore the newest snapshot
(``Engine.snapshot``, taken every ``every_inputs`` inputs and at the first
input after each session close, as the gateway does) and replay only the
journal lines after it. Snapshots are kept in memory (the newest only) and
never written to the journal, so a run's journal and its hash are the same
as with full-journal recovery.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from core.engine import Engine

EVERY_INPUTS = 5_000
"""Inputs between snapshots: a crash replays at most this many (plus those
since the last close), while a snapshot costs far less than replaying them."""


class CrashSnapshots:
    """The newest engine snapshot of a run and the journal line it covers."""

    def __init__(self, session_closes: Iterable[int], every_inputs: int = EVERY_INPUTS) -> None:
        self._closes = sorted(session_closes)
        self._every = every_inputs
        self._inputs = 0
        self._since = 0
        self._session = -1  # index of the last close passed, when the last snapshot was taken
        self.line = 0
        self.at_ns = 0
        self.data: bytes | None = None
        self.taken = 0

    def after_input(self, journal_lines: int, at_ns: int, engine: Engine) -> None:
        """Called after each input is handled and journaled."""
        self._inputs += 1
        self._since += 1
        passed = bisect_right(self._closes, at_ns) - 1
        if self._since < self._every and passed <= self._session:
            return
        self._session = passed
        self._since = 0
        self.data = engine.snapshot()
        self.line = journal_lines
        self.at_ns = at_ns
        self.taken += 1
