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
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from core.commands import (
    CancelOrder,
    Fill,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
)
from core.errors import BadInput
from core.events import Bar
from fix.framing import FixMessage
from fix.orders import ORD_STATUS, OrderMapper
from fix.session import Session, SessionConfig, SessionEvent
from fix.store import SqliteStore
from fix.transport import FixInitiator
from gateway.brokers.base import (
    Account,
    Broker,
    BrokerOrder,
    Connection,
    FixSessionLink,
    MarketClock,
    RejectedRequest,
    StopsMarketData,
    StreamSinks,
    TradeEvent,
)
from gateway.brokers.prime_fix.chains import OrderChains
from gateway.brokers.prime_fix.held import as_delivered
from gateway.brokers.prime_fix.ledger import KnownOrder, MarkStore, ProcessedMark, open_order
from gateway.brokers.prime_fix.mapping import (
    event_level,
    fill_from_record,
    is_trade_report,
    read_price,
)
from gateway.brokers.prime_fix.positions import PositionLedger
from gateway.brokers.prime_fix.reports import answer_status, cancel_reject_event, trade_event
from gateway.brokers.prime_fix.settings import PrimeFixSettings

log = logging.getLogger("gateway.prime_fix")
TradeHandler = Callable[[TradeEvent], Awaitable[None]]
MAX_EVENTS = 1000


async def _ignore_trade(_event: TradeEvent) -> None:
    return None


async def _nothing() -> None:
    return None


def _market_data(data_broker: Broker | None) -> Broker:
    """The broker that serves clock, bars and the stream: FIX carries orders only."""
    if data_broker is None:
        raise RejectedRequest(None, "the FIX prime broker has no market-data source")
    return data_broker


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
        self._ledger = PositionLedger(settings.opening_cash, settings.opening_positions)
        self._chains = OrderChains(self.store)
        for fill in booked_fills:
            self._ledger.book(fill)
            self._chains.note_fill(id_prefix + fill.client_order_id, fill.quantity, fill.price)
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

    def connections(self) -> tuple[Connection, ...]:
        """The session and its sequence numbers (``ConnectionReporting``)."""
        store = self.store
        links = FixSessionLink(self.logged_on, store.next_sender_seq, store.next_target_seq)
        return (Connection(self.name, links),)

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
        """Hand one report on; a malformed one is counted and told, never fatal."""
        try:
            if not is_trade_report(msg):
                if msg.msg_type == b"8":
                    answer_status(msg, self._pending_status, self._pending_mass)
                return
            assert self._on_trade is not None
            if msg.msg_type == b"9":
                await self._on_trade(cancel_reject_event(msg, self._orders))
                return
            events = self.mapper.on_message(msg, time.time_ns())
            if not events:
                self.counters["duplicates"] += 1
                return
            trade = trade_event(msg, events, self._orders, self._chains, self._ledger)
            if trade is not None:
                await self._on_trade(trade)
        except BadInput as exc:
            self.counters["bad_reports"] += 1
            log.warning("rejected malformed FIX report: %s", exc)
            if self._on_bad is not None:
                await self._on_bad("fix_report", exc)
        except Exception:  # a handler bug must not stop the report loop
            log.exception("FIX report handling failed")

    # ------------------------------------------------------------ orders
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
        self._start().send(msg_type, body)  # stored: a send while offline goes out on resend
        if await self.connect(self.settings.ack_timeout_s):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(order.acked.wait(), self.settings.ack_timeout_s)
        return order.view(broker_client_id)

    async def cancel(self, broker_client_id: str) -> None:
        order = open_order(self._orders, broker_client_id)
        # Unique for the life of the session (sequence numbers never repeat
        # without a reset), also across restarts: brokers refuse reused ClOrdIDs.
        request_id = f"{order.current}~C{self.store.next_sender_seq}"
        command = CancelOrder(time.time_ns(), request_id, order.current, order.symbol, order.side)
        self._start().send(*self.mapper.cancel_request(command))

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        order = open_order(self._orders, broker_client_id)
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
        self._chains.replace_links()[new_broker_client_id] = order.current
        self._start().send(msg_type, body)
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
        """Teach the mapper an order's terms again from the D or G we sent for it
        (a replace must repeat them; after a restart only the store has them)."""
        command = self._chains.sent_terms(cl_ord_id)
        if command is None:
            return False
        try:
            self.mapper.new_order_single(command)
        except BadInput as exc:
            log.warning("cannot recall the terms of %s: %s", cl_ord_id, exc)
            return False
        return True

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        """The prime broker's answer to an OrderStatusRequest; None if it does not know it."""
        known = self._orders.get(broker_client_id)
        if not await self.connect():
            if known is not None:
                return self._chains.local_view(known, broker_client_id)
            raise RejectedRequest(None, "prime broker session is not logged on")
        req = f"S{next(self._req_ids)}-{time.time_ns()}"
        future: asyncio.Future[FixMessage] = asyncio.get_running_loop().create_future()
        self._pending_status[req] = future
        side = known.side if known is not None else Side.BUY
        symbol = known.symbol if known is not None else "[N/A]"
        self._start().send(
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
                return self._chains.local_view(known, broker_client_id)
            raise RejectedRequest(None, "no answer to OrderStatusRequest") from None
        if msg.get(37) in (None, b"NONE"):
            return None
        view = self._chains.status_view(msg, broker_client_id)
        if self._on_trade is None:
            view = as_delivered(
                view, msg, self._held, self.mapper.exec_ids, self._chains.earlier_ids
            )
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

    async def open_orders(self) -> list[BrokerOrder]:
        """OrderMassStatusRequest (AF, all orders): one status report per open order."""
        if not await self.connect():
            raise RejectedRequest(None, "prime broker session is not logged on")
        req = f"M{next(self._req_ids)}-{time.time_ns()}"
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        reports: list[FixMessage] = []
        self._pending_mass[req] = (reports, done)
        self._start().send(b"AF", [(584, req), (585, 7)])
        try:
            await asyncio.wait_for(done, self.settings.request_timeout_s)
        except TimeoutError:
            raise RejectedRequest(None, "no complete answer to OrderMassStatusRequest") from None
        finally:
            self._pending_mass.pop(req, None)
        views = []
        for msg in reports:
            current = (msg.get(11) or b"").decode("latin-1")
            views.append(self._chains.status_view(msg, current))
        return views

    # ------------------------------------------------------ positions, account
    async def positions(self) -> dict[str, int]:
        return dict(self._ledger.positions)

    async def account(self) -> Account:
        return self._ledger.account()

    # ------------------------------------------------------------ market data
    async def clock(self) -> MarketClock:
        return await _market_data(self.data_broker).clock()

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        bars = await _market_data(self.data_broker).bars(symbols, start_ns, end_ns)
        for bar in bars:
            self._ledger.last_price[bar.symbol] = bar.close
        return bars

    async def stream(self, sinks: StreamSinks) -> None:
        """Bars from the data broker; trade updates from the FIX session."""

        async def bar_seen(bar: Bar) -> None:
            self._ledger.last_price[bar.symbol] = bar.close
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
        await _market_data(self.data_broker).restart_data_stream(reason)

    def reconciled(self, broker_client_id: str, fill: Fill) -> None:
        """The runtime booked ``fill`` (a ``recon:`` lump) for this order without a
        report of ours: the ledger's positions and the ClOrdID's fills learn it,
        as they do at the next start from the executions table, so positions
        agree with the engine's now and a late report of the same quantity is
        not counted again (``trade_event``)."""
        self._ledger.book(fill)
        self._chains.note_fill(broker_client_id, fill.quantity, fill.price)

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
