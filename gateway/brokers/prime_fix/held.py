"""The answer to a status request while reports are still held for the runtime.

Kept apart because it is the one subtle rule of the start-up reconciliation
over FIX (see ``as_delivered``), tested on its own terms.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence

from core.commands import OrdStatus
from core.errors import BadInput
from fix.framing import FixMessage
from fix.orders import TRADE_EXEC_TYPES
from gateway.brokers.base import BrokerOrder
from gateway.brokers.prime_fix.ledger import OPEN
from gateway.brokers.prime_fix.mapping import read_price, read_whole

log = logging.getLogger("gateway.prime_fix")


def as_delivered(
    view: BrokerOrder,
    reply: FixMessage,
    held: Sequence[FixMessage],
    booked: Collection[str],
    earlier_ids: Callable[[str], list[str]],
) -> BrokerOrder:
    """The prime broker's answer minus the reports still held for the runtime.

    Before ``stream`` the runtime reconciles: it asks for each open order
    and books whatever the broker filled beyond its own record as one
    synthetic ``recon:`` fill. Over FIX nothing was missed — the resend
    already brought every ExecutionReport of the outage, with its ExecID,
    venue and price, and they wait, held, for ``stream``. Answering
    with the broker's full CumQty would book those fills twice over
    (once as a lump now, the real ones then dropped as "already
    reconciled"), so the executions table would no longer match the
    broker's. So the answer is the order as of the last report the runtime
    will have seen once the held ones are delivered: CumQty less their
    quantity, and still open if any report of the order is in transit (the
    held reports carry it to its real state, in order).
    """
    if not held or view.replaced_by is not None:
        return view  # (an earlier ClOrdID's fills come from our own record)
    current = (reply.get(11) or b"").decode("latin-1") or view.broker_client_id
    chain = {view.broker_client_id, current, *earlier_ids(current)}
    held_qty = held_notional = 0
    touched = False
    for msg in held:  # in arrival order: a replace adds its new ClOrdID first
        cl = (msg.get(11) or b"").decode("latin-1")
        orig = (msg.get(41) or b"").decode("latin-1")
        if cl not in chain and orig not in chain:
            continue
        chain.update(x for x in (cl, orig) if x)
        exec_id = (msg.get(17) or b"").decode("latin-1")
        if msg.msg_type != b"8" or exec_id in booked:
            continue  # a cancel reject, or an execution booked before the restart
        touched = True
        if msg.get(150) in TRADE_EXEC_TYPES:
            try:
                qty = read_whole(msg, 32, "LastQty")
                held_qty += qty
                held_notional += qty * read_price(msg, 31, "LastPx")
            except BadInput:
                continue  # rejected again, and counted, when it is delivered
    if not touched:
        return view
    filled = max(0, view.filled - held_qty)
    status = (OrdStatus.PARTIALLY_FILLED if filled else OrdStatus.NEW).value
    log.info(
        "order %s: %d of %d filled still in transit to the runtime (held reports)",
        view.broker_client_id,
        view.filled - filled,
        view.filled,
    )
    return dataclasses.replace(
        view,
        filled=filled,
        filled_notional=max(0, view.filled_notional - held_notional) if filled else 0,
        status=status,
        open=status in {s.value for s in OPEN},
    )
