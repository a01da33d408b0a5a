"""Sequence numbers and sent messages, kept so a restart resumes the session.

FIX recovery needs two facts to survive a crash: the next sequence numbers in
each direction and every message we sent (a ResendRequest may ask for any of
them). ``SqliteStore`` writes both through to a SQLite file; ``MemoryStore``
is the same contract without a disk, for tests and throw-away sessions.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Protocol


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
        self._sent[seq] = raw

    def sent_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        return [(s, self._sent[s]) for s in sorted(self._sent) if begin <= s <= end]

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._sent.clear()


class SqliteStore:
    """Durable store: one SQLite database, many sessions keyed by ``session_key``.

    WAL journaling with ``synchronous=NORMAL`` keeps a commit per message cheap
    while surviving a process crash (not a power cut — documented trade-off).
    """

    def __init__(self, path: str | Path, session_key: str) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
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

    def set_next_sender_seq(self, seq: int) -> None:
        self.next_sender_seq = seq
        self._db.execute("UPDATE fix_session SET next_sender = ? WHERE key = ?", (seq, self._key))

    def set_next_target_seq(self, seq: int) -> None:
        self.next_target_seq = seq
        self._db.execute("UPDATE fix_session SET next_target = ? WHERE key = ?", (seq, self._key))

    def save_sent(self, seq: int, raw: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO fix_sent VALUES (?, ?, ?)", (self._key, seq, raw))

    def sent_range(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        rows = self._db.execute(
            "SELECT seq, raw FROM fix_sent WHERE key = ? AND seq BETWEEN ? AND ? ORDER BY seq",
            (self._key, begin, end),
        ).fetchall()
        return [(int(s), bytes(r)) for s, r in rows]

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self._db.execute("BEGIN")
        self._db.execute("DELETE FROM fix_sent WHERE key = ?", (self._key,))
        self._db.execute(
            "UPDATE fix_session SET next_sender = 1, next_target = 1 WHERE key = ?", (self._key,)
        )
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
