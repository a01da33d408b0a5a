"""What the session store remembers of each order's ClOrdIDs, and the fills under each.

A cancel/replace gives a FIX order a new ClOrdID; FIX counts CumQty over the
whole order, the runtime (as with Alpaca, where a replace makes a new order)
per client order id. So the fills known under each ClOrdID are kept here,
the replace links (new → orig) are read from every G the session store holds
(a page at a time), and a status report is turned into the view the runtime
expects for the id it asked about. Apart from the broker because it is the
one place where FIX's order identity and the runtime's differ.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator

from core.commands import OrderType, OrdStatus, Side, SubmitOrder, TimeInForce
from core.errors import BadInput
from fix.framing import FixMessage, parse
from fix.orders import ORD_STATUS
from fix.store import SqliteStore
from gateway.brokers.base import BrokerOrder
from gateway.brokers.prime_fix.ledger import OPEN, KnownOrder
from gateway.brokers.prime_fix.mapping import read_price, read_whole

log = logging.getLogger("gateway.prime_fix")
STORE_PAGE = 1000  # sent messages read from the session store at a time
_FIX_ORD_TYPES = {
    b"1": OrderType.MARKET,
    b"2": OrderType.LIMIT,
    b"3": OrderType.STOP,
    b"P": OrderType.PEGGED_MIDPOINT,
}
_FIX_TIFS = {b"0": TimeInForce.DAY, b"1": TimeInForce.GTC, b"3": TimeInForce.IOC}


class OrderChains:
    """ClOrdID chains and per-ClOrdID fills, backed by the session store."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        # Quantity and notional filled under each ClOrdID (a replace starts a
        # new one): the runtime counts fills per ClOrdID, FIX's CumQty per order.
        self.filled_by_id: dict[str, tuple[int, int]] = {}
        self._replaced_from: dict[str, str] | None = None  # new ClOrdID → OrigClOrdID

    def local_view(self, order: KnownOrder, broker_client_id: str) -> BrokerOrder:
        """What we know of the order without asking, filled counted per ClOrdID."""
        view = order.view(broker_client_id)
        if view.replaced_by is not None:
            filled, notional = self.filled_by_id.get(broker_client_id, (0, 0))
        else:
            filled, notional = self.own_cum(broker_client_id, view.filled, view.filled_notional)
        return dataclasses.replace(view, filled=filled, filled_notional=notional)

    def note_fill(self, cl_ord_id: str, quantity: int, price: int) -> None:
        qty, notional = self.filled_by_id.get(cl_ord_id, (0, 0))
        self.filled_by_id[cl_ord_id] = (qty + quantity, notional + quantity * price)

    def replace_links(self) -> dict[str, str]:
        """New ClOrdID → the one it replaced, from every G we ever sent (the
        session store keeps them across restarts; read once, then kept up)."""
        if self._replaced_from is None:
            links: dict[str, str] = {}
            for raw in self.sent_oldest_first():
                if b"\x0135=G\x01" not in raw:
                    continue
                msg = FixMessage(parse(raw))
                new, orig = msg.get(11), msg.get(41)
                if new and orig:
                    links[new.decode("latin-1")] = orig.decode("latin-1")
            self._replaced_from = links
        return self._replaced_from

    def sent_oldest_first(self) -> Iterator[bytes]:
        """Every message in the session store, a page at a time (a long session's
        history is never all in memory at once)."""
        last = self.store.next_sender_seq - 1
        for low in range(1, last + 1, STORE_PAGE):
            for _, raw in self.store.sent_range(low, min(last, low + STORE_PAGE - 1)):
                yield raw

    def sent_newest_first(self) -> Iterator[bytes]:
        high = self.store.next_sender_seq - 1
        while high >= 1:
            low = max(1, high - STORE_PAGE + 1)
            for _, raw in reversed(self.store.sent_range(low, high)):
                yield raw
            high = low - 1

    def earlier_ids(self, cl_ord_id: str) -> list[str]:
        """The ClOrdIDs the order had before ``cl_ord_id``, newest first."""
        links = self.replace_links()
        out: list[str] = []
        current = cl_ord_id
        while current in links and links[current] not in out and links[current] != cl_ord_id:
            current = links[current]
            out.append(current)
        return out

    def own_cum(self, cl_ord_id: str, cum: int, notional: int) -> tuple[int, int]:
        """CumQty (and notional) of the order → what was filled under ``cl_ord_id``.

        FIX counts CumQty over the whole order, across replaces; the runtime,
        like Alpaca (where a replace makes a new order), counts per client
        order id and books any excess as a missed fill. So the fills known
        under the order's earlier ClOrdIDs are taken off. Without that a
        replaced order that had fills was booked twice by the next
        reconciliation (a ``recon:`` fill for the earlier ids' quantity)."""
        earlier_qty = earlier_notional = 0
        for earlier in self.earlier_ids(cl_ord_id):
            qty, value = self.filled_by_id.get(earlier, (0, 0))
            earlier_qty += qty
            earlier_notional += value
        if not earlier_qty:
            return cum, notional
        return max(0, cum - earlier_qty), max(0, notional - earlier_notional)

    def status_view(self, msg: FixMessage, asked: str) -> BrokerOrder:
        current = (msg.get(11) or asked.encode()).decode("latin-1")
        status = ORD_STATUS.get(msg.get(39) or b"")
        if status is None:
            raise BadInput("OrdStatus(39)", msg.get(39), "unknown order status")
        cum = read_whole(msg, 14, "CumQty")
        notional = cum * read_price(msg, 6, "AvgPx")
        replaced_by = None
        if current != asked:
            replaced_by, status = current, OrdStatus.REPLACED
            filled, notional = self.filled_by_id.get(asked, (0, 0))
        else:
            filled, notional = self.own_cum(asked, cum, notional)
        side = Side.BUY if msg.get(54) == b"1" else Side.SELL
        return BrokerOrder(
            broker_client_id=asked,
            broker_order_id=(msg.get(37) or b"").decode("latin-1"),
            symbol=(msg.get(55) or b"").decode("latin-1"),
            side=side.value,
            quantity=read_whole(msg, 38, "OrderQty") if msg.get(38) else cum,
            filled=filled,
            filled_notional=notional,
            status=status.value,
            open=status in OPEN,
            replaced_by=replaced_by,
        )

    def sent_terms(self, cl_ord_id: str) -> SubmitOrder | None:
        """The order's terms as the D or G we sent for it said them (None: not
        found, or not readable). A replace must repeat them (venue, MinQty,
        peg...); after a restart only the session store still has them."""
        wanted = cl_ord_id.encode()
        for raw in self.sent_newest_first():
            if b"\x0111=" + wanted + b"\x01" not in raw:
                continue
            msg = FixMessage(parse(raw))
            if msg.msg_type not in (b"D", b"G") or msg.get(11) != wanted:
                continue
            try:
                return SubmitOrder(
                    time.time_ns(),
                    cl_ord_id,
                    None,
                    (msg.get(55) or b"").decode("latin-1"),
                    Side.BUY if msg.get(54) == b"1" else Side.SELL,
                    read_whole(msg, 38, "OrderQty"),
                    _FIX_ORD_TYPES[msg.get(40) or b"1"],
                    read_price(msg, 44, "Price") if msg.get(44) else None,
                    _FIX_TIFS.get(msg.get(59) or b"0", TimeInForce.DAY),
                    (msg.get(100) or b"").decode("latin-1") or None,
                    read_whole(msg, 110, "MinQty") if msg.get(110) else None,
                    stop_price=read_price(msg, 99, "StopPx") if msg.get(99) else None,
                )
            except (BadInput, KeyError) as exc:
                log.warning("cannot recall the terms of %s: %s", cl_ord_id, exc)
                return None
        return None
