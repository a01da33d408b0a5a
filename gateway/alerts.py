"""Alerts: the engine's, the gateway's own, and one per fill — to the log, the
database and Telegram.

Engine warnings of one kind are coalesced on Telegram (at most one message a
minute); gateway-level alerts (health, discrepancies, start/stop, tier
changes) always go out; fill messages are muted while catching up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core.commands import Alert
from core.money import format_price
from gateway.notify import Notifier
from gateway.state import LiveState
from gateway.storage import Storage

log = logging.getLogger("gateway.runtime")

ALERT_COALESCE_S = 60.0
"""Engine warnings of one kind (gaps, stale feeds...) reach Telegram at most once
a minute: a feed outage across 30 symbols must not bury the fill alerts."""

_LEVELS = {"error": logging.ERROR, "warning": logging.WARNING}


class Alerts:
    def __init__(self, state: LiveState, storage: Storage, notifier: Notifier | None) -> None:
        self.state = state
        self.storage = storage
        self.notifier = notifier
        self._window: dict[str, tuple[float, int]] = {}  # kind → (last sent, held since)
        # Told of every alert (time, level, kind, text): the dashboard's alerts log.
        self.listeners: list[Callable[[int, str, str, str], None]] = []

    def _tell(self, time_ns: int, level: str, kind: str, text: str) -> None:
        for listener in self.listeners:
            try:
                listener(time_ns, level, kind, text)
            except Exception:  # a display bug must never stop an alert
                log.exception("alert listener %r failed", listener)

    def engine_alert(self, alert: Alert) -> None:
        """An ``Alert`` command of the engine (already in the database)."""
        self.state.counters.alerts += 1
        self._tell(alert.time_ns, alert.level, alert.kind, alert.text)
        level = _LEVELS.get(alert.level, logging.INFO)
        log.log(
            level,
            "alert %s: %s",
            alert.kind,
            alert.text,
            extra={"sv_event": "alert", "sv_kind": alert.kind},
        )
        if self.state.alerts_muted():
            return
        if self.notifier is None or alert.level not in ("warning", "error"):
            return
        # One message per alert kind per minute of wall time; the rest are in the
        # log and the database, and the next message says how many there were.
        now = time.monotonic()
        last, held = self._window.get(alert.kind, (0.0, 0))
        if now - last < ALERT_COALESCE_S:
            self._window[alert.kind] = (last, held + 1)
            return
        more = f" (+{held} more since)" if held else ""
        self._window[alert.kind] = (now, 0)
        self.notifier.send(f"[{alert.level.upper()}] {alert.kind}: {alert.text}{more}")

    def emit(self, level: str, kind: str, text: str) -> None:
        """A gateway-level alert (health, discrepancies, start/stop): DB + log + Telegram."""
        now = self.state.market.now_ns()
        with self.storage.transaction():
            self.storage.records.record_alert(now, level, kind, text)
        self.state.counters.alerts += 1
        self._tell(now, level, kind, text)
        lvl = _LEVELS.get(level, logging.INFO)
        log.log(lvl, "alert %s: %s", kind, text, extra={"sv_event": "alert", "sv_kind": kind})
        if self.notifier is not None:
            self.notifier.send(f"[{level.upper()}] {kind}: {text}")

    def discrepancy(self, text: str) -> None:
        """Something here disagrees with the broker: counted and alerted."""
        self.state.counters.discrepancies += 1
        self.emit("warning", "discrepancy", text)

    def fill(self, payload: dict[str, object]) -> None:
        """One message per execution: ENTRY, EXIT or FILL with the new position."""
        self.state.counters.fills += 1
        position = _int(payload["position"])
        qty = _int(payload["quantity"])
        signed = qty if payload["side"] == "buy" else -qty
        before = position - signed
        what = "ENTRY" if before == 0 else "EXIT" if position == 0 else "FILL"
        text = (
            f"{what} {payload['side']} {qty} {payload['symbol']} @ "
            f"{format_price(_int(payload['price']))} (position {position};"
            f" exec {payload['exec_id']})"
        )
        log.info("fill %s", text, extra={"sv_event": "fill", "sv_exec_id": str(payload["exec_id"])})
        if self.notifier is not None and not self.state.alerts_muted():
            self.notifier.send(text)


def _int(value: object) -> int:
    """A payload number (the engine's records carry ints)."""
    if isinstance(value, int | str | float):
        return int(value)
    raise TypeError(f"not a number: {value!r}")
