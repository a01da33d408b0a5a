"""Credentials that cannot leak by accident.

A ``Secret`` prints as ``***`` (``repr``, ``str``, f-strings, tracebacks), so
passing one to a log call or an exception message shows nothing. The raw value
is only available through ``reveal()``, which the broker and Telegram clients
call at the moment they build a request. ``SecretMaskingFilter`` is the second
line of defence: it masks every known secret value in every log record,
whatever route the value took (a library logging a URL with the bot token in
it, an error body echoing a key).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

MASK = "***"


class Secret:
    """A credential string; shows as ``***`` everywhere except ``reveal()``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled (it would be written out in clear)")


class SecretMaskingFilter(logging.Filter):
    """Replaces every registered secret value in a record's rendered message.

    Installed on handlers (not loggers) so records from third-party loggers
    (alpaca, aiohttp, websockets) are masked too. The record's args are
    rendered first, then cleared, so no formatter can re-insert the raw value.
    """

    def __init__(self, secrets: Iterable[Secret] = ()) -> None:
        super().__init__()
        self._values: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Secret) -> None:
        value = secret.reveal()
        # Very short values would mask ordinary words; credentials are long.
        if len(value) >= 4 and value not in self._values:
            self._values.append(value)
            self._values.sort(key=len, reverse=True)  # longest first: no partial masks

    def mask(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must still be logged, masked
            message = f"{record.msg!s} {record.args!s}"
        record.msg = self.mask(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, masked, so the formatter uses our text.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.mask(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        for name, value in list(record.__dict__.items()):
            if name.startswith("sv_") and isinstance(value, str):
                setattr(record, name, self.mask(value))
        return True
