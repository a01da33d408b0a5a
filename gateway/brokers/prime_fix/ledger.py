"""What the adapter keeps of its own: each order's ClOrdID chain and fills, and the
processed mark (the last inbound MsgSeqNum the runtime finished handling)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.commands import OrdStatus, Side
from fix.store import create_owner_only
from gateway.brokers.base import BrokerOrder, NotFound, RejectedRequest

OPEN = frozenset(
    {
        OrdStatus.PENDING_NEW,
        OrdStatus.NEW,
        OrdStatus.PARTIALLY_FILLED,
        OrdStatus.PENDING_CANCEL,
        OrdStatus.PENDING_REPLACE,
    }
)


@dataclass(eq=False)
class KnownOrder:
    """What the adapter knows of one order (ClOrdID chain, fills so far)."""

    ids: list[str]
    symbol: str
    side: Side
    quantity: int
    order_id: str = ""
    status: OrdStatus = OrdStatus.PENDING_NEW
    cum: int = 0
    avg_px: int = 0
    acked: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def current(self) -> str:
        return self.ids[-1]

    def view(self, broker_client_id: str) -> BrokerOrder:
        replaced_by = None
        status = self.status
        if broker_client_id != self.current:
            at = self.ids.index(broker_client_id)
            replaced_by, status = self.ids[at + 1], OrdStatus.REPLACED
        return BrokerOrder(
            broker_client_id=broker_client_id,
            broker_order_id=self.order_id,
            symbol=self.symbol,
            side=self.side.value,
            quantity=self.quantity,
            filled=self.cum,
            filled_notional=self.cum * self.avg_px,
            status=status.value,
            open=status in OPEN,
            replaced_by=replaced_by,
        )


def open_order(orders: dict[str, KnownOrder], broker_client_id: str) -> KnownOrder:
    """The known order under this id, if it can still be cancelled or replaced."""
    order = orders.get(broker_client_id)
    if order is None:
        raise NotFound(None, f"order {broker_client_id} is not known to this session")
    if order.status not in OPEN:
        raise RejectedRequest(None, f'order is already in "{order.status.value}" state')
    return order


class MarkStore(Protocol):
    """Where processed marks are kept: the gateway's ``Storage.marks`` (one
    database, one durability policy), or ``FileMarks`` for an adapter used on
    its own (tests, tools) with no trade database."""

    def get(self, session: str) -> int | None: ...

    def put(self, session: str, seq: int) -> None: ...


class FileMarks:
    """Processed marks in a file (the FIX session store's): for an adapter run
    without the gateway's ``Storage``. The gateway never uses it: it hands
    the prime broker ``Storage.marks`` (schema 6 adopted the marks this kept)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            create_owner_only(Path(path))  # the session store's file: owner-only
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # as the session store: crash-safe
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS prime_fix_processed (key TEXT PRIMARY KEY, seq INTEGER)"
        )

    def get(self, session: str) -> int | None:
        row = self._db.execute(
            "SELECT seq FROM prime_fix_processed WHERE key = ?", (session,)
        ).fetchone()
        return None if row is None else int(row[0])

    def put(self, session: str, seq: int) -> None:
        self._db.execute(
            "INSERT INTO prime_fix_processed VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET seq = excluded.seq",
            (session, seq),
        )

    def close(self) -> None:
        self._db.close()


class ProcessedMark:
    """The last inbound MsgSeqNum fully handled, for one FIX session.

    ``where``: a ``MarkStore`` (the gateway's ``Storage.marks``), or a path for
    ``FileMarks`` (an adapter without a trade database)."""

    def __init__(self, where: MarkStore | Path | str, key: str) -> None:
        self._owned: FileMarks | None = None
        self._table: MarkStore
        if isinstance(where, Path | str):
            self._owned = self._table = FileMarks(where)
        else:
            self._table = where
        self._key = key
        self.seq: int | None = self._table.get(key)

    def set(self, seq: int, poss_dup: bool = False) -> None:
        """Advance the mark; a fresh (not PossDup) number below it means the
        counterparty reset the sequence (a new trading day): follow it down."""
        if self.seq is not None and (seq == self.seq or (seq < self.seq and poss_dup)):
            return
        self.seq = seq
        self._table.put(self._key, seq)

    def close(self) -> None:
        """Close the file this mark opened (a ``Storage`` is its owner's to close)."""
        if self._owned is not None:
            self._owned.close()
