"""Engine snapshots on disk, and the restart rule: newest valid snapshot + tail.

Replaying the whole journal at every start made restart time grow with the
history (≈ 10,000 inputs/s: a year of 30 symbols' minute bars ≈ 5 minutes).
The input pipeline now writes a snapshot every ``[snapshots] every_inputs``
inputs, at the first input after each session close and at a clean stop;
each records the journal sequence number it covers. A start restores the
newest snapshot that reads back whole and replays only the inputs after it.

Files: ``<database>.snapshot-<seq, 12 digits>`` beside the database, 0600 in
the database's 0700 folder (``gateway.files``), written atomically — a
temporary file, fsync, rename, fsync of the folder — so a crash mid-write
leaves the previous snapshot and a ``.tmp`` that is removed at the next write.
The newest ``keep`` are kept.

Content: the core's codec (``core.snapshot_codec``: magic, version, SHA-256)
around the engine's own snapshot bytes plus the few live-state facts the
replay used to rebuild (pending timers, each symbol's last bar, which bar
each order was decided on).

Fallback: a snapshot that is truncated, corrupt, of another version or
universe, or covers inputs the journal does not have (a database restored
from an older backup) is skipped with a warning naming it and the reason; the
previous one is tried, and with none left the whole journal is replayed
("no usable snapshot").
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.engine import Engine
from core.snapshot_codec import SnapshotError, decode, encode
from gateway import journal
from gateway.files import private_dir
from gateway.journal import Event
from gateway.state import LiveState

log = logging.getLogger("gateway.snapshots")

KIND = "sovereign.gateway"
_SUFFIX = ".snapshot-"


@dataclass(frozen=True)
class Restored:
    """What ``restore_newest`` used: the sequence covered (0: none) and the file."""

    seq: int
    path: Path | None
    skipped: tuple[str, ...] = ()


class SnapshotFiles:
    """The snapshot files of one database: list, write atomically, prune."""

    def __init__(self, database: Path, keep: int = 3) -> None:
        self.folder = Path(database).parent
        self.prefix = f"{Path(database).name}{_SUFFIX}"
        self.keep = keep

    def path_for(self, seq: int) -> Path:
        return self.folder / f"{self.prefix}{seq:012d}"

    def existing(self) -> list[tuple[int, Path]]:
        """(seq, path) of every snapshot file, newest (highest seq) first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            name = path.name
            if not name.startswith(self.prefix):
                continue
            digits = name[len(self.prefix) :]
            if digits.isdigit():
                found.append((int(digits), path))
        return sorted(found, reverse=True)

    def write(self, seq: int, data: bytes) -> Path:
        """``data`` as the snapshot of ``seq``: temp file, fsync, rename, fsync folder."""
        private_dir(self.folder)
        final = self.path_for(seq)
        temp = final.with_name(final.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
        self._prune()
        return final

    def _prune(self) -> None:
        for _, path in self.existing()[self.keep :]:
            path.unlink(missing_ok=True)
        for path in self.folder.glob(f"{self.prefix}*.tmp"):  # a write a crash interrupted
            path.unlink(missing_ok=True)


def gateway_snapshot(seq: int, at_ns: int, engine: Engine, state: LiveState) -> bytes:
    """The bytes of one snapshot: the engine's plus the live facts replay rebuilt."""
    timers = [(due, key, count) for (due, key), count in state.timers.items()]
    return encode(
        {
            "kind": KIND,
            "seq": seq,
            "at_ns": at_ns,
            "symbols": list(state.symbols),
            "engine": engine.snapshot(),
            "timers": timers,
            "last_bar": dict(state.last_bar),
            "decided_on": dict(state.decided_on),
        }
    )


def _read(path: Path, named_seq: int, last_seq: int) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot be read ({exc.strerror or exc})") from None
    payload = decode(data)
    if not isinstance(payload, dict) or payload.get("kind") != KIND:
        raise SnapshotError("is not a gateway snapshot")
    seq = payload.get("seq")
    if type(seq) is not int or seq < 1:
        raise SnapshotError(f"records no journal position ({seq!r})")
    if seq != named_seq:
        raise SnapshotError(f"covers inputs up to {seq}, but its name says {named_seq}")
    if seq > last_seq:
        raise SnapshotError(
            f"covers inputs up to {seq}, but the journal ends at {last_seq}"
            " (a database older than the snapshot?)"
        )
    if type(payload.get("engine")) is not bytes:
        raise SnapshotError("holds no engine state")
    return payload


def restore_newest(
    files: SnapshotFiles,
    engine: Engine,
    last_seq: int,
    state: LiveState | None = None,
    max_seq: int | None = None,
) -> Restored:
    """Restore ``engine`` (and ``state``'s replay facts) from the newest usable
    snapshot at or below ``max_seq``; each skipped one is logged with why."""
    skipped: list[str] = []
    for seq, path in files.existing():
        if max_seq is not None and seq > max_seq:
            continue
        try:
            payload = _read(path, seq, last_seq)
            engine.restore(payload["engine"])
        except SnapshotError as exc:
            reason = f"snapshot {path.name} unusable: {exc}"
            skipped.append(reason)
            log.warning(
                "%s; falling back to the previous one", reason, extra={"sv_event": "snapshot_bad"}
            )
            continue
        if state is not None:
            _restore_live(state, payload)
        return Restored(int(payload["seq"]), path, tuple(skipped))
    if skipped:
        log.warning(
            "no usable snapshot: replaying the whole journal",
            extra={"sv_event": "snapshot_none"},
        )
    return Restored(0, None, tuple(skipped))


def _restore_live(state: LiveState, payload: dict[str, Any]) -> None:
    state.timers.clear()
    for due, key, count in payload["timers"]:
        state.timers[(due, key)] = count
    state.last_bar.update(payload["last_bar"])
    state.decided_on.update(payload["decided_on"])
    if state.last_bar:
        state.market.observe_floor(max(state.last_bar.values()) + 60 * 10**9)


def inputs_after(db: sqlite3.Connection, seq: int) -> Iterator[tuple[int, int, Event]]:
    """(seq, at_ns, event) journaled after ``seq``, in order, read in batches
    (a year's journal does not fit comfortably in memory as one list)."""
    cursor = db.execute(
        "SELECT seq, at_ns, kind, payload FROM inputs WHERE seq > ? ORDER BY seq", (seq,)
    )
    while True:
        rows = cursor.fetchmany(10_000)
        if not rows:
            return
        for row_seq, at_ns, kind, payload in rows:
            yield int(row_seq), int(at_ns), journal.decode(kind, payload)


class SnapshotPolicy:
    """When the pipeline writes one: every N inputs and after each session close."""

    def __init__(self, files: SnapshotFiles, every_inputs: int) -> None:
        self.files = files
        self.every_inputs = every_inputs
        self.last_seq = 0
        self._next_close: int | None = None
        self._close_looked_up = False
        self.written = 0

    def due(self, seq: int, at_ns: int, state: LiveState) -> str | None:
        """Why a snapshot is due after input ``seq`` (None: not yet)."""
        if seq - self.last_seq >= self.every_inputs:
            return "every_inputs"
        if not self._close_looked_up:
            self._close_looked_up = True
            self._next_close = state.calendar.next_close(at_ns)
            return None
        close = self._next_close
        if close is not None and at_ns >= close:
            self._next_close = state.calendar.next_close(at_ns)
            return "session_close" if seq > self.last_seq else None
        return None

    def write(self, seq: int, at_ns: int, engine: Engine, state: LiveState, why: str) -> None:
        """Write one now; a failure (disk full) is logged and trading goes on."""
        try:
            path = self.files.write(seq, gateway_snapshot(seq, at_ns, engine, state))
        except (OSError, SnapshotError) as exc:
            log.error("snapshot of input %d not written: %s", seq, exc)
            return
        self.last_seq = seq
        self.written += 1
        log.info(
            "snapshot %s written (%s, inputs 1..%d)",
            path.name,
            why,
            seq,
            extra={"sv_event": "snapshot_written", "sv_inputs": str(seq)},
        )
