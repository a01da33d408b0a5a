"""The live shell: broker streams in, engine in the middle, broker/SQLite/Telegram out.

This is the live twin of ``sim.runner``: every input (bar, fill, order update,
timer, cash flow) goes through one place, ``_process``, which

1. commits it to the SQLite journal (an execution or a transfer with fsync; a
   repeated execution id or transfer id is dropped there, before the engine
   could see it),
2. hands it to ``Engine.handle`` with the engine clock set to the journaled
   market time,
3. writes the commands' records (orders, signals, trades, TCA, alerts) in one
   transaction that also advances ``applied_seq``, and
4. queues broker commands for the sender task and alerts for Telegram.

Crash-only: start-up is the same whether the last run crashed or stopped
cleanly. A fresh engine (same seed) replays the journal, which rebuilds it
exactly, order ids included; records of inputs past ``applied_seq`` are
written again; then every order the engine thinks is live is checked against
the broker (missed fills are booked, missed status changes fed, commands that
never reached the broker are sent, or refused if stale), positions are
compared, and missing bars are fetched, all before the streams start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.agent import SymbolAgent
from core.commands import (
    Alert,
    CancelOrder,
    CashFlow,
    Fill,
    OrderUpdate,
    OrdStatus,
    Record,
    ReplaceOrder,
    ScheduleTimer,
    SubmitOrder,
    Timer,
)
from core.engine import Engine
from core.errors import BadInput
from core.events import Bar
from core.execution.orders import TERMINAL, ChildOrder
from core.instruments import AssetClass, Instrument
from core.money import format_price, round_half_even_div
from gateway.brokers.base import Broker, BrokerOrder, RejectedRequest, TradeEvent
from gateway.config import Config
from gateway.journal import Event
from gateway.notify import Notifier
from gateway.session import CalendarSchedule, EngineClock, MarketTime
from gateway.storage import DuplicateCashFlow, DuplicateExecution, Storage

log = logging.getLogger("gateway.runtime")

MINUTE_NS = 60 * 10**9
STALE_ENTRY_PERIODS = 2
"""An entry decided on a bar older than two bar periods (SPEC §4.6's stale
rule) is refused rather than sent: the price it was sized on is gone."""
SILENT_PERIODS = 3
"""No bar for three bar periods while the session is open: the stream is
considered silent and is reconnected (one period more than §4.6's "stale", so
a single late bar does not cost a reconnect)."""
BACKFILL_PERIODS = 10
BACKFILL_MIN_WAIT_S = 15.0
ALERT_COALESCE_S = 60.0
"""Engine warnings of one kind (gaps, stale feeds...) reach Telegram at most once
a minute: a feed outage across 30 symbols must not bury the fill alerts."""
CASH_FLOW_POLL_MAX_S = 30.0
"""Deposits and withdrawals are polled once per bar period of wall time (a
transfer can change a decision from the next bar on, not sooner), but at
most every 30 s against the live market: two requests a minute, 1% of
Alpaca's 200, for events that happen a few times a year."""
CASH_FLOW_POLL_MIN_S = 1.0
"""...and at least 1 s apart when the market runs faster than real time (the
stand-in), so an accelerated session cannot turn the poll into a flood."""
RECONCILE_GRACE_S = 2.0
"""Wall seconds an order may wait for its stream events before REST polling
treats missing fills as missed (avoids racing events still in flight)."""


@dataclass
class RuntimeOptions:
    status_interval: float = 10.0
    reconcile_interval: float = 3.0
    clock_interval: float = 1.0
    tick: float = 0.05  # timer resolution in wall seconds
    send_alerts_during_catchup: bool = False
    cash_flow_interval: float | None = None  # None: one bar period, within [1 s, 30 s]


@dataclass
class Counters:
    bars: int = 0
    fills: int = 0
    cash_flows: int = 0
    duplicate_executions: int = 0
    duplicate_cash_flows: int = 0
    bad_inputs: int = 0
    rejected_sends: int = 0
    stale_entries_refused: int = 0
    reconciled_fills: int = 0
    discrepancies: int = 0
    reconnects: int = 0
    replayed: int = 0
    alerts: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Ids:
    """Engine order ids ↔ broker client ids.

    The engine numbers its orders from 1 in every new database; the broker
    keeps client ids unique per account forever. A per-database prefix (made
    once, stored in ``meta``) keeps a new database from colliding with an old
    one's orders while staying a pure function of the engine's id.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def broker(self, engine_id: str) -> str:
        return f"{self.prefix}{engine_id}"

    def engine(self, broker_id: str) -> str | None:
        if broker_id.startswith(self.prefix):
            return broker_id[len(self.prefix) :]
        return None


def instruments_for(symbols: Sequence[str]) -> list[Instrument]:
    result = []
    for symbol in symbols:
        if "/" in symbol:
            result.append(Instrument(symbol, AssetClass.CRYPTO, qty_decimals=9))
        else:
            result.append(Instrument(symbol))
    return result


class Gateway:
    def __init__(
        self,
        config: Config,
        broker: Broker,
        storage: Storage,
        notifier: Notifier | None = None,
        options: RuntimeOptions | None = None,
    ) -> None:
        self.config = config
        self.broker = broker
        self.storage = storage
        self.notifier = notifier
        self.options = options or RuntimeOptions()
        self.counters = Counters()
        self.market = MarketTime()
        self.calendar = CalendarSchedule()
        self.clock = EngineClock()
        seed = int(self.storage.meta_default("seed", lambda: str(secrets.randbits(63))))
        prefix = self.storage.meta_default("id_prefix", lambda: f"sv{secrets.token_hex(3)}-")
        self.ids = Ids(prefix)
        self.symbols = list(config.symbols)
        self.engine = Engine(
            instruments_for(self.symbols),
            config.initial_balance,
            self.clock,
            np.random.default_rng(seed),
            limits=config.risk,
            agent_factory=lambda i: SymbolAgent(
                i,
                self_tracking=False,
                schedule=None if i.asset_class is AssetClass.CRYPTO else self.calendar,
            ),
        )
        self._lock = asyncio.Lock()
        self._pending: deque[tuple[Event, str, Callable[[Event], Event | None] | None]] = deque()
        self._outbox: asyncio.Queue[SubmitOrder | CancelOrder | ReplaceOrder] = asyncio.Queue()
        self._timers: dict[tuple[int, str], int] = {}
        self._last_bar: dict[str, int] = {}
        self._last_bar_wall = time.monotonic()
        self._sent_wall: dict[str, float] = {}
        self._booked: dict[str, tuple[int, int]] = {}  # engine id → (qty, notional) booked
        self._catching_up = False
        self._replaying = False
        self._stopping = False
        self._stop_bars = False
        self._sending = False
        self._queued: dict[str, int] = {}
        self._decided_wall: dict[str, float] = {}
        self._stream_restarts = 0
        self._alert_window: dict[str, tuple[float, int]] = {}
        self._bars: asyncio.Queue[Bar] = asyncio.Queue()
        self._pumping = False
        self._decided_on: dict[str, int] = {}  # engine order id → end of the bar it came from
        self._clock_open = False
        self._summary_close: int | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._bad_flows: set[str] = set()  # bad activity rows already reported once
        # The brokers that report deposits/withdrawals (Alpaca's activities); a
        # tiered broker's own brokers are asked, each that can answer.
        inner = getattr(broker, "brokers", None) or [broker]
        self._cash_sources = [b for b in inner if callable(getattr(b, "cash_flows", None))]

    # ================================================================ start
    async def start(self, *, loops: bool = True) -> None:
        """Recover, reconcile and catch up; then start the streams and loops.

        ``loops=False`` starts only the order sender (in-process tests drive
        time, bars and reconciliation themselves)."""
        self._replay()
        await self._read_clock()
        # Transfers count from the first start on: money already in the account
        # then is the configured initial balance, not a deposit.
        self.storage.meta_default("cash_flows_after", lambda: str(self.market.now_ns()))
        self._reapply_unapplied()
        await self._replay_broker_executions()
        await self.reconcile(startup=True)
        await self._check_positions("startup")
        await self.poll_cash_flows()  # transfers made while we were away count first
        await self._catch_up()
        await self.broker.stream(self._on_bar, self._on_trade, self._on_bad, self._on_reconnect)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._sender(), name="sender"))
        self._tasks.append(loop.create_task(self._bar_pump(), name="bars"))
        if loops:
            for name, coro in (
                ("timers", self._timer_loop()),
                ("clock", self._clock_loop()),
                ("reconcile", self._reconcile_loop()),
                ("watchdog", self._watchdog_loop()),
                ("status", self._status_loop()),
                ("cash_flows", self._cash_flow_loop()),
            ):
                self._tasks.append(loop.create_task(coro, name=name))
        self._emit_alert(
            "info",
            "gateway_started",
            f"{self.config.system.name} trading {', '.join(self.symbols)}"
            f" ({self.broker.name}, {len(self.engine.positions())} positions)",
        )
        log.info("gateway ready", extra={"sv_event": "ready"})

    async def _replay_broker_executions(self) -> None:
        """A broker that can replay the executions made while we were down (IBKR's
        ``reqExecutions``) books them now, with their own ids and fees, before the
        reconciliation below would book only the missing quantity (``recon:``)."""
        replay = getattr(self.broker, "replay_executions", None)
        if replay is None:
            return
        try:
            await replay(self._on_trade)
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot replay the broker's executions: %s", exc)

    async def stop(self) -> None:
        """Graceful stop: no new inputs, finish the one in hand, flush alerts."""
        self._stop_bars = True  # no new bars, hence no new decisions
        stop_data = getattr(self.broker, "stop_market_data", None)
        if stop_data is not None:
            await stop_data()
        for task in self._tasks:
            if task.get_name() != "sender":
                task.cancel()
        # Orders already decided are sent; fills that happened meanwhile are booked
        # (the trade-updates stream stays up until this is done).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain_outbox(), 5.0)
        with contextlib.suppress(Exception):
            await self.reconcile(startup=False, grace=0.0)
        await self._check_positions("shutdown")
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.broker.close()
        async with self._lock:  # an input being processed completes first
            pass
        if self.notifier is not None:
            await self.notifier.drain(5.0)
        log.info("gateway stopped cleanly", extra={"sv_event": "stopped"})

    # =============================================================== replay
    def _replay(self) -> None:
        """Rebuild the engine from the journal (commands are not re-executed)."""
        self._replaying = True
        count = 0
        started = time.monotonic()
        for seq, at_ns, event in self.storage.inputs():
            self.clock.set(at_ns)
            try:
                commands = self.engine.handle(event)
            except Exception:  # the engine should never raise; never let it stop a restart
                log.exception("replaying input %d raised; skipped", seq)
                continue
            self._note_input(event)
            self._note_decisions(event, commands)
            for command in commands:
                if type(command) is ScheduleTimer:
                    key = (command.time_ns, command.key)
                    self._timers[key] = self._timers.get(key, 0) + 1
            count += 1
        self._replaying = False
        self.counters.replayed = count
        for row in self.storage.executions():
            qty, notional = self._booked.get(str(row["client_order_id"]), (0, 0))
            self._booked[str(row["client_order_id"])] = (
                qty + int(row["quantity"]),  # type: ignore[call-overload]
                notional + int(row["quantity"]) * int(row["price"]),  # type: ignore[call-overload]
            )
        if count:
            log.info(
                "recovered engine from %d journaled inputs in %.2fs: %d positions, %d open orders",
                count,
                time.monotonic() - started,
                len(self.engine.positions()),
                len(self.engine.open_orders()),
                extra={"sv_event": "replayed", "sv_inputs": str(count)},
            )

    def _note_input(self, event: Event) -> None:
        if type(event) is Bar:
            self._last_bar[event.symbol] = event.time_ns
            self.market.observe_floor(event.time_ns + MINUTE_NS)
        elif type(event) is Timer:
            key = (event.time_ns, event.key)
            left = self._timers.get(key, 0) - 1
            if left > 0:
                self._timers[key] = left
            else:
                self._timers.pop(key, None)

    def _note_decisions(self, event: Event, commands: list[object]) -> None:
        """Orders created while handling a bar were decided on that bar's data."""
        if type(event) is Bar:
            for command in commands:
                if type(command) is SubmitOrder:
                    self._decided_on[command.client_order_id] = event.time_ns + MINUTE_NS

    def _reapply_unapplied(self) -> None:
        """Records of inputs the engine saw but whose effects were not committed
        (a crash between the two transactions) are written now, from a replay of
        just those inputs' commands, which the engine already produced once."""
        applied = int(self.storage.meta("applied_seq") or 0)
        last = self.storage.db.execute("SELECT MAX(seq) FROM inputs").fetchone()[0] or 0
        if last <= applied:
            return
        # Rebuild a scratch engine to regenerate exactly those commands.
        seed = int(self.storage.meta("seed") or 0)
        clock = EngineClock()
        scratch = Engine(
            instruments_for(self.symbols),
            self.config.initial_balance,
            clock,
            np.random.default_rng(seed),
            limits=self.config.risk,
            agent_factory=lambda i: SymbolAgent(
                i,
                self_tracking=False,
                schedule=None if i.asset_class is AssetClass.CRYPTO else self.calendar,
            ),
        )
        for seq, at_ns, event in self.storage.inputs():
            clock.set(at_ns)
            commands = scratch.handle(event)
            if seq > applied:
                with self.storage.transaction():
                    self._apply_records(seq, at_ns, event, commands, scratch)
                for command in commands:
                    if type(command) in (SubmitOrder, CancelOrder, ReplaceOrder):
                        self._enqueue(command)  # type: ignore[arg-type]
        log.warning(
            "re-applied the records of inputs %d..%d after an interrupted write", applied + 1, last
        )

    # ============================================================ inputs
    async def feed(
        self,
        event: Event,
        source: str = "stream",
        guard: Callable[[Event], Event | None] | None = None,
    ) -> None:
        """The one entry point for engine inputs; serialised, in arrival order.

        ``guard`` is evaluated under the lock, just before the input is
        journaled: it may drop or reshape the input against the state *then*
        (a stream fill and a reconciliation can race for the same quantity;
        whichever comes second must see the first)."""
        async with self._lock:
            self._pending.append((event, source, guard))
            while self._pending:
                item, origin, check = self._pending.popleft()
                if check is not None:
                    checked = check(item)
                    if checked is None:
                        continue
                    item = checked
                self._process(item, origin)

    def _process(self, event: Event, source: str) -> None:
        at_ns = max(self.market.now_ns(), getattr(event, "time_ns", 0))
        if type(event) is Bar:
            at_ns = max(at_ns, event.time_ns + MINUTE_NS)
        try:
            seq = self.storage.journal(at_ns, event, source)
        except DuplicateExecution:
            self.counters.duplicate_executions += 1
            log.info("duplicate execution %s ignored", event.exec_id)  # type: ignore[union-attr]
            return
        except DuplicateCashFlow:
            self.counters.duplicate_cash_flows += 1
            log.info("cash flow %s already booked", event.flow_id)  # type: ignore[union-attr]
            return
        self.clock.set(at_ns)
        commands = self.engine.handle(event)
        self._note_input(event)
        self._note_decisions(event, commands)
        if type(event) is Fill:
            qty, notional = self._booked.get(event.client_order_id, (0, 0))
            self._booked[event.client_order_id] = (
                qty + event.quantity,
                notional + event.quantity * event.price,
            )
        elif type(event) is Bar:
            self.counters.bars += 1
        elif type(event) is CashFlow:
            self.counters.cash_flows += 1
        with self.storage.transaction():
            self._apply_records(seq, at_ns, event, commands, self.engine)
        for command in commands:
            kind = type(command)
            if kind is SubmitOrder or kind is CancelOrder or kind is ReplaceOrder:
                self._enqueue(command)  # type: ignore[arg-type]
            elif kind is ScheduleTimer:
                key = (command.time_ns, command.key)  # type: ignore[union-attr]
                self._timers[key] = self._timers.get(key, 0) + 1
            elif kind is Alert:
                self._send_alert(command)  # type: ignore[arg-type]
            elif kind is Record and command.kind == "fill":  # type: ignore[union-attr]
                self._fill_alert(command.payload)  # type: ignore[union-attr]

    def _apply_records(
        self, seq: int, at_ns: int, event: Event, commands: list[object], engine: Engine
    ) -> None:
        """All database effects of one input; the caller holds one transaction."""
        st = self.storage
        touched: set[str] = set()
        for command in commands:
            kind = type(command)
            if kind is SubmitOrder:
                c: SubmitOrder = command  # type: ignore[assignment]
                st.record_order(
                    c.client_order_id,
                    self.ids.broker(c.client_order_id),
                    parent_id=c.parent_id,
                    symbol=c.symbol,
                    side=c.side.value,
                    quantity=c.quantity,
                    order_type=c.order_type.value,
                    limit_price=c.limit_price,
                    time_in_force=c.time_in_force.value,
                    created_ns=c.time_ns,
                )
            elif kind is CancelOrder:
                st.record_request(
                    command.client_order_id,
                    "cancel",  # type: ignore[union-attr]
                    command.orig_client_order_id,
                    None,
                    None,  # type: ignore[union-attr]
                    command.time_ns,
                )  # type: ignore[union-attr]
            elif kind is ReplaceOrder:
                r: ReplaceOrder = command  # type: ignore[assignment]
                st.record_request(
                    r.client_order_id,
                    "replace",
                    r.orig_client_order_id,
                    r.quantity,
                    r.limit_price,
                    r.time_ns,
                )
            elif kind is Alert:
                a: Alert = command  # type: ignore[assignment]
                st.record_alert(a.time_ns, a.level, a.kind, a.text)
            elif kind is Record:
                rec: Record = command  # type: ignore[assignment]
                if rec.kind == "signal":
                    st.record_signal(rec.time_ns, rec.payload)
                elif rec.kind == "tca":
                    st.record_tca(rec.time_ns, rec.payload)
                elif rec.kind == "fill":
                    self._trade_book(rec.time_ns, rec.payload)
                    touched.add(str(rec.payload["client_order_id"]))
                else:
                    st.record(rec.time_ns, rec.kind, rec.payload)
                if rec.kind == "order":
                    touched.add(str(rec.payload["client_order_id"]))
        if type(event) in (Fill, OrderUpdate):
            touched.add(event.client_order_id)  # type: ignore[union-attr]
        for order_id in touched:
            order = engine.order(order_id)
            if order is not None:
                for known in {order.client_order_id, *order.ids}:
                    st.update_order(known, order.status.value, order.filled, at_ns)
        st.db.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('applied_seq', ?)", (str(seq),)
        )

    def _trade_book(self, time_ns: int, payload: dict[str, object]) -> None:
        """Round trips from fills: open from flat, add, reduce, close (P&L), flip."""
        st = self.storage
        symbol = str(payload["symbol"])
        qty = int(payload["quantity"])  # type: ignore[call-overload]
        price = int(payload["price"])  # type: ignore[call-overload]
        after = int(payload["position"])  # type: ignore[call-overload]
        realized = int(payload["realized"])  # type: ignore[call-overload]
        signed = qty if payload["side"] == "buy" else -qty
        before = after - signed
        trade = st.open_trade(symbol)
        if before == 0 or trade is None:
            if after != 0:
                st.record_open(symbol, 1 if after > 0 else -1, abs(after), price, time_ns)
            return
        trade_id = trade[0]
        if after == 0 or (after > 0) != (before > 0):
            total = st.record_close(trade_id, price, time_ns, realized)
            log.info(
                "trade closed %s realised %s",
                symbol,
                format_price(total),
                extra={"sv_event": "trade_closed"},
            )
            if after != 0:
                st.record_open(symbol, 1 if after > 0 else -1, abs(after), price, time_ns)
        elif abs(after) > abs(before):
            st.add_to_trade(trade_id, qty, price)
        else:
            st.add_realized(trade_id, realized)

    # ============================================================ alerts
    def _send_alert(self, alert: Alert) -> None:
        self.counters.alerts += 1
        level = {"error": logging.ERROR, "warning": logging.WARNING}.get(alert.level, logging.INFO)
        log.log(
            level,
            "alert %s: %s",
            alert.kind,
            alert.text,
            extra={"sv_event": "alert", "sv_kind": alert.kind},
        )
        if self._catching_up and not self.options.send_alerts_during_catchup:
            return
        if self.notifier is None or alert.level not in ("warning", "error"):
            return
        # One message per alert kind per minute of wall time; the rest are in the
        # log and the database, and the next message says how many there were.
        now = time.monotonic()
        last, held = self._alert_window.get(alert.kind, (0.0, 0))
        if now - last < ALERT_COALESCE_S:
            self._alert_window[alert.kind] = (last, held + 1)
            return
        more = f" (+{held} more since)" if held else ""
        self._alert_window[alert.kind] = (now, 0)
        self.notifier.send(f"[{alert.level.upper()}] {alert.kind}: {alert.text}{more}")

    def _emit_alert(self, level: str, kind: str, text: str) -> None:
        """A gateway-level alert (health, discrepancies, start/stop): DB + log + Telegram."""
        now = self.market.now_ns()
        with self.storage.transaction():
            self.storage.record_alert(now, level, kind, text)
        self.counters.alerts += 1
        lvl = {"error": logging.ERROR, "warning": logging.WARNING}.get(level, logging.INFO)
        log.log(lvl, "alert %s: %s", kind, text, extra={"sv_event": "alert", "sv_kind": kind})
        if self.notifier is not None:
            self.notifier.send(f"[{level.upper()}] {kind}: {text}")

    def _fill_alert(self, payload: dict[str, object]) -> None:
        self.counters.fills += 1
        position = int(payload["position"])  # type: ignore[call-overload]
        qty = int(payload["quantity"])  # type: ignore[call-overload]
        signed = qty if payload["side"] == "buy" else -qty
        before = position - signed
        what = "ENTRY" if before == 0 else "EXIT" if position == 0 else "FILL"
        text = (
            f"{what} {payload['side']} {qty} {payload['symbol']} @ "
            f"{format_price(int(payload['price']))} (position {position};"  # type: ignore[call-overload]
            f" exec {payload['exec_id']})"
        )
        log.info("fill %s", text, extra={"sv_event": "fill", "sv_exec_id": str(payload["exec_id"])})
        if self.notifier is not None and not (
            self._catching_up and not self.options.send_alerts_during_catchup
        ):
            self.notifier.send(text)

    # ======================================================= broker events
    async def _on_bar(self, bar: Bar) -> None:
        """Live bars are queued, never processed in the stream's own task: a gap
        being backfilled (slowly, in a 429 storm) must not stall the socket."""
        if self._stopping or self._stop_bars:
            return
        self._last_bar_wall = time.monotonic()  # only live bars count: REST ones do not
        self.market.observe_clock(bar.time_ns + MINUTE_NS)  # a bar is published as it ends
        self._bars.put_nowait(bar)

    async def _bar_pump(self) -> None:
        while True:
            bar = await self._bars.get()
            self._pumping = True
            try:
                if not (self._stopping or self._stop_bars):
                    await self._live_bar(bar)
            finally:
                self._pumping = False

    async def _live_bar(self, bar: Bar) -> None:
        last = self._last_bar.get(bar.symbol)
        if last is not None and bar.time_ns <= last:
            log.debug("bar %s %d already seen", bar.symbol, bar.time_ns)
            return
        if last is not None and bar.time_ns > last + MINUTE_NS:
            await self._bounded_backfill(
                last + MINUTE_NS, bar.time_ns, f"gap before {bar.symbol} bar"
            )
            last = self._last_bar.get(bar.symbol)
            if last is not None and bar.time_ns <= last:
                return
        await self.feed(bar)

    async def _on_trade(self, event: TradeEvent) -> None:
        if self._stopping:
            return
        engine_id = self.ids.engine(event.broker_client_id)
        if engine_id is None:
            log.info("trade update for a foreign order %s ignored", event.broker_client_id)
            return
        order = self.engine.order(engine_id)
        if event.fill is not None:
            fill = dataclasses.replace(event.fill, client_order_id=engine_id)
            if self.storage.has_execution(fill.exec_id):
                self.counters.duplicate_executions += 1
                log.info("duplicate execution %s ignored", fill.exec_id)
                return
            cum = event.cum_filled

            def still_new(candidate: Event) -> Event | None:
                booked = self._booked.get(engine_id, (0, 0))[0]
                if cum <= booked:
                    log.info(
                        "execution %s (cum %d) already booked by reconciliation (%d)",
                        fill.exec_id,
                        cum,
                        booked,
                    )
                    self.counters.duplicate_executions += 1
                    return None
                return candidate

            await self.feed(fill, "stream", still_new)
            return
        if event.update is not None:
            await self.feed(dataclasses.replace(event.update, client_order_id=engine_id))
            return
        if order is not None and order.pending is not None:
            if event.event == "replaced" and order.pending.quantity is not None:
                await self.feed(
                    OrderUpdate(
                        self.market.now_ns(),
                        order.pending.request_id,
                        OrdStatus.REPLACED,
                        "replaced",
                    )
                )
            elif event.event in ("order_cancel_rejected", "order_replace_rejected"):
                await self.feed(
                    OrderUpdate(
                        self.market.now_ns(),
                        order.pending.request_id,
                        OrdStatus.REJECTED,
                        event.event,
                    )
                )

    async def _on_bad(self, what: str, exc: Exception) -> None:
        self.counters.bad_inputs += 1
        log.warning(
            "rejected malformed %s from %s: %s",
            what,
            self.broker.name,
            exc,
            extra={"sv_event": "bad_input", "sv_kind": what},
        )

    async def _on_reconnect(self) -> None:
        self.counters.reconnects += 1
        log.info(
            "trade-updates stream connected: reconciling orders",
            extra={"sv_event": "trading_connected"},
        )
        with contextlib.suppress(Exception):
            await self.reconcile(startup=False, grace=0.0)

    # ============================================================ sending
    async def settle(self) -> None:
        """Wait until queued bars are processed and broker commands sent (tests)."""
        while not self._bars.empty() or self._pumping or not self._outbox.empty() or self._sending:
            await asyncio.sleep(0.001)

    async def crash(self) -> None:
        """Vanish without any shutdown work (in-process stand-in for ``kill -9``)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _drain_outbox(self) -> None:
        while not self._outbox.empty() or self._sending:
            await asyncio.sleep(0.05)

    def _enqueue(self, command: SubmitOrder | CancelOrder | ReplaceOrder) -> None:
        self._queued[command.client_order_id] = self._queued.get(command.client_order_id, 0) + 1
        self._decided_wall.setdefault(command.client_order_id, time.monotonic())
        self._outbox.put_nowait(command)

    async def _sender(self) -> None:
        while True:
            command = await self._outbox.get()
            self._sending = True
            try:
                await self._send(command)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("sending %s failed: %s", type(command).__name__, exc)
            finally:
                self._sending = False
                left = self._queued.get(command.client_order_id, 0) - 1
                if left > 0:
                    self._queued[command.client_order_id] = left
                else:
                    self._queued.pop(command.client_order_id, None)

    async def _send(self, command: SubmitOrder | CancelOrder | ReplaceOrder) -> None:
        if type(command) is SubmitOrder:
            await self._send_submit(command)
        elif type(command) is CancelOrder:
            await self._send_cancel(command)
        else:
            await self._send_replace(command)  # type: ignore[arg-type]

    def _is_stale_entry(self, command: SubmitOrder) -> bool:
        if command.parent_id is None:
            return False
        parent = self.engine.execution.parents.get(command.parent_id)
        if parent is None or parent.intent.purpose != "entry":
            return False
        decided = self._decided_on.get(command.client_order_id, command.time_ns)
        return decided < self.market.now_ns() - STALE_ENTRY_PERIODS * MINUTE_NS

    async def _send_submit(self, command: SubmitOrder) -> None:
        stored = self.storage.order(command.client_order_id)
        if stored is not None and stored.sent:
            return
        bcid = self.ids.broker(command.client_order_id)
        order = self.engine.order(command.client_order_id)
        if order is not None and order.status is not OrdStatus.PENDING_NEW:
            return  # already answered (e.g. refused while we were away)
        if self._is_stale_entry(command):
            self.counters.stale_entries_refused += 1
            await self.feed(
                OrderUpdate(
                    self.market.now_ns(),
                    command.client_order_id,
                    OrdStatus.REJECTED,
                    "stale: entry decided on an old bar, not sent",
                )
            )
            return
        try:
            placed = await self.broker.submit(command, bcid)
        except RejectedRequest as exc:
            existing = await self._safe_order(bcid)
            if existing is not None:  # a retry after the broker already took it
                self._mark_sent(command.client_order_id, existing.broker_order_id)
                return
            self.counters.rejected_sends += 1
            log.warning("order %s refused by %s: %s", bcid, self.broker.name, exc.reason)
            await self.feed(
                OrderUpdate(
                    self.market.now_ns(),
                    command.client_order_id,
                    OrdStatus.REJECTED,
                    exc.reason[:200],
                )
            )
            return
        except BadInput as exc:
            await self._on_bad("order reply", exc)
            existing = await self._safe_order(bcid)
            if existing is None:
                await self.feed(
                    OrderUpdate(
                        self.market.now_ns(),
                        command.client_order_id,
                        OrdStatus.REJECTED,
                        "unreadable broker reply",
                    )
                )
                return
            placed = existing
        self._mark_sent(command.client_order_id, placed.broker_order_id)

    def _mark_sent(self, engine_id: str, broker_order_id: str | None) -> None:
        self.storage.mark_sent(engine_id, broker_order_id)
        self._sent_wall[engine_id] = time.monotonic()

    async def _safe_order(self, bcid: str) -> BrokerOrder | None:
        try:
            return await self.broker.order(bcid)
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot read order %s back: %s", bcid, exc)
            return None

    def _pending_order(self, command: CancelOrder | ReplaceOrder) -> ChildOrder | None:
        """The order this request is still waiting on, or None when it was
        already sent (journal) or answered meanwhile."""
        if self.storage.request_sent(command.client_order_id):
            return None
        order = self.engine.order(command.orig_client_order_id)
        if (
            order is None
            or order.pending is None
            or order.pending.request_id != command.client_order_id
        ):
            return None
        return order

    async def _request_refused(
        self, kind: str, command: CancelOrder | ReplaceOrder, exc: RejectedRequest | BadInput
    ) -> None:
        """A broker's refusal of a cancel/replace becomes the engine's reject of the request."""
        reason = exc.reason if isinstance(exc, RejectedRequest) else str(exc)
        log.info("%s %s refused: %s", kind, command.orig_client_order_id, reason)
        await self.feed(
            OrderUpdate(
                self.market.now_ns(), command.client_order_id, OrdStatus.REJECTED, reason[:200]
            )
        )

    async def _send_cancel(self, command: CancelOrder) -> None:
        order = self._pending_order(command)
        if order is None:
            return
        try:
            await self.broker.cancel(self.ids.broker(order.client_order_id))
        except (RejectedRequest, BadInput) as exc:
            await self._request_refused("cancel", command, exc)
        self.storage.mark_request_sent(command.client_order_id)

    async def _send_replace(self, command: ReplaceOrder) -> None:
        order = self._pending_order(command)
        if order is None:
            return
        try:
            await self.broker.replace(
                command,
                self.ids.broker(order.client_order_id),
                self.ids.broker(command.client_order_id),
            )
            self._sent_wall[command.client_order_id] = time.monotonic()
        except (RejectedRequest, BadInput) as exc:
            await self._request_refused("replace", command, exc)
        self.storage.mark_request_sent(command.client_order_id)

    # ====================================================== reconciliation
    async def reconcile(self, *, startup: bool, grace: float = RECONCILE_GRACE_S) -> None:
        """Make the engine's live orders agree with the broker's.

        One ``GET /orders?status=open`` covers every order still open at the
        broker; only orders that left that list (filled, cancelled, unknown)
        are asked for one by one, so polling costs one request per cycle,
        well inside Alpaca's 200 a minute."""
        now_wall = time.monotonic()
        listed: dict[str, BrokerOrder] | None = None
        if not startup and self.engine.open_orders():
            try:
                listed = {o.broker_client_id: o for o in await self.broker.open_orders()}
            except (RejectedRequest, BadInput) as exc:
                log.warning("cannot list open orders: %s", exc)
                return
        for order in list(self.engine.open_orders()):
            if not startup:
                engine_id = order.client_order_id
                if engine_id in self._queued:
                    continue  # still with the sender: not ours to judge yet
                stored = self.storage.order(engine_id)
                since = (
                    self._sent_wall.get(engine_id)
                    if stored is not None and stored.sent
                    else self._decided_wall.get(engine_id, 0.0)
                )
                if since is None or now_wall - since < grace:
                    continue
            if order.is_terminal:
                continue
            known = None if listed is None else listed.get(self.ids.broker(order.client_order_id))
            await self._reconcile_order(order, startup, known)
        if startup:
            await self._foreign_open_orders()

    async def _reconcile_order(
        self, order: ChildOrder, startup: bool, known: BrokerOrder | None = None
    ) -> None:
        engine_id = order.client_order_id
        stored = self.storage.order(engine_id)
        bcid = self.ids.broker(engine_id)
        broker_order = known if known is not None else await self._safe_order(bcid)
        if order.is_terminal:
            return  # answered while we were asking
        if broker_order is None:
            if order.status is OrdStatus.PENDING_NEW and (stored is None or not stored.sent):
                # Decided, journaled, never sent (a crash in between): send it now
                # (the stale-entry rule still applies).
                if engine_id not in self._queued:
                    log.info("order %s was never sent: sending now", engine_id)
                    self._enqueue(self._submit_for(order))
                return
            if (stored is not None and stored.sent) or order.status is not OrdStatus.PENDING_NEW:
                # Never acknowledged: rejected. Acknowledged once (NEW, partly filled):
                # REJECTED is no legal transition from there, and a refused update would
                # leave the order live here forever, asked about again every cycle.
                ended = (
                    OrdStatus.REJECTED
                    if order.status is OrdStatus.PENDING_NEW
                    else OrdStatus.CANCELED
                )
                self._discrepancy(
                    f"order {bcid} is live here ({order.status.value}) "
                    f"but unknown to the broker: treated as {ended.value}"
                )
                await self.feed(
                    OrderUpdate(self.market.now_ns(), engine_id, ended, "unknown to the broker")
                )
            return
        if stored is not None and not stored.sent:
            self._mark_sent(engine_id, broker_order.broker_order_id)
        self._sent_wall.setdefault(engine_id, time.monotonic())
        await self._book_missed_fills(engine_id, broker_order)
        await self._sync_status(engine_id, broker_order)
        request = order.pending
        if (
            request is not None
            and request.request_id not in self._queued
            and not self.storage.request_sent(request.request_id)
        ):
            if request.quantity is None:
                self._enqueue(
                    CancelOrder(
                        self.market.now_ns(),
                        request.request_id,
                        engine_id,
                        order.symbol,
                        order.side,
                    )
                )
            else:
                self._enqueue(
                    ReplaceOrder(
                        self.market.now_ns(),
                        request.request_id,
                        engine_id,
                        order.symbol,
                        order.side,
                        request.quantity,
                        request.limit_price,
                    )
                )

    def _submit_for(self, order: ChildOrder) -> SubmitOrder:
        return SubmitOrder(
            order.created_ns,
            order.client_order_id,
            order.parent_id,
            order.symbol,
            order.side,
            order.quantity,
            order.order_type,
            order.limit_price,
            order.time_in_force,
            order.venue,
            order.min_quantity,
        )

    async def _book_missed_fills(self, engine_id: str, broker_order: BrokerOrder) -> None:
        """Quantity the broker filled beyond what is booked becomes one fill, with
        a deterministic id and the average price of the missing part. Computed
        under the input lock, so a stream fill processed meanwhile counts."""
        if broker_order.filled <= self._booked.get(engine_id, (0, 0))[0]:
            return
        order = self.engine.order(engine_id)
        if order is None:
            return

        def missing_fill(_: Event) -> Event | None:
            booked_qty, booked_notional = self._booked.get(engine_id, (0, 0))
            missing = broker_order.filled - booked_qty
            if missing <= 0:
                return None
            price = round_half_even_div(broker_order.filled_notional - booked_notional, missing)
            if price <= 0:
                log.warning(
                    "order %s: cannot derive the price of %d missed units",
                    broker_order.broker_client_id,
                    missing,
                )
                return None
            fill = Fill(
                time_ns=self.market.now_ns(),
                client_order_id=engine_id,
                exec_id=f"recon:{broker_order.broker_order_id}:{broker_order.filled}",
                symbol=broker_order.symbol,
                side=order.side,
                quantity=missing,
                price=price,
                venue=self.broker.name,
            )
            self.counters.reconciled_fills += 1
            self._discrepancy(
                f"order {broker_order.broker_client_id}: {missing} filled at the broker while"
                f" the stream was away; booked at {format_price(price)} ({fill.exec_id})"
            )
            return fill

        placeholder = Fill(0, engine_id, "", broker_order.symbol, order.side, 1, 1)
        await self.feed(placeholder, "reconcile", missing_fill)

    async def _sync_status(self, engine_id: str, broker_order: BrokerOrder) -> None:
        order = self.engine.order(engine_id)
        if order is None or order.is_terminal:
            return
        status = broker_order.status
        target = {
            "canceled": OrdStatus.CANCELED,
            "expired": OrdStatus.EXPIRED,
            "rejected": OrdStatus.REJECTED,
        }.get(status)
        now = self.market.now_ns()
        if (
            status == "replaced"
            and order.pending is not None
            and order.pending.quantity is not None
        ):
            await self.feed(
                OrderUpdate(
                    now, order.pending.request_id, OrdStatus.REPLACED, "replaced (reconciled)"
                )
            )
        elif target is not None:
            await self.feed(OrderUpdate(now, engine_id, target, f"{status} (reconciled)"))
        elif (
            status in ("new", "partially_filled", "accepted")
            and order.status is OrdStatus.PENDING_NEW
        ):
            await self.feed(OrderUpdate(now, engine_id, OrdStatus.NEW, "new (reconciled)"))

    async def _foreign_open_orders(self) -> None:
        try:
            orders = await self.broker.open_orders()
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot list open orders: %s", exc)
            return
        live = {o.client_order_id for o in self.engine.open_orders()}
        for o in orders:
            engine_id = self.ids.engine(o.broker_client_id)
            if engine_id is None:
                self._discrepancy(
                    f"open order {o.broker_client_id} ({o.symbol}) at the broker"
                    " was not placed by this database; left alone"
                )
            elif engine_id not in live:
                self._discrepancy(
                    f"open order {o.broker_client_id} at the broker is not live in the engine"
                )

    async def _check_positions(self, when: str) -> bool:
        try:
            broker = await self.broker.positions()
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot read positions (%s): %s", when, exc)
            return False
        ours = self.engine.positions()
        same = True
        for symbol in sorted(set(broker) | set(ours)):
            if broker.get(symbol, 0) != ours.get(symbol, 0):
                same = False
                self._discrepancy(
                    f"{when}: position {symbol} is {ours.get(symbol, 0)} here and"
                    f" {broker.get(symbol, 0)} at the broker"
                )
        if same:
            log.info(
                "%s: positions agree with the broker (%d symbols)",
                when,
                len(ours),
                extra={"sv_event": "positions_ok"},
            )
        return same

    def _discrepancy(self, text: str) -> None:
        self.counters.discrepancies += 1
        self._emit_alert("warning", "discrepancy", text)

    # ============================================================= catch-up
    async def _catch_up(self) -> None:
        now = self.market.now_ns()
        if self._last_bar:
            start = min(self._last_bar.values()) + MINUTE_NS
        else:
            start = self.calendar.previous_open(now) or now - 2 * 86_400 * 10**9
        self._catching_up = True
        try:
            await self._backfill(start, now, "catch-up at start")
        finally:
            self._catching_up = False

    async def _bounded_backfill(self, start_ns: int, end_ns: int, why: str) -> None:
        """Backfill before the next live bar (the agents' history is lossless), but
        not forever: after ten bar periods (at least 15 s) the live bars go on and
        the missing ones are reported as a gap by the agent's health check. Live
        bars wait in the queue meanwhile; the socket is never stalled."""
        budget = max(
            BACKFILL_MIN_WAIT_S, self.market.wall_seconds_for(BACKFILL_PERIODS * MINUTE_NS)
        )
        try:
            await asyncio.wait_for(self._backfill(start_ns, end_ns, why), budget)
        except TimeoutError:
            log.warning(
                "backfill (%s) took over %.1fs: going on without it",
                why,
                budget,
                extra={"sv_event": "backfill_timeout"},
            )

    async def _backfill(self, start_ns: int, end_ns: int, why: str) -> None:
        if end_ns <= start_ns:
            return
        try:
            bars = await self.broker.bars(self.symbols, start_ns, end_ns)
        except (RejectedRequest, BadInput) as exc:
            log.warning("backfill (%s) failed: %s", why, exc)
            return
        for exc in getattr(self.broker, "bad_bars", []) or []:
            await self._on_bad("bar (REST)", exc)
        fresh = [b for b in bars if b.time_ns > self._last_bar.get(b.symbol, -1)]
        if not fresh:
            return
        log.info("backfill (%s): %d bars", why, len(fresh), extra={"sv_event": "backfill"})
        for bar in fresh:
            if bar.time_ns > self._last_bar.get(bar.symbol, -1):
                await self.feed(bar, "backfill")

    # ================================================================ loops
    async def _read_clock(self) -> None:
        try:
            clock = await self.broker.clock()
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot read the broker clock: %s", exc)
            return
        self.market.observe_clock(clock.time_ns)
        self._clock_open = clock.is_open

    async def _clock_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.clock_interval)
            await self._read_clock()
            self._daily_summary()

    async def _timer_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.tick)
            if not self._timers:
                continue
            now = self.market.now_ns()
            due = sorted(k for k in self._timers if k[0] <= now)
            for when, key in due:
                await self.feed(Timer(when, key), "timer")

    # ============================================================ cash flows
    def _cash_flow_wait(self) -> float:
        if self.options.cash_flow_interval is not None:
            return self.options.cash_flow_interval
        period = self.market.wall_seconds_for(MINUTE_NS)
        return min(max(period, CASH_FLOW_POLL_MIN_S), CASH_FLOW_POLL_MAX_S)

    async def _cash_flow_loop(self) -> None:
        # The wait is re-derived every second: the market's rate is learnt from
        # the clock after start, and a 30 s sleep chosen before would stand.
        last = time.monotonic()
        while True:
            await asyncio.sleep(min(CASH_FLOW_POLL_MIN_S, self._cash_flow_wait()))
            if time.monotonic() - last < self._cash_flow_wait():
                continue
            last = time.monotonic()
            try:
                await self.poll_cash_flows()
            except Exception:  # a poll that fails must not end the polling
                log.exception("cash-flow poll failed; retrying next period")

    async def poll_cash_flows(self) -> int:
        """Ask each reporting broker for transfers since the first start; feed the
        new ones to the engine as ``CashFlow`` (journaled durably first, like an
        execution; a transfer id already stored is never fed again). Returns how
        many were fed."""
        if not self._cash_sources:
            return 0
        after = int(self.storage.meta("cash_flows_after") or 0)
        fed = 0
        for source in self._cash_sources:
            try:
                flows = await source.cash_flows(after)
            except (RejectedRequest, BadInput) as exc:
                log.warning("cannot read cash flows from %s: %s", source.name, exc)
                continue
            for exc in getattr(source, "bad_activities", None) or []:
                if str(exc) not in self._bad_flows:
                    self._bad_flows.add(str(exc))
                    await self._on_bad("cash activity", exc)
            for flow in flows:
                if self.storage.has_cash_flow(flow.flow_id):
                    continue
                sign = "-" if flow.amount < 0 else ""
                log.info(
                    "cash flow %s from %s: %s%s",
                    flow.flow_id,
                    source.name,
                    sign,
                    format_price(abs(flow.amount)),
                    extra={"sv_event": "cash_flow", "sv_kind": flow.reason[:3]},
                )
                await self.feed(flow, "cash_flow", self._new_cash_flow)
                fed += 1
        return fed

    def _new_cash_flow(self, candidate: Event) -> Event | None:
        """Under the input lock: drop a transfer booked meanwhile; stamp the rest
        with the market time it reaches the engine (the activity has a date only)."""
        if self.storage.has_cash_flow(candidate.flow_id):  # type: ignore[union-attr]
            return None
        return dataclasses.replace(candidate, time_ns=self.market.now_ns())  # type: ignore[type-var]

    async def _reconcile_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.reconcile_interval)
            try:
                await self.reconcile(startup=False)
            except (RejectedRequest, BadInput) as exc:
                log.warning("reconciliation skipped: %s", exc)

    def _in_session(self) -> bool:
        if any("/" in s for s in self.symbols):
            return True
        return self._clock_open and self.calendar.session_at(self.market.now_ns()) is not None

    async def _watchdog_loop(self) -> None:
        """A silent data stream (connected, no bars) is reconnected, with growing
        patience between forced reconnects; while it stays silent, bars are
        fetched by REST every bar period so trading goes on."""
        restart_wait = 0.0
        last_restart = 0.0
        while True:
            period = self.market.wall_seconds_for(MINUTE_NS)
            await asyncio.sleep(min(max(0.2, period), 5.0))
            if not self._in_session():
                self._last_bar_wall = time.monotonic()
                restart_wait = 0.0
                continue
            now = time.monotonic()
            silent = now - self._last_bar_wall
            limit = max(self.market.wall_seconds_for(SILENT_PERIODS * MINUTE_NS), 1.0)
            if silent <= limit:
                restart_wait = 0.0
                continue
            if self._last_bar:
                await self._bounded_backfill(
                    min(self._last_bar.values()) + MINUTE_NS,
                    self.market.now_ns(),
                    "data stream silent",
                )
            if now - last_restart < restart_wait:
                continue
            self._stream_restarts += 1
            self.counters.reconnects += 1
            self._emit_alert(
                "warning",
                "silent_stream",
                f"no live bar for {silent:.1f}s (> {SILENT_PERIODS} bar periods):"
                " reconnecting the market-data stream; bars by REST meanwhile",
            )
            last_restart = now
            restart_wait = min(max(restart_wait * 2, 5.0), 60.0)
            await self.broker.restart_data_stream("silent stream")

    def _daily_summary(self) -> None:
        """At each session close: the day's fills, closed trades and realised P&L,
        read from the database (so a restart during the day loses nothing)."""
        now = self.market.now_ns()
        if self._summary_close is None:
            self._summary_close = self.calendar.next_close(now)
            return
        if now < self._summary_close:
            return
        close = self._summary_close
        self._summary_close = self.calendar.next_close(now)
        opened = self.calendar.session_at(close - 1)
        start = opened[0] if opened is not None else close - 86_400 * 10**9
        fills, trades, realized = self.storage.day_totals(start, close)
        text = (
            f"Daily summary {self.config.system.name}: equity"
            f" {format_price(self.engine.equity())}, cash {format_price(self.engine.cash)},"
            f" fills {fills}, closed trades {trades}, realised {format_price(realized)},"
            f" positions {self.engine.positions() or 'none'}"
        )
        self._emit_alert("info", "daily_summary", text)

    def status_line(self) -> str:
        now = self.market.now_ns()
        positions = self.engine.positions()
        c = self.counters
        return (
            f"{_iso(now)} x{self.market.rate:.0f} | equity {format_price(self.engine.equity())}"
            f" | tier {self.engine.tier().tier.value} | pos {len(positions)}"
            f" | open {len(self.engine.open_orders())} | bars {c.bars} fills {c.fills}"
            f" recon {c.reconciled_fills} dup {c.duplicate_executions} bad {c.bad_inputs}"
            f" | reconnects {c.reconnects} 429s {getattr(self.broker, 'rate_limited', 0)}"
        )

    async def _status_loop(self) -> None:
        from rich.console import Console

        console = Console(stderr=True, highlight=False)
        while True:
            await asyncio.sleep(self.options.status_interval)
            line = self.status_line()
            log.debug("status %s", line)
            if os.environ.get("SOVEREIGN_NO_STATUS") != "1":
                console.print(f"[bold]sovereign[/bold] {line}")


def _iso(time_ns: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


__all__ = ["TERMINAL", "Gateway", "Ids", "RuntimeOptions"]
