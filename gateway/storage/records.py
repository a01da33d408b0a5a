"""What the engine and the runtime report for people: signals, TCA, alerts and
other engine records. Written as they happen, never replayed.
"""

from __future__ import annotations

import json

from gateway.storage.database import Database


class RecordTables:
    """``signals``, ``tca``, ``alerts`` and ``records``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record_signal(self, time_ns: int, payload: dict[str, object]) -> None:
        with self._database.transaction():
            self._database.db.execute(
                "INSERT INTO signals(time_ns, symbol, signal, reason, payload) VALUES (?,?,?,?,?)",
                (
                    time_ns,
                    str(payload.get("symbol")),
                    str(payload.get("signal")),
                    payload.get("reason"),
                    _json(payload),
                ),
            )

    def record_tca(self, time_ns: int, payload: dict[str, object]) -> None:
        with self._database.transaction():
            self._database.db.execute(
                "INSERT INTO tca(time_ns, parent_id, payload) VALUES (?,?,?)",
                (time_ns, payload.get("parent_id"), _json(payload)),
            )

    def record_alert(self, time_ns: int, level: str, kind: str, text: str) -> None:
        with self._database.transaction():
            self._database.db.execute(
                "INSERT INTO alerts(time_ns, level, kind, text) VALUES (?,?,?,?)",
                (time_ns, level, kind, text),
            )

    def record(self, time_ns: int, kind: str, payload: dict[str, object]) -> None:
        with self._database.transaction():
            self._database.db.execute(
                "INSERT INTO records(time_ns, kind, payload) VALUES (?,?,?)",
                (time_ns, kind, _json(payload)),
            )

    def recent_alerts(self, limit: int) -> list[tuple[int, str, str, str]]:
        """The last ``limit`` alerts (time, level, kind, text), oldest first."""
        rows = self._database.db.execute(
            "SELECT time_ns, level, kind, text FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(int(t), str(lv), str(k), str(x)) for t, lv, k, x in reversed(rows)]


def _json(payload: dict[str, object]) -> str:
    return json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
