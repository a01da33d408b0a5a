"""The trade database's connection and its one durability policy.

Every SQLite table of the gateway's process except the FIX session store's
lives in this one file, behind this one connection (``Storage`` adds the
tables' queries). The policy, for all of them:

* **WAL, ``synchronous=NORMAL``** for every transaction by default: a crash
  of the process (kill -9, an exception) loses nothing committed; a power cut
  may lose the last commits of what the journal can rebuild or what the
  broker will tell again (order states, records, processed marks: a mark
  that falls back only makes the session re-read reports, dropped by ExecID).
* **``synchronous=FULL`` (fsync at commit)** for the transactions whose loss
  after a power cut would be wrong, not merely late: an execution or a cash
  flow with its journal row (before the engine sees it), an operator
  command, a first-start value (``meta_default``: the seed, the id prefix),
  and a route (written before its order is sent: a cancel must find the
  broker that holds the order).
* Explicit transactions (``BEGIN IMMEDIATE``); a nested ``transaction()``
  joins the outer one, so a group of writes is all or nothing.
* The file and its ``-wal``/``-shm`` are owner-only, made so before SQLite
  opens it. Single-threaded: the runtime calls it from its event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from fix.store import create_owner_only
from gateway.storage.schema import MIGRATIONS

TABLES = (
    "inputs",
    "orders",
    "executions",
    "trades",
    "signals",
    "tca",
    "alerts",
    "records",
    "requests",
    "cash_flows",
    "routes",
    "processed_marks",
)
"""The tables ``count`` may be asked about (a name never reaches SQL unchecked)."""


class Database:
    """The connection, the schema's migrations, transactions and ``meta``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # owner-only before SQLite opens it: its -wal and -shm take this mode
        create_owner_only(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None)  # explicit transactions
        self._depth = 0
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    # ---------------------------------------------------------- schema
    def schema_version(self) -> int:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def migrate(self) -> int:
        """Apply every missing migration, each in its own transaction."""
        current = self.schema_version()
        for version in range(current + 1, len(MIGRATIONS) + 1):
            with self._tx():
                MIGRATIONS[version - 1](self.db)
                self.db.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
        return self.schema_version()

    def journal_mode(self) -> str:
        return str(self.db.execute("PRAGMA journal_mode").fetchone()[0])

    @contextmanager
    def _tx(self, durable: bool = False) -> Iterator[None]:
        """One transaction; nested uses join the outer one (all or nothing)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        if durable:
            self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        else:
            self._depth = 0
            self.db.execute("COMMIT")
        finally:
            self._depth = 0
            if durable:
                self.db.execute("PRAGMA synchronous=NORMAL")

    transaction = _tx

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ meta
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def meta_default(self, key: str, make: Callable[[], str]) -> str:
        """The stored value, or ``make()`` stored now (first start)."""
        value = self.meta(key)
        if value is None:
            value = make()
            with self._tx(durable=True):
                self.db.execute(
                    "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (key, value)
                )
            value = self.meta(key) or value
        return value

    def set_meta(self, key: str, value: str) -> None:
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"unknown table {table}")
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
