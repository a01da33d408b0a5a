"""SQLite trade database: the gateway's memory across crashes.

One file, one connection, one durability policy (``database``) for every
table the gateway's process keeps — the FIX session store excepted, which is
the ``fix`` library's own (docs/architecture.md says why). The schema is
versioned by ordered migrations (``schema``). Each group of tables has a
module that says what it is for:

* ``journal`` (``storage.journal``) — ``inputs``: every engine input in
  order, with ``executions`` and ``cash_flows`` written in the same durable
  transaction; replaying it rebuilds the engine exactly (crash-only recovery).
* ``executions`` (``storage.booked``) — queries over what was booked (fees,
  reports, dashboard).
* ``orders`` (``storage.orders``) — ``orders`` / ``requests``: the outbox's memory.
* ``trades`` (``storage.trades``) — round trips with realised P&L.
* ``records`` (``storage.records``) — ``signals``, ``tca``, ``alerts``,
  ``records``: for people.
* ``brokers`` — ``routes`` (tiered broker) and ``processed_marks`` (prime
  broker), handed to those adapters as ``storage.routes`` / ``storage.marks``.

``Storage`` is composition, not inheritance: it is the connection (open,
close, ``transaction``, ``meta``) and holds each group as an attribute, so
each namespace stays small and a call site names the group it touches.

Money is INTEGER nano-units, with a decimal text column next to the values a
person reads. Credentials are never written here.
"""

from __future__ import annotations

from pathlib import Path

from gateway.storage.brokers import MarkTable, RouteTable
from gateway.storage.database import Database
from gateway.storage.executions import ExecutionTables
from gateway.storage.journal import DuplicateCashFlow, DuplicateExecution, JournalTables
from gateway.storage.orders import OrderTables, StoredOrder
from gateway.storage.records import RecordTables
from gateway.storage.schema import MIGRATIONS, SCHEMA_VERSION
from gateway.storage.trades import TradeTables


class Storage(Database):
    """The trade database: the one connection (``Database``: open/close,
    migrations, transactions, ``meta``) and each table group as an object of
    its own, bound to it.

    The groups share the one connection and transaction depth, so a group of
    writes across tables (a fill's journal row, execution and order update,
    inside one ``storage.transaction()``) is still one transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.journal = JournalTables(self)
        self.booked = ExecutionTables(self)
        self.orders = OrderTables(self)
        self.trades = TradeTables(self)
        self.records = RecordTables(self)
        self.routes = RouteTable(self)
        self.marks = MarkTable(self)


__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DuplicateCashFlow",
    "DuplicateExecution",
    "MarkTable",
    "RouteTable",
    "Storage",
    "StoredOrder",
]
