"""Messages ``ib_async`` itself cannot decode, turned into our bad input.

``ib_async``'s decoder logs (and drops) a message it cannot decode; a log
handler cannot tell whose connection it was. ``watch_decoder`` wraps a
connection's decoder so that, while it interprets one message, such a log
record is charged to that connection's ``on_undecodable`` callback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

_decoding: list[DecodeWatch] = []


class DecodeWatch:
    """One connection's decoder under watch: what failed during the current message."""

    def __init__(self, on_undecodable: Callable[[list[str]], None]) -> None:
        self.error: str | None = None
        self._on_undecodable = on_undecodable

    def hook(self, decoder: Any) -> None:
        """Wrap ``decoder.interpret`` (once per decoder)."""
        if getattr(decoder, "_sovereign_hooked", False):
            return
        original = decoder.interpret

        def interpret(fields: list[str]) -> None:
            _decoding.append(self)
            self.error = None
            try:
                original(fields)
            finally:
                _decoding.pop()
            if self.error is not None:
                self._on_undecodable(fields)

        decoder.interpret = interpret
        decoder._sovereign_hooked = True


class _DecodeFailures(logging.Handler):
    """While one of our connections is decoding, an error record is its bad input."""

    def emit(self, record: logging.LogRecord) -> None:
        if _decoding and record.levelno >= logging.ERROR:
            _decoding[-1].error = record.getMessage()


_DECODE_HANDLER = _DecodeFailures()
logging.getLogger("ib_async.Decoder").addHandler(_DECODE_HANDLER)
