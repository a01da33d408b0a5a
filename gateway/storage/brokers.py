"""What broker adapters keep across restarts, in the trade database.

Two small tables that once had files (and connections, and durability
settings) of their own: ``routes`` — which broker holds each order, for the
tiered broker (``gateway.brokers.tiered``) — and ``processed_marks`` — the
last inbound FIX MsgSeqNum the runtime finished handling, for the prime
broker (``gateway.brokers.prime_fix``). Each is a narrow object bound to the
one ``Database``, so an adapter is handed exactly the table it needs (its
``RouteTable`` / ``MarkTable`` protocol) and nothing else of the database.
"""

from __future__ import annotations

from gateway.storage.database import Database


class RouteTable:
    """``routes``: broker client id → the name of the broker that holds the order.

    Written durably *before* the order is sent (as the runtime journals its
    decisions), so after a restart a cancel goes straight to the right broker,
    and the prime broker's ledger is rebuilt from *its* executions only (the
    executions table holds every broker's)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def load(self) -> dict[str, str]:
        rows = self._database.db.execute("SELECT broker_client_id, broker FROM routes")
        return {str(c): str(b) for c, b in rows.fetchall()}

    def put(self, broker_client_id: str, broker: str) -> None:
        with self._database.transaction(durable=True):
            self._database.db.execute(
                "INSERT OR REPLACE INTO routes(broker_client_id, broker) VALUES (?, ?)",
                (broker_client_id, broker),
            )


class MarkTable:
    """``processed_marks``: per FIX session (its key), the last inbound MsgSeqNum
    whose report the runtime finished handling. Ordinary durability: a mark
    that falls back after a power cut only makes the session ask for reports
    again, which are dropped by ExecID."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, session: str) -> int | None:
        row = self._database.db.execute(
            "SELECT seq FROM processed_marks WHERE session = ?", (session,)
        ).fetchone()
        return None if row is None else int(row[0])

    def put(self, session: str, seq: int) -> None:
        with self._database.transaction():
            self._database.db.execute(
                "INSERT INTO processed_marks(session, seq) VALUES (?, ?)"
                " ON CONFLICT(session) DO UPDATE SET seq = excluded.seq",
                (session, seq),
            )
