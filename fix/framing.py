"""Byte stream -> FIX messages, using the compiled codec when it is built.

``Framer`` keeps the unconsumed bytes of one connection and yields either
messages or garbled-frame reports; nothing it is fed can make it raise.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType

from core.errors import BadInput
from fix import codec as _py

impl: ModuleType = _py
if os.environ.get("SOVEREIGN_PURE_PYTHON") != "1":
    try:  # the compiled twin; the pure-Python one is the reference
        impl = importlib.import_module("fix._codec")
    except ImportError:  # pragma: no cover - exercised when the extension is not built
        impl = _py

checksum = impl.checksum
encode = impl.encode
parse = impl.parse
COMPILED = impl is not _py

Field = tuple[int, bytes]


class FixMessage:
    """A parsed message: fields in wire order plus the raw bytes it came from."""

    __slots__ = ("_index", "fields", "raw")

    def __init__(self, fields: list[Field], raw: bytes = b"") -> None:
        self.fields = fields
        self.raw = raw
        index: dict[int, bytes] = {}
        for tag, value in fields:
            if tag not in index:
                index[tag] = value
        self._index = index

    def get(self, tag: int, default: bytes | None = None) -> bytes | None:
        """The first occurrence of ``tag`` (groups repeat tags; use ``fields`` for those)."""
        return self._index.get(tag, default)

    def __contains__(self, tag: int) -> bool:
        return tag in self._index

    def __getitem__(self, tag: int) -> bytes:
        try:
            return self._index[tag]
        except KeyError:
            raise BadInput(f"tag {tag}", None, "missing from message") from None

    @property
    def msg_type(self) -> bytes:
        return self._index.get(35, b"")

    @property
    def seq_num(self) -> int | None:
        value = self._index.get(34)
        return int(value) if value is not None and value.isdigit() else None

    def __repr__(self) -> str:
        return "FixMessage(" + "|".join(f"{t}={v.decode('latin-1')}" for t, v in self.fields) + ")"


@dataclass(frozen=True, slots=True)
class Garbled:
    """Bytes dropped because they do not form a valid message, and why."""

    data: bytes
    reason: str


class Framer:
    """Accumulates bytes; ``feed`` returns complete messages and garbled frames in order."""

    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int = 1 << 20) -> None:
        self._buf = b""
        self.max_size = max_size

    def clear(self) -> None:
        self._buf = b""

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[FixMessage | Garbled]:
        buf = self._buf + data if self._buf else bytes(data)
        out: list[FixMessage | Garbled] = []
        pos = 0
        scan = impl.scan
        while pos < len(buf):
            kind, start, end, reason = scan(buf, pos, self.max_size)
            if kind == 0:  # NEED_MORE
                pos = start
                break
            if kind == 1:  # FRAME
                raw = buf[start:end]
                try:
                    out.append(FixMessage(impl.parse(raw), raw))
                except BadInput as exc:
                    out.append(Garbled(raw, str(exc)))
            elif kind == 2:  # GARBLED
                out.append(Garbled(buf[start:end], reason))
            else:  # JUNK: bytes before any BeginString, reported so they are counted
                out.append(Garbled(buf[start:end], reason))
            pos = end
        self._buf = buf[pos:]
        return out
