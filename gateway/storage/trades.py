"""Round trips (a position opened from flat until it is flat again) with their
realised P&L, for people and the daily summary: derived from the fills, never
read back by the engine.
"""

from __future__ import annotations

from core.money import format_price
from gateway.storage.database import Database


class TradeTables:
    """``trades``: opened, added to, closed; totals per day."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def open_trade(self, symbol: str) -> tuple[int, int, int, int] | None:
        """(id, direction, entry_quantity, entry_notional) of the symbol's open trade."""
        row = self._database.db.execute(
            "SELECT id, direction, entry_quantity, entry_notional FROM trades"
            " WHERE symbol=? AND status='open'",
            (symbol,),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), int(row[2]), int(row[3]))

    def record_open(
        self, symbol: str, direction: int, quantity: int, price: int, time_ns: int
    ) -> int:
        """Start a round trip (a position opened from flat)."""
        with self._database.transaction():
            cur = self._database.db.execute(
                "INSERT INTO trades(symbol, direction, opened_ns, entry_quantity, entry_notional,"
                " entry_price_text, status) VALUES (?,?,?,?,?,?, 'open')",
                (symbol, direction, time_ns, quantity, quantity * price, format_price(price)),
            )
        return int(cur.lastrowid or 0)

    def add_to_trade(self, trade_id: int, quantity: int, price: int) -> None:
        with self._database.transaction():
            row = self._database.db.execute(
                "SELECT entry_quantity, entry_notional FROM trades WHERE id=?", (trade_id,)
            ).fetchone()
            qty, notional = int(row[0]) + quantity, int(row[1]) + quantity * price
            self._database.db.execute(
                "UPDATE trades SET entry_quantity=?, entry_notional=?, entry_price_text=?"
                " WHERE id=?",
                (qty, notional, format_price(notional // qty), trade_id),
            )

    def add_realized(self, trade_id: int, realized: int) -> None:
        with self._database.transaction():
            self._database.db.execute(
                "UPDATE trades SET realized=realized+? WHERE id=?", (realized, trade_id)
            )

    def record_close(self, trade_id: int, price: int, time_ns: int, realized: int) -> int:
        """Close a round trip at ``price``; adds the last fill's realised P&L; the total."""
        with self._database.transaction():
            self._database.db.execute(
                "UPDATE trades SET status='closed', closed_ns=?, exit_price=?, exit_price_text=?,"
                " realized=realized+? WHERE id=?",
                (time_ns, price, format_price(price), realized, trade_id),
            )
            total = int(
                self._database.db.execute(
                    "SELECT realized FROM trades WHERE id=?", (trade_id,)
                ).fetchone()[0]
            )
            self._database.db.execute(
                "UPDATE trades SET realized_text=? WHERE id=?", (format_price(total), trade_id)
            )
        return total

    def day_totals(self, start_ns: int, end_ns: int) -> tuple[int, int, int]:
        """(executions, closed trades, realised P&L of trades closed) in [start, end)."""
        fills = self._database.db.execute(
            "SELECT COUNT(*) FROM executions WHERE time_ns >= ? AND time_ns < ?",
            (start_ns, end_ns),
        ).fetchone()[0]
        trades, realized = self._database.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(realized), 0) FROM trades"
            " WHERE status='closed' AND closed_ns >= ? AND closed_ns < ?",
            (start_ns, end_ns),
        ).fetchone()
        return int(fills), int(trades), int(realized)

    def all(self) -> list[dict[str, object]]:
        cur = self._database.db.execute("SELECT * FROM trades ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
