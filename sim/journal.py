"""The run journal: every event in and command out, canonically serialised.

Canonical means one byte sequence per value, whatever the process: keys
sorted, no whitespace, ASCII only, enums by value, floats by ``repr`` (the
shortest round-trip form, identical on every IEEE-754 machine). The run hash
is the SHA-256 of the journal's bytes, so two runs agree on the hash exactly
when they agree on every line.

The journal is also the crash-recovery log: ``decode_event`` turns an "in"
line back into the event the engine saw, so a fresh engine fed the same
lines reaches the same state.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import IO

from core.events import Bar
from core.journal_codec import event_from_fields


def canonical(value: object) -> object:
    """A JSON-ready form of events, commands and their field values."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__name__, **data}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple
        data = {name: canonical(getattr(value, name)) for name in value._fields}
        return {"type": type(value).__name__, **data}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    raise TypeError(f"cannot journal a {type(value).__name__}: {value!r}")


def dumps(entry: dict[str, object]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


class Journal:
    """Appends lines, hashes them, and keeps them for recovery."""

    def __init__(self, path: Path | None = None, keep: bool = True) -> None:
        self._keep = keep  # recovery needs the lines; long runs without crashes do not
        self._hasher = hashlib.sha256()
        self._lines: list[str] = []
        self._file: IO[str] | None = (
            path.open("w", encoding="ascii", newline="\n") if path else None
        )
        self._count = 0

    def write(self, direction: str, at_ns: int, item: object) -> None:
        if type(item) is Bar:
            line = _bar_line(self._count, at_ns, direction, item)
        else:
            line = dumps({"n": self._count, "at": at_ns, "dir": direction, "item": canonical(item)})
        self._count += 1
        data = line + "\n"
        self._hasher.update(data.encode("ascii"))
        if self._keep:
            self._lines.append(line)
        if self._file is not None:
            self._file.write(data)

    @property
    def lines(self) -> int:
        return self._count

    @property
    def run_hash(self) -> str:
        return self._hasher.hexdigest()

    def inputs_with_times(self, after_line: int = 0) -> Iterator[tuple[int, object]]:
        """Every event the engine was given (after the first ``after_line``
        lines: a snapshot's tail), with when, decoded from the log."""
        if not self._keep:
            raise RuntimeError("this journal was opened without keeping its lines")
        for line in self._lines[after_line:]:
            entry = json.loads(line)
            if entry["dir"] == "in":
                yield entry["at"], decode_event(entry["item"])

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None


_SYMBOL_JSON: dict[str, str] = {}


def _bar_line(count: int, at_ns: int, direction: str, bar: Bar) -> str:
    """``dumps`` of a bar entry, byte for byte, without the generic walk.

    Bars are most of every journal; a test holds this to the generic form.
    """
    symbol = _SYMBOL_JSON.get(bar.symbol)
    if symbol is None:
        symbol = _SYMBOL_JSON[bar.symbol] = json.dumps(bar.symbol, ensure_ascii=True)
    trades = "null" if bar.trades is None else str(bar.trades)
    vwap = "null" if bar.vwap is None else str(bar.vwap)
    return (
        f'{{"at":{at_ns},"dir":{json.dumps(direction)},"item":{{"close":{bar.close},'
        f'"high":{bar.high},"low":{bar.low},"open":{bar.open},"symbol":{symbol},'
        f'"time_ns":{bar.time_ns},"trades":{trades},"type":"Bar","volume":{bar.volume},'
        f'"vwap":{vwap}}},"n":{count}}}'
    )


def decode_event(data: dict[str, object]) -> object:
    """Inverse of ``canonical`` for the event types the engine consumes
    (the core's one event codec, ``core/journal_codec.py``)."""
    fields = {k: v for k, v in data.items() if k != "type"}
    return event_from_fields(str(data["type"]), fields)
