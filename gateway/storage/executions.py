"""What was booked: executions (with the broker's fee beside the model's
estimate) and transfers, read for reconciliation, reports and the dashboard.
Written only through the journal (``JournalTables.append``).
"""

from __future__ import annotations

from gateway.storage.database import Database


class ExecutionTables:
    """Queries over ``executions`` and ``cash_flows``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def cash_flows(self) -> list[dict[str, object]]:
        """Every transfer handed to the engine (applied or refused there), in order."""
        cur = self._database.db.execute(
            "SELECT flow_id, amount, amount_text, reason, time_ns, source FROM cash_flows"
            " ORDER BY input_seq"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def fee_rows(self) -> list[dict[str, object]]:
        """Per execution: the fee the broker reported and the model's estimate."""
        cur = self._database.db.execute(
            "SELECT exec_id, client_order_id, symbol, side, quantity, price, time_ns, venue,"
            " fee, model_fee FROM executions ORDER BY input_seq"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def fee_totals(self, exec_ids: list[str]) -> tuple[int, int | None]:
        """(Σ reported fees, Σ model estimates) of these executions (None: none estimated)."""
        if not exec_ids:
            return 0, None
        marks = ",".join("?" * len(exec_ids))
        row = self._database.db.execute(
            f"SELECT COALESCE(SUM(fee), 0), SUM(model_fee) FROM executions"
            f" WHERE exec_id IN ({marks})",
            exec_ids,
        ).fetchone()
        return int(row[0]), None if row[1] is None else int(row[1])

    def executions(self) -> list[dict[str, object]]:
        cur = self._database.db.execute(
            "SELECT exec_id, client_order_id, symbol, side, quantity, price, fee, time_ns, source"
            " FROM executions ORDER BY input_seq"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def executions_after(self, exec_id: str | None, limit: int) -> list[dict[str, object]] | None:
        """Up to ``limit`` executions booked after ``exec_id`` (all from the first if
        None), in booking order; None if ``exec_id`` is not a stored execution."""
        after = 0
        if exec_id is not None:
            row = self._database.db.execute(
                "SELECT input_seq FROM executions WHERE exec_id=?", (exec_id,)
            ).fetchone()
            if row is None:
                return None
            after = int(row[0])
        cur = self._database.db.execute(
            "SELECT exec_id, client_order_id, symbol, side, quantity, price_text, fee, time_ns,"
            " source FROM executions WHERE input_seq > ? ORDER BY input_seq LIMIT ?",
            (after, limit),
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def filled_by_order(self) -> dict[str, int]:
        return {
            str(cid): int(qty)
            for cid, qty in self._database.db.execute(
                "SELECT client_order_id, SUM(quantity) FROM executions GROUP BY client_order_id"
            ).fetchall()
        }
