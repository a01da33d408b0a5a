"""FIX ↔ core for the prime broker: typed tag readers, stored executions → ``Fill``,
which reports are trades, and how loud each session event is."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import partial

from core.cells import as_int
from core.commands import Fill, Side
from core.errors import BadInput
from fix import fields
from fix.framing import FixMessage
from fix.session import SessionEvent


def event_level(event: SessionEvent) -> int:
    """Recovery milestones at INFO; a disconnect the session chose (a sequence
    number too low, a refused Logon, a timeout) at WARNING — those need an
    operator, the line will not come back by reconnecting alone; the rest
    (heartbeat-level chatter, PossDup duplicates) at DEBUG."""
    if event.kind in ("logon", "gap", "resend_complete", "resend_retry"):
        return logging.INFO
    if event.kind == "disconnect" and event.text != "logout complete":
        return logging.WARNING
    if event.kind == "queue_overflow":  # the peer floods us out of order: worth a look
        return logging.WARNING
    return logging.DEBUG


# ExecutionReports: an absent number is 0 (fix.fields reads them).
read_whole = partial(fields.whole, default=b"0")
read_price = partial(fields.price, default=b"0")


def fill_from_record(row: Mapping[str, object]) -> Fill:
    """One executions-table row → ``Fill``; ``BadInput`` naming the column if unusable."""
    try:
        side = Side(str(row["side"]))
        return Fill(
            as_int(row.get("time_ns") or 0),
            str(row["client_order_id"]),
            str(row["exec_id"]),
            str(row["symbol"]),
            side,
            as_int(row["quantity"]),
            as_int(row["price"]),
            str(row.get("venue") or ""),
            as_int(row.get("fee") or 0),
        )
    except KeyError as exc:
        raise BadInput(f"executions.{exc.args[0]}", None, "missing") from None
    except (TypeError, ValueError) as exc:
        raise BadInput("executions", dict(row), f"not an execution: {exc}") from None


def is_trade_report(msg: FixMessage) -> bool:
    """ExecutionReports and cancel rejects for the runtime; not status replies (ExecType I)."""
    return msg.msg_type == b"9" or (msg.msg_type == b"8" and msg.get(150) != b"I")
