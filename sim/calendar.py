"""The simulator's exchange sessions: the core's one calendar adapter
(``core/calendar.py``, shared with the gateway), under the names the
simulator has always imported."""

from core.calendar import exchange_sessions, schedule_for

__all__ = ["exchange_sessions", "schedule_for"]
