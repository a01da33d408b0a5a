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
        super().__init__(f"{field}={_describe(value)}: {reason}")


def _describe(value: object) -> str:
    """repr() of the value, shortened: bad input can be arbitrarily large
    (and repr of a huge int raises), but the message must always form."""
    try:
        text = repr(value)
    except ValueError:
        return f"<{type(value).__name__} too large to print>"
    return text if len(text) <= 80 else text[:77] + "..."
