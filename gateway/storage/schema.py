"""The trade database's schema: ordered migration functions, one per version.

A ``schema_version`` table records how far a database has come; every open
applies the missing steps (``Database.migrate``), so opening an old file
upgrades it and opening a current one changes nothing. A step is never
edited once released: a change is a new step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run statements one by one (``executescript`` would commit our transaction)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _v1(db: sqlite3.Connection) -> None:
    _script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE inputs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            at_ns INTEGER NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        );
        CREATE TABLE orders (
            client_order_id TEXT PRIMARY KEY,
            broker_client_id TEXT NOT NULL UNIQUE,
            broker_order_id TEXT,
            parent_id TEXT,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            order_type TEXT NOT NULL,
            limit_price INTEGER,
            limit_price_text TEXT,
            time_in_force TEXT NOT NULL,
            created_ns INTEGER NOT NULL,
            status TEXT NOT NULL,
            filled INTEGER NOT NULL DEFAULT 0,
            sent INTEGER NOT NULL DEFAULT 0,
            updated_ns INTEGER NOT NULL
        );
        CREATE TABLE requests (
            request_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            orig_client_order_id TEXT NOT NULL,
            quantity INTEGER,
            limit_price INTEGER,
            created_ns INTEGER NOT NULL,
            sent INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE executions (
            exec_id TEXT NOT NULL UNIQUE,
            client_order_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            quantity INTEGER NOT NULL,
            price INTEGER NOT NULL,
            price_text TEXT NOT NULL,
            fee INTEGER NOT NULL,
            time_ns INTEGER NOT NULL,
            source TEXT NOT NULL,
            input_seq INTEGER NOT NULL REFERENCES inputs(seq)
        );
        CREATE TABLE trades (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            symbol TEXT NOT NULL,
            direction INTEGER NOT NULL,
            opened_ns INTEGER NOT NULL,
            entry_quantity INTEGER NOT NULL,
            entry_notional INTEGER NOT NULL,
            entry_price_text TEXT NOT NULL,
            closed_ns INTEGER,
            exit_price INTEGER,
            exit_price_text TEXT,
            realized INTEGER NOT NULL DEFAULT 0,
            realized_text TEXT NOT NULL DEFAULT '0',
            status TEXT NOT NULL
        );
        CREATE TABLE signals (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ns INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            signal TEXT NOT NULL,
            reason TEXT,
            payload TEXT NOT NULL
        );
        CREATE TABLE tca (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ns INTEGER NOT NULL,
            parent_id TEXT,
            payload TEXT NOT NULL
        );
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ns INTEGER NOT NULL,
            level TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL
        );
        CREATE TABLE records (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time_ns INTEGER NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL
        );
        """,
    )


def _v2(db: sqlite3.Connection) -> None:
    """Indexes the recovery and reconciliation queries use."""
    _script(
        db,
        """
        CREATE INDEX executions_by_order ON executions(client_order_id);
        CREATE INDEX trades_open ON trades(symbol, status);
        CREATE INDEX orders_status ON orders(status);
        """,
    )


def _v3(db: sqlite3.Connection) -> None:
    """Deposits and withdrawals: one row per broker transfer id, like executions."""
    _script(
        db,
        """
        CREATE TABLE cash_flows (
            flow_id TEXT NOT NULL UNIQUE,
            amount INTEGER NOT NULL,
            amount_text TEXT NOT NULL,
            reason TEXT NOT NULL,
            time_ns INTEGER NOT NULL,
            source TEXT NOT NULL,
            input_seq INTEGER NOT NULL REFERENCES inputs(seq)
        );
        """,
    )


def _v4(db: sqlite3.Connection) -> None:
    """The model's fee estimate beside the broker's reported fee (``gateway.fees``),
    and the venue that printed the execution (the estimate's venue fee)."""
    _script(
        db,
        """
        ALTER TABLE executions ADD COLUMN model_fee INTEGER;
        ALTER TABLE executions ADD COLUMN venue TEXT NOT NULL DEFAULT ''
        """,
    )


def _v5(db: sqlite3.Connection) -> None:
    """``order_ids``: every id an order has had, to the order's own row.

    A cancel/replace (Adaptive reprices that way) gives a working order a new
    client order id, and the broker reports its executions under it; those
    ids live in ``requests``, not ``orders``. Joining ``executions`` to
    ``orders`` directly therefore lost every execution after a replace (a
    parent's executions summed to less than its TCA). Join through this view:
    ``executions e JOIN order_ids i ON i.client_order_id = e.client_order_id
    JOIN orders o ON o.client_order_id = i.order_id``.
    """
    _script(
        db,
        """
        CREATE VIEW order_ids(client_order_id, order_id) AS
        WITH RECURSIVE chain(id, root) AS (
            SELECT client_order_id, client_order_id FROM orders
            UNION
            SELECT r.request_id, chain.root FROM requests r
            JOIN chain ON r.orig_client_order_id = chain.id
            WHERE r.kind = 'replace'
        )
        SELECT id, root FROM chain;
        """,
    )


def _v6(db: sqlite3.Connection) -> None:
    """``routes`` (which broker holds each order) and ``processed_marks`` (the last
    inbound FIX MsgSeqNum the runtime finished handling) move into this database.

    Both lived in files of their own beside it (``<db>.routes.sqlite``, written
    by the tiered broker; the ``prime_fix_processed`` table of the FIX session
    store ``<db>.fix.sqlite``), each with its own connection and durability
    setting. One database, one connection, one policy (``Database``) now: an
    existing database adopts their rows here, so nothing is lost on upgrade.
    The old files are only read, never changed (the FIX store stays the
    session's own, see docs/architecture.md)."""
    _script(
        db,
        """
        CREATE TABLE routes (
            broker_client_id TEXT PRIMARY KEY,
            broker TEXT NOT NULL
        );
        CREATE TABLE processed_marks (
            session TEXT PRIMARY KEY,
            seq INTEGER NOT NULL
        );
        """,
    )
    main = _main_file(db)
    if main is None:
        return
    routes = main.with_name(main.name + ROUTES_SUFFIX)
    for broker_client_id, broker in _rows(routes, "SELECT broker_client_id, broker FROM routes"):
        db.execute(
            "INSERT OR IGNORE INTO routes(broker_client_id, broker) VALUES (?, ?)",
            (str(broker_client_id), str(broker)),
        )
    store = main.with_name(main.name + FIX_STORE_SUFFIX)
    for key, seq in _rows(store, "SELECT key, seq FROM prime_fix_processed"):
        if seq is not None:
            db.execute(
                "INSERT OR IGNORE INTO processed_marks(session, seq) VALUES (?, ?)",
                (str(key), int(seq)),
            )


ROUTES_SUFFIX = ".routes.sqlite"
"""Where the tiered broker kept its routes before schema 6 (adopted by ``_v6``)."""
FIX_STORE_SUFFIX = ".fix.sqlite"
"""The FIX session store beside the database (its processed marks adopted by ``_v6``)."""


def _main_file(db: sqlite3.Connection) -> Path | None:
    """The file of the connection's main database (None: in memory)."""
    for _seq, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main" and file:
            return Path(file)
    return None


def _rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` in an older companion file; none if the file or its
    table does not exist. Read only: the file is neither created nor changed."""
    if not path.is_file():
        return []
    old = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return list(old.execute(sql).fetchall())
    except sqlite3.OperationalError:  # no such table: that broker was never used
        return []
    finally:
        old.close()


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_v1, _v2, _v3, _v4, _v5, _v6)
SCHEMA_VERSION = len(MIGRATIONS)
