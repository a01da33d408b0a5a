"""Typed reads of untyped cells: SQLite rows, CSV/JSON records and summaries
come back as ``object``, and ``int(object)`` does not type-check (nor should
it: ``None`` or a list must fail loudly, naming what was there). Both shells
use these, so they live in the core beside the money types."""

from __future__ import annotations

from typing import SupportsFloat, SupportsInt


def as_int(value: object) -> int:
    """``int(value)`` for what a cell can hold: int, numeric text, Decimal, numpy."""
    if isinstance(value, str | SupportsInt):
        return int(value)
    raise TypeError(f"{value!r} is not a number")


def as_float(value: object) -> float:
    """``float(value)`` for what a cell can hold: float, int, text, Decimal, numpy."""
    if isinstance(value, str | SupportsFloat):
        return float(value)
    raise TypeError(f"{value!r} is not a number")
