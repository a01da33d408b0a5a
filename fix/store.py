"""Sequence numbers and sent messages, kept so a restart resumes the session.

FIX recovery needs two facts to survive a crash: the next sequence numbers in
each direction and every message we sent (a ResendRequest may ask for any of
them). ``SqliteStore`` writes both through to a SQLite file and keeps only
the two numbers in memory, so a session of millions of messages costs disk,
not RAM; ``MemoryStore`` is the same contract without a disk, for tests only
(it holds every sent message until the next reset).

Retention (docs/fix.md): a counterparty may ask for any message of the
current sequence epoch — from MsgSeqNum 1 after the last reset up to the
last one sent — so that is what the store keeps, on disk; a reset
(ResetSeqNumFlag, ``reset_on_logon``) deletes the epoch's messages. Nothing
older than the epoch can ever be asked for (sequence numbers restart).

Both stores redact credentials (Password 554, NewPassword 925, RawData 96)
before keeping a message (``fix.redact``), and ``SqliteStore`` creates its
file (and so SQLite's ``-wal``/``-shm`` files, which take the database's
mode) owner-only whatever the umask.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Protocol

from fix.redact import redact

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


class MessageStore(Protocol):
    next_sender_seq: int
    next_target_seq: int

    def set_next_sender_seq(self, seq: int) -> None: ...

    def set_next_target_seq(self, seq: int) -> None: ...

    def save_sent(self, seq: int, raw: bytes) -> None: ...

    def sent_range(self, begin: int, end: int) -> list[tuple[int, bytes]]: ...

    def reset(self) -> None: ...


class MemoryStore:
    """In-memory store (lost on restart)."""

    def __init__(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._sent: dict[int, bytes] = {}

    def set_next_sender_seq(self, seq: int) -> None:
        self.next_sender_seq = seq

    def set_next_target_seq(self, seq: int) -> None:
        self.next_target_seq = seq

    def save_sent(self, seq: int, raw: bytes) -> None:
        self._sent[seq] = redact(raw)

    def sent_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        sent = self._sent
        if end - begin + 1 > len(sent):
            return [(s, sent[s]) for s in sorted(sent) if begin <= s <= end]
        return [(s, sent[s]) for s in range(begin, end + 1) if s in sent]

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._sent.clear()


class SqliteStore:
    """Durable store: one SQLite database, many sessions keyed by ``session_key``.

    WAL journaling with ``synchronous=NORMAL`` keeps a commit per message cheap
    while surviving a process crash (not a power cut — documented trade-off).

    ``durable=False`` is for a scratch file no restart will read (acceptors
    without ``--store``): writes are committed a thousand at a time with
    ``synchronous=OFF`` (about 5 µs a message instead of 30), the messages
    still on disk rather than in memory. Its connection holds the write lock
    between commits, so a scratch file serves one session alone.
    """

    COMMIT_EVERY = 1_000  # writes per transaction when not durable

    def __init__(self, path: str | Path, session_key: str, *, durable: bool = True) -> None:
        if str(path) != ":memory:":
            create_owner_only(Path(path))
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
        self._durable = durable
        self._writes = 0
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS fix_session (key TEXT PRIMARY KEY,"
            " next_sender INTEGER NOT NULL, next_target INTEGER NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS fix_sent (key TEXT NOT NULL, seq INTEGER NOT NULL,"
            " raw BLOB NOT NULL, PRIMARY KEY (key, seq))"
        )
        self._key = session_key
        row = self._db.execute(
            "SELECT next_sender, next_target FROM fix_session WHERE key = ?", (session_key,)
        ).fetchone()
        if row is None:
            self._db.execute("INSERT INTO fix_session VALUES (?, 1, 1)", (session_key,))
            row = (1, 1)
        self.next_sender_seq, self.next_target_seq = int(row[0]), int(row[1])
        if not durable:
            self._db.execute("BEGIN")

    def _write(self, sql: str, args: tuple[object, ...]) -> None:
        self._db.execute(sql, args)
        if not self._durable:
            self._writes += 1
            if self._writes >= self.COMMIT_EVERY:
                self._writes = 0
                self._db.execute("COMMIT")
                self._db.execute("BEGIN")

    def set_next_sender_seq(self, seq: int) -> None:
        self.next_sender_seq = seq
        self._write("UPDATE fix_session SET next_sender = ? WHERE key = ?", (seq, self._key))

    def set_next_target_seq(self, seq: int) -> None:
        self.next_target_seq = seq
        self._write("UPDATE fix_session SET next_target = ? WHERE key = ?", (seq, self._key))

    def save_sent(self, seq: int, raw: bytes) -> None:
        self._write(
            "INSERT OR REPLACE INTO fix_sent VALUES (?, ?, ?)", (self._key, seq, redact(raw))
        )

    def sent_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        rows = self._db.execute(
            "SELECT seq, raw FROM fix_sent WHERE key = ? AND seq BETWEEN ? AND ? ORDER BY seq",
            (self._key, begin, end),
        ).fetchall()
        return [(int(s), bytes(r)) for s, r in rows]

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        if self._durable:
            self._db.execute("BEGIN")
        self._db.execute("DELETE FROM fix_sent WHERE key = ?", (self._key,))
        self._db.execute(
            "UPDATE fix_session SET next_sender = 1, next_target = 1 WHERE key = ?", (self._key,)
        )
        self._db.execute("COMMIT")
        if not self._durable:
            self._db.execute("BEGIN")

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()


def create_owner_only(path: Path) -> None:
    """Create ``path`` (and a missing folder) owner-only before SQLite opens it.

    SQLite creates ``-wal``, ``-shm`` and ``-journal`` files with the mode of
    the database file, so a database made 0600 first keeps every companion
    0600 whatever the umask; existing ones are tightened too.
    """
    missing = []
    folder = path.parent
    while not folder.exists() and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    for name in ("", *SQLITE_COMPANIONS):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{name}", 0o600)


def scratch_store_path(prefix: str = "fix-store-") -> Path:
    """A store file in a fresh owner-only temporary folder, removed at exit.

    For acceptors that need no restart (the acceptance acceptor, the
    stand-in's prime broker): the sent messages still live on disk, not in
    the process's memory.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))  # mkdtemp: mode 0700
    atexit.register(shutil.rmtree, folder, True)
    return folder / "store.sqlite"
