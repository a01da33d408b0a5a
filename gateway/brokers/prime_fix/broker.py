"""The prime broker over FIX: the order half of the ``Broker`` protocol.

A prime broker gives order entry over FIX; market data comes from elsewhere.
So ``PrimeFixBroker`` sends the execution engine's child orders through the
gateway's FIX initiator (``fix``) and takes bars, the market clock and
history from a second broker it is composed with (``data_broker``, normally
an ``AlpacaBroker`` used for data only)::

    PrimeFixBroker(PrimeFixSettings.from_config(config.fix, store_path),
                   data_broker=AlpacaBroker(config.alpaca, paper, symbols),
                   known_exec_ids=storage.exec_ids())

Orders: ``SubmitOrder`` → NewOrderSingle with ExDestination (the dark pool or
lit venue the router chose), MinQty and OrdType=P/ExecInst=M for midpoint
pegs; cancel → OrderCancelRequest; replace → OrderCancelReplaceRequest;
``order`` → OrderStatusRequest (H); ``open_orders`` → OrderMassStatusRequest
(AF). ExecutionReports become ``TradeEvent`` values for ``on_trade``,
deduplicated by ExecID (``known_exec_ids`` carries the ExecIDs already booked
across a restart, so a PossDup resend is recognised).

Recovery: the session's sequence numbers and sent messages live in a SQLite
store (``store_path``), so a restart logs on *without* a reset and the peer
resends what we missed. One more fact is kept beside them: the last inbound
sequence number whose report the runtime has *finished* handling. A crash
between the session counting a report and the runtime booking it would lose
that report, so at start the expected inbound number is rewound to just
after that mark; the Logon then shows a gap, we ask for a resend, and the
reports come again with PossDup=Y — booked once, because ExecIDs deduplicate.

Positions and account: a prime broker reports positions in its own files and
portals, not in the order session. This adapter keeps its own ledger:
opening positions and cash (settings), plus every execution booked before a
restart (``booked_fills``, from the runtime's executions table), plus every
execution received since. Equity marks the positions at the last bar or fill
price. The stand-in's ``state_json`` is the independent truth tests compare
against.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from core.commands import (
    CancelOrder,
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.errors import BadInput
from core.events import Bar
from fix.framing import FixMessage, parse
from fix.orders import ORD_STATUS, TRADE_EXEC_TYPES, OrderMapper
from fix.session import Session, SessionConfig, SessionEvent
from fix.store import SqliteStore
from fix.transport import FixInitiator
from gateway.brokers.base import (
    Account,
    Broker,
    BrokerOrder,
    MarketClock,
    NotFound,
    RejectedRequest,
    StopsMarketData,
    StreamSinks,
    TradeEvent,
)
from gateway.brokers.prime_fix.ledger import OPEN, KnownOrder, MarkStore, ProcessedMark
from gateway.brokers.prime_fix.mapping import (
    event_level,
    fill_from_record,
    is_trade_report,
    read_price,
    read_whole,
)
from gateway.brokers.prime_fix.settings import PrimeFixSettings

log = logging.getLogger("gateway.prime_fix")
TradeHandler = Callable[[TradeEvent], Awaitable[None]]
_FIX_ORD_TYPES = {
    b"1": OrderType.MARKET,
    b"2": OrderType.LIMIT,
    b"3": OrderType.STOP,
    b"P": OrderType.PEGGED_MIDPOINT,
}
_FIX_TIFS = {b"0": TimeInForce.DAY, b"1": TimeInForce.GTC, b"3": TimeInForce.IOC}
MAX_EVENTS = 1000
STORE_PAGE = 1000  # sent messages read from the session store at a time


async def _ignore_trade(_event: TradeEvent) -> None:
    return None


async def _nothing() -> None:
    return None


class PrimeFixBroker:
    """``Broker`` whose orders go to a prime broker over FIX; data from ``data_broker``."""

    name = "fix"

    def __init__(
        self,
        settings: PrimeFixSettings,
        data_broker: Broker | None = None,
        *,
        known_exec_ids: Iterable[str] = (),
        booked_fills: Iterable[Fill] = (),
        id_prefix: str = "",
        marks: MarkStore | None = None,
    ) -> None:
        """``id_prefix``: what the runtime puts before its own order ids to make
        ClOrdIDs (``booked_fills`` name the runtime's ids; the session, ours).
        ``marks``: where the processed mark is kept — the gateway's
        ``Storage.marks``; without one (an adapter on its own) a table in the
        session store's file."""
        self.settings = settings
        self.data_broker = data_broker
        config = SessionConfig(
            settings.begin_string,
            settings.sender_comp_id,
            settings.target_comp_id,
            initiator=True,
            heartbeat_s=settings.heartbeat_s,
            username=settings.username,
            password=settings.password.reveal(),  # the session redacts it in its store
        )
        self.store = SqliteStore(settings.store_path, config.key)
        self._mark = ProcessedMark(settings.store_path if marks is None else marks, config.key)
        if self._mark.seq is None:
            self._mark.set(self.store.next_target_seq - 1)
        if self._mark.seq is not None and self._mark.seq + 1 < self.store.next_target_seq:
            # Reports counted by the session but perhaps never booked: ask again.
            log.info(
                "FIX inbound rewound from %d to %d to re-read unbooked reports",
                self.store.next_target_seq,
                self._mark.seq + 1,
            )
            self.store.set_next_target_seq(self._mark.seq + 1)
        self.session = Session(config, self.store)
        self.mapper = OrderMapper(settings.account, known_exec_ids)
        self._orders: dict[str, KnownOrder] = {}  # every ClOrdID of a chain → the order
        self._positions: dict[str, int] = {}
        self._cash = settings.opening_cash
        for symbol, qty in settings.opening_positions:
            self._positions[symbol] = self._positions.get(symbol, 0) + qty
        self._last_price: dict[str, int] = {}
        # Quantity and notional filled under each ClOrdID (a replace starts a
        # new one): the runtime counts fills per ClOrdID, FIX's CumQty per order.
        self._filled_by_id: dict[str, tuple[int, int]] = {}
        self._replaced_from: dict[str, str] | None = None  # new ClOrdID → OrigClOrdID
        for fill in booked_fills:
            self._book(fill)
            self._note_fill(id_prefix + fill.client_order_id, fill.quantity, fill.price)
        self._initiator: FixInitiator | None = None
        self._inbox: asyncio.Queue[FixMessage] | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._on_trade: TradeHandler | None = None
        self._on_bad: Callable[[str, Exception], Awaitable[None]] | None = None
        self._on_connected: Callable[[], Awaitable[None]] = _nothing
        self._pending_status: dict[str, asyncio.Future[FixMessage]] = {}
        self._pending_mass: dict[str, tuple[list[FixMessage], asyncio.Future[None]]] = {}
        self._req_ids = itertools.count(1)
        self._tasks: set[asyncio.Future[Any]] = set()
        self._held: list[FixMessage] = []
        self._mark_frozen = False  # set when the runtime begins a graceful stop
        self._lock = asyncio.Lock()
        # Recent session events (bounded: a reconnect loop must not grow memory).
        self.events: deque[SessionEvent] = deque(maxlen=MAX_EVENTS)
        self.counters: dict[str, int] = {"duplicates": 0, "bad_reports": 0, "logons": 0}

    @classmethod
    def resuming(
        cls,
        settings: PrimeFixSettings,
        data_broker: Broker | None,
        executions: Iterable[Mapping[str, object]],
        id_prefix: str = "",
        marks: MarkStore | None = None,
    ) -> PrimeFixBroker:
        """Built from the runtime's executions table (``Storage.executions()`` rows:
        exec_id, client_order_id, symbol, side, quantity, price, fee, time_ns):
        those ExecIDs are known (a PossDup resend of them is dropped) and those
        fills are in the ledger's positions and cash."""
        fills = [fill_from_record(row) for row in executions]
        return cls(
            settings,
            data_broker,
            known_exec_ids=[f.exec_id for f in fills],
            booked_fills=fills,
            id_prefix=id_prefix,
            marks=marks,
        )

    # ------------------------------------------------------------ session
    def _start(self) -> FixInitiator:
        if self._initiator is None:
            s = self.settings
            self._inbox = asyncio.Queue()
            self._initiator = FixInitiator(
                self.session,
                s.host,
                s.port,
                on_app=self._inbox.put_nowait,
                on_event=self._on_event,
                min_backoff_s=s.min_backoff_s,
                max_backoff_s=s.max_backoff_s,
            )
            self._initiator.start()
            self._consumer = asyncio.get_running_loop().create_task(
                self._consume(), name="prime-fix-reports"
            )
        return self._initiator

    async def connect(self, timeout_s: float | None = None) -> bool:
        """Start the session (once) and wait for Logon; False on timeout."""
        initiator = self._start()
        try:
            await asyncio.wait_for(
                initiator.logged_on.wait(), timeout_s or self.settings.request_timeout_s
            )
        except TimeoutError:
            return False
        return True

    @property
    def idle(self) -> bool:
        """No received report is waiting to be handed to the runtime (tests settle on it)."""
        return (self._inbox is None or self._inbox.empty()) and not self._lock.locked()

    @property
    def logged_on(self) -> bool:
        return self._initiator is not None and self._initiator.logged_on.is_set()

    def _on_event(self, event: SessionEvent) -> None:
        self.events.append(event)
        log.log(event_level(event), "FIX %s: %s", event.kind, event.text)
        if event.kind == "logon":
            self.counters["logons"] += 1
            self._spawn(self._on_connected())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Future[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _consume(self) -> None:
        """Handle reports strictly in arrival order, then mark them processed.

        Before ``stream`` there is nobody to give trade updates to: those
        reports are held (and not marked) while status replies, which the
        runtime's start-up reconciliation waits for, are answered at once.
        """
        assert self._inbox is not None
        while True:
            msg = await self._inbox.get()
            async with self._lock:
                if self._on_trade is None and is_trade_report(msg):
                    self._held.append(msg)
                    continue
                await self._handle_safely(msg)
                if not self._held and not self._mark_frozen and msg.seq_num is not None:
                    self._mark.set(msg.seq_num, msg.get(43) == b"Y")

    async def _handle_safely(self, msg: FixMessage) -> None:
        try:
            await self._handle(msg)
        except BadInput as exc:
            self.counters["bad_reports"] += 1
            log.warning("rejected malformed FIX report: %s", exc)
            if self._on_bad is not None:
                await self._on_bad("fix_report", exc)
        except Exception:  # a handler bug must not stop the report loop
            log.exception("FIX report handling failed")

    async def _handle(self, msg: FixMessage) -> None:
        if not is_trade_report(msg):
            if msg.msg_type == b"8":
                self._status_reply(msg)
            return
        assert self._on_trade is not None
        if msg.msg_type == b"9":
            await self._cancel_reject(msg)
            return
        events = self.mapper.on_message(msg, time.time_ns())
        if not events:
            self.counters["duplicates"] += 1
            return
        trade = self._trade_event(msg, events)
        if trade is not None:
            await self._on_trade(trade)

    def _trade_event(self, msg: FixMessage, events: list[Fill | OrderUpdate]) -> TradeEvent | None:
        cl_ord_id = (msg.get(11) or b"").decode("latin-1")
        orig = (msg.get(41) or b"").decode("latin-1") or None
        exec_type = msg.get(150)
        order = self._orders.get(cl_ord_id) or (self._orders.get(orig) if orig else None)
        status = ORD_STATUS.get(msg.get(39) or b"")
        cum = read_whole(msg, 14, "CumQty")
        if order is not None:
            if msg.get(37) and msg.get(37) != b"NONE":
                order.order_id = msg[37].decode("latin-1")
            if status is not None:
                order.status = status
            order.cum = max(order.cum, cum)
            if msg.get(6):
                order.avg_px = read_price(msg, 6, "AvgPx")
            if exec_type == b"5" and cl_ord_id not in order.ids:
                order.ids.append(cl_ord_id)
            if msg.get(38):
                order.quantity = read_whole(msg, 38, "OrderQty")
            order.acked.set()
        fill = next((e for e in events if isinstance(e, Fill)), None)
        cum = self._own_cum(cl_ord_id, cum, 0)[0]
        if fill is not None:
            self._book(fill)
            self._note_fill(cl_ord_id, fill.quantity, fill.price)
            event = "fill" if status is OrdStatus.FILLED else "partial_fill"
            return TradeEvent(cl_ord_id, event, fill, None, cum)
        update = next((e for e in events if isinstance(e, OrderUpdate)), None)
        if update is None:
            return None
        if exec_type == b"5":  # replaced: the runtime resolves its pending request
            return TradeEvent(orig or cl_ord_id, "replaced", None, None, cum)
        if exec_type == b"4" and orig:  # the cancel's own ClOrdID is ours, the order is orig
            update = dataclasses.replace(update, client_order_id=orig)
            return TradeEvent(orig, "canceled", None, update, cum)
        if update.status in (
            OrdStatus.NEW,
            OrdStatus.CANCELED,
            OrdStatus.EXPIRED,
            OrdStatus.REJECTED,
        ):
            return TradeEvent(cl_ord_id, update.status.value, None, update, cum)
        return TradeEvent(cl_ord_id, update.status.value, None, None, cum)

    async def _cancel_reject(self, msg: FixMessage) -> None:
        orig = (msg.get(41) or b"").decode("latin-1")
        if not orig:
            raise BadInput("OrigClOrdID(41)", None, "required on an OrderCancelReject")
        order = self._orders.get(orig)
        if order is not None:
            status = ORD_STATUS.get(msg.get(39) or b"")
            if status is not None and status in OPEN | {OrdStatus.FILLED, OrdStatus.CANCELED}:
                order.status = status
        kind = "order_replace_rejected" if msg.get(434) == b"2" else "order_cancel_rejected"
        log.info("%s for %s: %s", kind, orig, (msg.get(58) or b"").decode("latin-1"))
        assert self._on_trade is not None
        await self._on_trade(TradeEvent(orig, kind, None, None, order.cum if order else 0))

    def _status_reply(self, msg: FixMessage) -> None:
        mass = msg.get(584)
        if mass is not None:
            pending = self._pending_mass.get(mass.decode("latin-1"))
            if pending is not None:
                reports, done = pending
                if msg.get(911) != b"0":
                    reports.append(msg)
                if msg.get(912) == b"Y" and not done.done():
                    done.set_result(None)
            return
        req = (msg.get(790) or b"").decode("latin-1")
        future = self._pending_status.pop(req, None)
        if future is not None and not future.done():
            future.set_result(msg)

    # ------------------------------------------------------------ orders
    def _send(self, msg_type: bytes, body: list[tuple[int, object]]) -> None:
        self._start().send(msg_type, body)

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder:
        cmd = dataclasses.replace(command, client_order_id=broker_client_id)
        try:
            msg_type, body = self.mapper.new_order_single(cmd)
        except BadInput as exc:
            raise RejectedRequest(None, str(exc)) from None
        if broker_client_id in self._orders:
            raise RejectedRequest(None, f"ClOrdID {broker_client_id} already used")
        order = KnownOrder([broker_client_id], cmd.symbol, cmd.side, cmd.quantity)
        self._orders[broker_client_id] = order
        self._send(msg_type, body)  # stored: a send while offline goes out on resend
        if await self.connect(self.settings.ack_timeout_s):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(order.acked.wait(), self.settings.ack_timeout_s)
        return order.view(broker_client_id)

    def _open_order(self, broker_client_id: str) -> KnownOrder:
        order = self._orders.get(broker_client_id)
        if order is None:
            raise NotFound(None, f"order {broker_client_id} is not known to this session")
        if order.status not in OPEN:
            raise RejectedRequest(None, f'order is already in "{order.status.value}" state')
        return order

    async def cancel(self, broker_client_id: str) -> None:
        order = self._open_order(broker_client_id)
        # Unique for the life of the session (sequence numbers never repeat
        # without a reset), also across restarts: brokers refuse reused ClOrdIDs.
        request_id = f"{order.current}~C{self.store.next_sender_seq}"
        command = CancelOrder(time.time_ns(), request_id, order.current, order.symbol, order.side)
        self._send(*self.mapper.cancel_request(command))

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        order = self._open_order(broker_client_id)
        if new_broker_client_id in self._orders:
            raise RejectedRequest(None, f"ClOrdID {new_broker_client_id} already used")
        cmd = dataclasses.replace(
            command, client_order_id=new_broker_client_id, orig_client_order_id=order.current
        )
        try:
            msg_type, body = self.mapper.replace_request(cmd)
        except BadInput:  # an order sent before a restart: its terms are in the store
            if not self._recall_terms(order.current):
                raise RejectedRequest(None, f"terms of {order.current} are unknown") from None
            msg_type, body = self.mapper.replace_request(cmd)
        self._orders[new_broker_client_id] = order
        self._replace_links()[new_broker_client_id] = order.current
        self._send(msg_type, body)
        return BrokerOrder(
            new_broker_client_id,
            order.order_id,
            order.symbol,
            order.side.value,
            cmd.quantity,
            order.cum,
            order.cum * order.avg_px,
            "pending_replace",
            True,
        )

    def _recall_terms(self, cl_ord_id: str) -> bool:
        """Teach the mapper an order's terms again from the D or G we sent for it.

        A replace must repeat the order's terms (venue, MinQty, peg...); after a
        restart only the session store still has them, byte for byte.
        """
        wanted = cl_ord_id.encode()
        for raw in self._sent_newest_first():
            if b"\x0111=" + wanted + b"\x01" not in raw:
                continue
            msg = FixMessage(parse(raw))
            if msg.msg_type not in (b"D", b"G") or msg.get(11) != wanted:
                continue
            try:
                command = SubmitOrder(
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
                self.mapper.new_order_single(command)
            except (BadInput, KeyError) as exc:
                log.warning("cannot recall the terms of %s: %s", cl_ord_id, exc)
                return False
            return True
        return False

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        """The prime broker's answer to an OrderStatusRequest; None if it does not know it."""
        known = self._orders.get(broker_client_id)
        if not await self.connect():
            if known is not None:
                return self._local_view(known, broker_client_id)
            raise RejectedRequest(None, "prime broker session is not logged on")
        req = f"S{next(self._req_ids)}-{time.time_ns()}"
        future: asyncio.Future[FixMessage] = asyncio.get_running_loop().create_future()
        self._pending_status[req] = future
        side = known.side if known is not None else Side.BUY
        symbol = known.symbol if known is not None else "[N/A]"
        self._send(
            b"H",
            [
                (11, broker_client_id),
                (54, b"1" if side is Side.BUY else b"2"),
                (55, symbol),
                (790, req),
            ],
        )
        try:
            msg = await asyncio.wait_for(future, self.settings.request_timeout_s)
        except TimeoutError:
            self._pending_status.pop(req, None)
            if known is not None:
                return self._local_view(known, broker_client_id)
            raise RejectedRequest(None, "no answer to OrderStatusRequest") from None
        if msg.get(37) in (None, b"NONE"):
            return None
        view = self._as_delivered(self._status_view(msg, broker_client_id), msg)
        if known is None:  # learnt after a restart: keep it for cancels and fills
            ids = [broker_client_id]
            if view.replaced_by:
                ids.append(view.replaced_by)
            order = KnownOrder(
                ids, view.symbol, Side(view.side), view.quantity, view.broker_order_id
            )
            order.status = ORD_STATUS.get(msg.get(39) or b"", OrdStatus.NEW)
            order.cum, order.avg_px = view.filled, read_price(msg, 6, "AvgPx")
            for cl in ids:
                self._orders[cl] = order
        return view

    def _as_delivered(self, view: BrokerOrder, reply: FixMessage) -> BrokerOrder:
        """The prime broker's answer minus the reports still held for the runtime.

        Before ``stream`` the runtime reconciles: it asks for each open order
        and books whatever the broker filled beyond its own record as one
        synthetic ``recon:`` fill. Over FIX nothing was missed — the resend
        already brought every ExecutionReport of the outage, with its ExecID,
        venue and price, and they wait in ``_held`` for ``stream``. Answering
        with the broker's full CumQty would book those fills twice over
        (once as a lump now, the real ones then dropped as "already
        reconciled"), so the executions table would no longer match the
        broker's. So the answer is the order as of the last report the runtime
        will have seen once the held ones are delivered: CumQty less their
        quantity, and still open if any report of the order is in transit (the
        held reports carry it to its real state, in order).
        """
        if self._on_trade is not None or not self._held or view.replaced_by is not None:
            return view  # (an earlier ClOrdID's fills come from our own record)
        current = (reply.get(11) or b"").decode("latin-1") or view.broker_client_id
        chain = {view.broker_client_id, current, *self._earlier_ids(current)}
        held_qty = held_notional = 0
        touched = False
        booked = self.mapper.exec_ids  # a copy: take it once
        for msg in self._held:  # in arrival order: a replace adds its new ClOrdID first
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

    # ------------------------------------------------- fills per ClOrdID
    def _local_view(self, order: KnownOrder, broker_client_id: str) -> BrokerOrder:
        """What we know of the order without asking, filled counted per ClOrdID."""
        view = order.view(broker_client_id)
        if view.replaced_by is not None:
            filled, notional = self._filled_by_id.get(broker_client_id, (0, 0))
        else:
            filled, notional = self._own_cum(broker_client_id, view.filled, view.filled_notional)
        return dataclasses.replace(view, filled=filled, filled_notional=notional)

    def _note_fill(self, cl_ord_id: str, quantity: int, price: int) -> None:
        qty, notional = self._filled_by_id.get(cl_ord_id, (0, 0))
        self._filled_by_id[cl_ord_id] = (qty + quantity, notional + quantity * price)

    def _replace_links(self) -> dict[str, str]:
        """New ClOrdID → the one it replaced, from every G we ever sent (the
        session store keeps them across restarts; read once, then kept up)."""
        if self._replaced_from is None:
            links: dict[str, str] = {}
            for raw in self._sent_oldest_first():
                if b"\x0135=G\x01" not in raw:
                    continue
                msg = FixMessage(parse(raw))
                new, orig = msg.get(11), msg.get(41)
                if new and orig:
                    links[new.decode("latin-1")] = orig.decode("latin-1")
            self._replaced_from = links
        return self._replaced_from

    def _sent_oldest_first(self) -> Iterator[bytes]:
        """Every message in the session store, a page at a time (a long session's
        history is never all in memory at once)."""
        last = self.store.next_sender_seq - 1
        for low in range(1, last + 1, STORE_PAGE):
            for _, raw in self.store.sent_range(low, min(last, low + STORE_PAGE - 1)):
                yield raw

    def _sent_newest_first(self) -> Iterator[bytes]:
        high = self.store.next_sender_seq - 1
        while high >= 1:
            low = max(1, high - STORE_PAGE + 1)
            for _, raw in reversed(self.store.sent_range(low, high)):
                yield raw
            high = low - 1

    def _earlier_ids(self, cl_ord_id: str) -> list[str]:
        """The ClOrdIDs the order had before ``cl_ord_id``, newest first."""
        links = self._replace_links()
        out: list[str] = []
        current = cl_ord_id
        while current in links and links[current] not in out and links[current] != cl_ord_id:
            current = links[current]
            out.append(current)
        return out

    def _own_cum(self, cl_ord_id: str, cum: int, notional: int) -> tuple[int, int]:
        """CumQty (and notional) of the order → what was filled under ``cl_ord_id``.

        FIX counts CumQty over the whole order, across replaces; the runtime,
        like Alpaca (where a replace makes a new order), counts per client
        order id and books any excess as a missed fill. So the fills known
        under the order's earlier ClOrdIDs are taken off. Without that a
        replaced order that had fills was booked twice by the next
        reconciliation (a ``recon:`` fill for the earlier ids' quantity)."""
        earlier_qty = earlier_notional = 0
        for earlier in self._earlier_ids(cl_ord_id):
            qty, value = self._filled_by_id.get(earlier, (0, 0))
            earlier_qty += qty
            earlier_notional += value
        if not earlier_qty:
            return cum, notional
        return max(0, cum - earlier_qty), max(0, notional - earlier_notional)

    def _status_view(self, msg: FixMessage, asked: str) -> BrokerOrder:
        current = (msg.get(11) or asked.encode()).decode("latin-1")
        status = ORD_STATUS.get(msg.get(39) or b"")
        if status is None:
            raise BadInput("OrdStatus(39)", msg.get(39), "unknown order status")
        cum = read_whole(msg, 14, "CumQty")
        notional = cum * read_price(msg, 6, "AvgPx")
        replaced_by = None
        if current != asked:
            replaced_by, status = current, OrdStatus.REPLACED
            filled, notional = self._filled_by_id.get(asked, (0, 0))
        else:
            filled, notional = self._own_cum(asked, cum, notional)
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

    async def open_orders(self) -> list[BrokerOrder]:
        """OrderMassStatusRequest (AF, all orders): one status report per open order."""
        if not await self.connect():
            raise RejectedRequest(None, "prime broker session is not logged on")
        req = f"M{next(self._req_ids)}-{time.time_ns()}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        reports: list[FixMessage] = []
        self._pending_mass[req] = (reports, done)
        self._send(b"AF", [(584, req), (585, 7)])
        try:
            await asyncio.wait_for(done, self.settings.request_timeout_s)
        except TimeoutError:
            raise RejectedRequest(None, "no complete answer to OrderMassStatusRequest") from None
        finally:
            self._pending_mass.pop(req, None)
        views = []
        for msg in reports:
            current = (msg.get(11) or b"").decode("latin-1")
            views.append(self._status_view(msg, current))
        return views

    # ------------------------------------------------------ positions, account
    def _book(self, fill: Fill) -> None:
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        qty = self._positions.get(fill.symbol, 0) + signed
        if qty:
            self._positions[fill.symbol] = qty
        else:
            self._positions.pop(fill.symbol, None)
        self._cash -= signed * fill.price + fill.fee
        self._last_price[fill.symbol] = fill.price

    async def positions(self) -> dict[str, int]:
        return dict(self._positions)

    async def account(self) -> Account:
        held = sum(q * self._last_price.get(s, 0) for s, q in self._positions.items())
        equity = self._cash + held
        return Account(equity=equity, cash=self._cash, buying_power=equity, status="ACTIVE")

    # ------------------------------------------------------------ market data
    def _data(self) -> Broker:
        if self.data_broker is None:
            raise RejectedRequest(None, "the FIX prime broker has no market-data source")
        return self.data_broker

    async def clock(self) -> MarketClock:
        return await self._data().clock()

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        bars = await self._data().bars(symbols, start_ns, end_ns)
        for bar in bars:
            self._last_price[bar.symbol] = bar.close
        return bars

    async def stream(self, sinks: StreamSinks) -> None:
        """Bars from the data broker; trade updates from the FIX session."""

        async def bar_seen(bar: Bar) -> None:
            self._last_price[bar.symbol] = bar.close
            await sinks.on_bar(bar)

        self._on_bad = sinks.on_bad
        self._on_connected = sinks.on_trading_connected
        if self.data_broker is not None:
            await self.data_broker.stream(
                StreamSinks(bar_seen, _ignore_trade, sinks.on_bad, _nothing)
            )
        self._start()
        async with self._lock:
            self._on_trade = sinks.on_trade
            held, self._held = self._held, []
            for msg in held:
                await self._handle_safely(msg)
                if msg.seq_num is not None:
                    self._mark.set(msg.seq_num, msg.get(43) == b"Y")
        if self.logged_on:
            self._spawn(sinks.on_trading_connected())

    async def restart_data_stream(self, reason: str) -> None:
        await self._data().restart_data_stream(reason)

    def shutting_down(self) -> None:
        """The runtime has begun a graceful stop: from here on it may drop the
        trade events it is handed (it ignores them once it is stopping), so the
        processed mark stops advancing. Reports from now on are read again
        after the next start (PossDup resend); those it did book are dropped
        by ExecID, those it dropped are booked then — none is lost."""
        self._mark_frozen = True

    async def stop_market_data(self) -> None:
        """The first thing the runtime's graceful stop does (see ``shutting_down``)."""
        self.shutting_down()
        if isinstance(self.data_broker, StopsMarketData):
            await self.data_broker.stop_market_data()

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until every received report has been handed to the runtime."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._inbox is not None and not self._inbox.empty() and loop.time() < deadline:
            await asyncio.sleep(0.01)

    async def abort(self) -> None:
        """Drop the session without Logout and release the store: what a crash
        looks like to the peer (tests use it to restart the adapter)."""
        if self._initiator is not None:
            await self._initiator.stop()
        await self._cancel_tasks()
        self.store.close()
        self._mark.close()

    async def _cancel_tasks(self) -> None:
        for task in [self._consumer, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def close(self) -> None:
        """Logout (the peer keeps our session for the next Logon), then release."""
        if self._initiator is not None:
            if self.logged_on:
                await self._initiator.logout("gateway stopping", timeout_s=2.0)
            await self.drain(2.0)
            await self._initiator.stop()
        await self._cancel_tasks()
        if self.data_broker is not None:
            await self.data_broker.close()
        self.store.close()
        self._mark.close()
