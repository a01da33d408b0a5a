"""The one error type for rejected input.

Every entry point (bars, CSV rows, config, FIX bytes, broker replies) reports
bad input the same way so that shells can count, log and carry on without
parsing messages: the offending field and value travel as attributes.
"""

from __future__ import annotations


class BadInput(ValueError):
    """Input rejected at a boundary; names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")
