"""The journal: every engine input, in order, with the market time it was handled at.

Replaying it into a fresh engine with the stored seed rebuilds the engine
exactly (order ids included): crash-only recovery. An execution (``executions``)
or a transfer (``cash_flows``) is committed durably *in the same transaction*
as its journal row, *before* the engine sees it: a fill the engine acted on
can never be missing after a crash, and one the broker repeats is refused
here (``DuplicateExecution``) instead of booked twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from core.commands import CashFlow, Fill
from core.money import format_price
from core.operator import OperatorCommand
from gateway import journal
from gateway.journal import Event
from gateway.storage.database import Database


class DuplicateExecution(Exception):
    """An execution id that is already stored (the broker repeated itself)."""


class DuplicateCashFlow(Exception):
    """A transfer id that is already stored (the broker reported it again)."""


class JournalTables:
    """``inputs`` with ``executions`` and ``cash_flows``, written together."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def append(
        self, at_ns: int, event: Event, source: str = "stream", model_fee: int | None = None
    ) -> int:
        """Commit one engine input (durably if it moves money); its sequence number.

        A ``Fill`` whose ``exec_id`` is already stored raises
        ``DuplicateExecution`` and is not journaled: the engine must not see it.
        A ``CashFlow`` whose ``flow_id`` is stored raises ``DuplicateCashFlow``.
        ``model_fee`` is the fee model's estimate of a ``Fill`` (``gateway.fees``),
        stored beside the fee the broker reported.
        """
        kind = journal.kind_of(event)
        payload = journal.encode(event)
        cash = event if isinstance(event, CashFlow) else None
        fill = event if isinstance(event, Fill) else None
        # Money moves and operator commands (a flatten must survive a power cut).
        durable = fill is not None or cash is not None or isinstance(event, OperatorCommand)
        with self._database.transaction(durable=durable):
            if cash is not None:
                if self.has_cash_flow(cash.flow_id):
                    raise DuplicateCashFlow(cash.flow_id)
                cur = self._database.db.execute(
                    "INSERT INTO inputs(at_ns, kind, payload) VALUES (?, ?, ?)",
                    (at_ns, kind, payload),
                )
                seq = int(cur.lastrowid or 0)
                self._database.db.execute(
                    "INSERT INTO cash_flows(flow_id, amount, amount_text, reason, time_ns,"
                    " source, input_seq) VALUES (?,?,?,?,?,?,?)",
                    (
                        cash.flow_id,
                        cash.amount,
                        _signed_text(cash.amount),
                        cash.reason,
                        cash.time_ns,
                        source,
                        seq,
                    ),
                )
                return seq
            if fill is not None:
                exists = self._database.db.execute(
                    "SELECT 1 FROM executions WHERE exec_id=?", (fill.exec_id,)
                ).fetchone()
                if exists:
                    raise DuplicateExecution(fill.exec_id)
            cur = self._database.db.execute(
                "INSERT INTO inputs(at_ns, kind, payload) VALUES (?, ?, ?)", (at_ns, kind, payload)
            )
            seq = int(cur.lastrowid or 0)
            if fill is not None:
                self._database.db.execute(
                    "INSERT INTO executions(exec_id, client_order_id, symbol, side, quantity,"
                    " price, price_text, fee, time_ns, source, input_seq, model_fee, venue)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        fill.exec_id,
                        fill.client_order_id,
                        fill.symbol,
                        fill.side.value,
                        fill.quantity,
                        fill.price,
                        format_price(fill.price),
                        fill.fee,
                        fill.time_ns,
                        source,
                        seq,
                        model_fee,
                        fill.venue,
                    ),
                )
        return seq

    def inputs(self) -> Iterator[tuple[int, int, Event]]:
        """(seq, at_ns, event) in the order the engine saw them, streamed from
        the cursor (a year's journal is too big to hold as one list)."""
        rows = self._database.db.execute(
            "SELECT seq, at_ns, kind, payload FROM inputs ORDER BY seq"
        )
        for seq, at_ns, kind, payload in rows:
            yield int(seq), int(at_ns), journal.decode(kind, payload)

    def last_input_seq(self) -> int:
        """The sequence number of the last journaled input (0: none yet)."""
        return int(self._database.db.execute("SELECT MAX(seq) FROM inputs").fetchone()[0] or 0)

    def last_bar_times(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for (payload,) in self._database.db.execute(
            "SELECT payload FROM inputs WHERE kind='bar' ORDER BY seq"
        ).fetchall():
            data = json.loads(payload)
            result[data["symbol"]] = data["time_ns"]
        return result

    def has_execution(self, exec_id: str) -> bool:
        return (
            self._database.db.execute(
                "SELECT 1 FROM executions WHERE exec_id=?", (exec_id,)
            ).fetchone()
            is not None
        )

    def has_cash_flow(self, flow_id: str) -> bool:
        return (
            self._database.db.execute(
                "SELECT 1 FROM cash_flows WHERE flow_id=?", (flow_id,)
            ).fetchone()
            is not None
        )


def _signed_text(amount: int) -> str:
    return ("-" if amount < 0 else "") + format_price(abs(amount))
