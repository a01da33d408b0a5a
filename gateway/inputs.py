"""The input pipeline: every engine input goes through ``InputPipeline.feed``.

This is the live twin of ``sim.runner``: every input (bar, fill, order update,
timer, cash flow, operator command) goes through one place, ``process``, which

1. commits it to the SQLite journal (an execution or a transfer with fsync; a
   repeated execution id or transfer id is dropped there, before the engine
   could see it),
2. hands it to ``Engine.handle`` with the engine clock set to the journaled
   market time,
3. writes the commands' records (orders, signals, trades, TCA, alerts) in one
   transaction that also advances ``applied_seq``, and
4. queues broker commands for the order sender and alerts for Telegram.

Crash-only: ``replay`` rebuilds a fresh engine (same seed) from the newest
valid snapshot and the journal after it (``gateway.snapshots``; the whole
journal without one), order ids included; ``reapply_unapplied`` writes again the records of inputs
past ``applied_seq`` (a crash between the two transactions).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from core.commands import (
    Alert,
    CancelOrder,
    CashFlow,
    Fill,
    OrderUpdate,
    Record,
    ReplaceOrder,
    ScheduleTimer,
    SubmitOrder,
    Timer,
)
from core.engine import Engine
from core.events import Bar
from core.money import format_price
from gateway.alerts import Alerts
from gateway.config import Config
from gateway.fees import FeeEstimator
from gateway.ids import build_engine
from gateway.journal import Event
from gateway.latency import LatencyRecorder
from gateway.outbox import Outbox
from gateway.session import EngineClock
from gateway.snapshots import SnapshotFiles, SnapshotPolicy, inputs_after, restore_newest
from gateway.state import MINUTE_NS, LiveState
from gateway.storage import DuplicateCashFlow, DuplicateExecution, Storage

log = logging.getLogger("gateway.runtime")

Guard = Callable[[Event], Event | None]
"""Evaluated under the input lock just before journaling: drops (None) or
reshapes an input against the state *then*."""

Observer = Callable[[Event, Sequence[object], bool], None]
"""Told of every input the engine handled and its commands, live (True) or
replayed at start (False): the dashboard's history. Must be quick and must
not touch the engine; an observer that raises is logged and ignored."""


class InputPipeline:
    def __init__(
        self,
        config: Config,
        state: LiveState,
        storage: Storage,
        engine: Engine,
        outbox: Outbox,
        alerts: Alerts,
    ) -> None:
        self.config = config
        self.state = state
        self.storage = storage
        self.engine = engine
        self.outbox = outbox
        self.alerts = alerts
        self.lock = asyncio.Lock()
        self._pending: deque[tuple[Event, str, Guard | None]] = deque()
        self.observers: list[Observer] = []
        self.latency = LatencyRecorder()
        self.fees = FeeEstimator(config.broker.type, lambda: self.engine.equity())
        self._fees_restored = False
        files = SnapshotFiles(storage.path, config.snapshots.keep)
        self.snapshots = SnapshotPolicy(files, config.snapshots.every_inputs)

    # ============================================================ inputs
    async def feed(self, event: Event, source: str = "stream", guard: Guard | None = None) -> None:
        """The one entry point for engine inputs; serialised, in arrival order.

        ``guard`` is evaluated under the lock, just before the input is
        journaled: it may drop or reshape the input against the state *then*
        (a stream fill and a reconciliation can race for the same quantity;
        whichever comes second must see the first)."""
        async with self.lock:
            self._pending.append((event, source, guard))
            while self._pending:
                item, origin, check = self._pending.popleft()
                if check is not None:
                    checked = check(item)
                    if checked is None:
                        continue
                    item = checked
                self.process(item, origin)

    def process(self, event: Event, source: str) -> None:
        """Journal, handle, record, dispatch: one input, start to end."""
        started = time.perf_counter_ns()
        state = self.state
        at_ns = max(state.market.now_ns(), event.time_ns)
        if isinstance(event, Bar):
            at_ns = max(at_ns, event.time_ns + MINUTE_NS)
        model_fee = self._model_fee(event) if isinstance(event, Fill) else None
        try:
            seq = self.storage.journal.append(at_ns, event, source, model_fee)
        except DuplicateExecution:
            state.counters.duplicate_executions += 1
            exec_id = event.exec_id if isinstance(event, Fill) else "?"
            log.info("duplicate execution %s ignored", exec_id)
            return
        except DuplicateCashFlow:
            state.counters.duplicate_cash_flows += 1
            flow_id = event.flow_id if isinstance(event, CashFlow) else "?"
            log.info("cash flow %s already booked", flow_id)
            return
        state.clock.set(at_ns)
        commands = self.engine.handle(event)
        self._note_input(event)
        self._note_decisions(event, commands)
        if isinstance(event, Fill):
            qty, notional = state.booked.get(event.client_order_id, (0, 0))
            state.booked[event.client_order_id] = (
                qty + event.quantity,
                notional + event.quantity * event.price,
            )
        elif isinstance(event, Bar):
            state.counters.bars += 1
        elif isinstance(event, CashFlow):
            state.counters.cash_flows += 1
        with self.storage.transaction():
            self.apply_records(seq, at_ns, event, commands, self.engine)
        for command in commands:
            match command:
                case SubmitOrder() | CancelOrder() | ReplaceOrder():
                    self.outbox.put(command)
                case ScheduleTimer():
                    key = (command.time_ns, command.key)
                    state.timers[key] = state.timers.get(key, 0) + 1
                case Alert():
                    self.alerts.engine_alert(command)
                case Record(kind="fill"):
                    self.alerts.fill(command.payload)
        self._observe(event, commands, True)
        self.latency.add(time.perf_counter_ns() - started)
        why = self.snapshots.due(seq, at_ns, state)
        if why is not None:
            self.snapshots.write(seq, at_ns, self.engine, state, why)

    def snapshot_now(self, why: str) -> None:
        """A snapshot of everything journaled so far (a clean stop), if not written yet."""
        seq = self.storage.journal.last_input_seq()
        if seq > self.snapshots.last_seq:
            self.snapshots.write(seq, self.engine.now_ns, self.engine, self.state, why)

    def _order_key(self, client_order_id: str) -> str:
        """The engine order's first id: a replace keeps its commission totals."""
        order = self.engine.order(client_order_id)
        return order.ids[0] if order is not None else client_order_id

    def _model_fee(self, fill: Fill) -> int | None:
        """The fee model's estimate of a new execution (None for a repeat)."""
        if self.storage.journal.has_execution(fill.exec_id):
            return None
        if not self._fees_restored:  # after a restart: the orders' totals so far
            self._fees_restored = True
            self.fees.restore(self.storage.booked.fee_rows(), self._order_key)
        order = self.engine.order(fill.client_order_id)
        decimals = 0
        if order is not None:
            decimals = self.engine.instrument(order.symbol).qty_decimals
        return self.fees.estimate(self._order_key(fill.client_order_id), fill, decimals)

    def _tca_with_fees(self, payload: dict[str, object], engine: Engine) -> dict[str, object]:
        """The engine's TCA plus the parent's reported fees and the model's estimate."""
        parent = engine.execution.parents.get(str(payload.get("parent_id")))
        if parent is None:
            return payload
        exec_ids = [f.exec_id for child in parent.children for f in child.fills]
        reported, modelled = self.storage.booked.fee_totals(exec_ids)
        return {**payload, "broker_fees": reported, "model_fees": modelled}

    def _observe(self, event: Event, commands: Sequence[object], live: bool) -> None:
        for observer in self.observers:
            try:
                observer(event, commands, live)
            except Exception:  # a display bug must never stop trading
                log.exception("input observer %r failed", observer)

    def apply_records(
        self, seq: int, at_ns: int, event: Event, commands: Sequence[object], engine: Engine
    ) -> None:
        """All database effects of one input; the caller holds one transaction."""
        st = self.storage
        touched: set[str] = set()
        for command in commands:
            match command:
                case SubmitOrder() as c:
                    st.orders.record_order(
                        c.client_order_id,
                        self.state.ids.broker(c.client_order_id),
                        parent_id=c.parent_id,
                        symbol=c.symbol,
                        side=c.side.value,
                        quantity=c.quantity,
                        order_type=c.order_type.value,
                        limit_price=c.limit_price,
                        time_in_force=c.time_in_force.value,
                        created_ns=c.time_ns,
                    )
                case CancelOrder() as c:
                    st.orders.record_request(
                        c.client_order_id, "cancel", c.orig_client_order_id, None, None, c.time_ns
                    )
                case ReplaceOrder() as r:
                    st.orders.record_request(
                        r.client_order_id,
                        "replace",
                        r.orig_client_order_id,
                        r.quantity,
                        r.limit_price,
                        r.time_ns,
                    )
                case Alert() as a:
                    st.records.record_alert(a.time_ns, a.level, a.kind, a.text)
                case Record() as rec:
                    if rec.kind == "signal":
                        st.records.record_signal(rec.time_ns, rec.payload)
                    elif rec.kind == "tca":
                        st.records.record_tca(rec.time_ns, self._tca_with_fees(rec.payload, engine))
                    elif rec.kind == "fill":
                        self._trade_book(rec.time_ns, rec.payload)
                        touched.add(str(rec.payload["client_order_id"]))
                    else:
                        st.records.record(rec.time_ns, rec.kind, rec.payload)
                    if rec.kind == "order":
                        touched.add(str(rec.payload["client_order_id"]))
        if isinstance(event, Fill | OrderUpdate):
            touched.add(event.client_order_id)
        for order_id in touched:
            order = engine.order(order_id)
            if order is not None:
                for known in {order.client_order_id, *order.ids}:
                    st.orders.update_order(known, order.status.value, order.filled, at_ns)
        st.set_meta("applied_seq", str(seq))

    def _trade_book(self, time_ns: int, payload: dict[str, object]) -> None:
        """Round trips from fills: open from flat, add, reduce, close (P&L), flip."""
        st = self.storage
        symbol = str(payload["symbol"])
        qty = _int(payload["quantity"])
        price = _int(payload["price"])
        after = _int(payload["position"])
        realized = _int(payload["realized"])
        signed = qty if payload["side"] == "buy" else -qty
        before = after - signed
        trade = st.trades.open_trade(symbol)
        if before == 0 or trade is None:
            if after != 0:
                st.trades.record_open(symbol, 1 if after > 0 else -1, abs(after), price, time_ns)
            return
        trade_id = trade[0]
        if after == 0 or (after > 0) != (before > 0):
            total = st.trades.record_close(trade_id, price, time_ns, realized)
            log.info(
                "trade closed %s realised %s",
                symbol,
                format_price(total),
                extra={"sv_event": "trade_closed"},
            )
            if after != 0:
                st.trades.record_open(symbol, 1 if after > 0 else -1, abs(after), price, time_ns)
        elif abs(after) > abs(before):
            st.trades.add_to_trade(trade_id, qty, price)
        else:
            st.trades.add_realized(trade_id, realized)

    def _note_input(self, event: Event) -> None:
        state = self.state
        if isinstance(event, Bar):
            state.last_bar[event.symbol] = event.time_ns
            state.market.observe_floor(event.time_ns + MINUTE_NS)
        elif isinstance(event, Timer):
            key = (event.time_ns, event.key)
            left = state.timers.get(key, 0) - 1
            if left > 0:
                state.timers[key] = left
            else:
                state.timers.pop(key, None)

    def _note_decisions(self, event: Event, commands: Sequence[object]) -> None:
        """Orders created while handling a bar were decided on that bar's data."""
        if isinstance(event, Bar):
            for command in commands:
                if isinstance(command, SubmitOrder):
                    self.state.decided_on[command.client_order_id] = event.time_ns + MINUTE_NS

    # =============================================================== replay
    def replay(self) -> None:
        """Rebuild the engine from the newest valid snapshot and the journal after
        it, or the whole journal without one (commands are not re-executed)."""
        state = self.state
        count = 0
        started = time.monotonic()
        last = self.storage.journal.last_input_seq()
        restored = restore_newest(self.snapshots.files, self.engine, last, state)
        self.snapshots.last_seq = restored.seq
        last_at = self.engine.now_ns
        for seq, at_ns, event in inputs_after(self.storage.db, restored.seq):
            last_at = at_ns
            state.clock.set(at_ns)
            try:
                commands = self.engine.handle(event)
            except Exception:  # the engine should never raise; never let it stop a restart
                log.exception("replaying input %d raised; skipped", seq)
                continue
            self._note_input(event)
            self._note_decisions(event, commands)
            for command in commands:
                if isinstance(command, ScheduleTimer):
                    key = (command.time_ns, command.key)
                    state.timers[key] = state.timers.get(key, 0) + 1
            self._observe(event, list(commands), False)
            count += 1
        state.counters.replayed = count
        if count >= self.snapshots.every_inputs:  # the next start need not replay them again
            self.snapshots.write(last, last_at, self.engine, state, "after replay")
        for row in self.storage.booked.executions():
            order_id = str(row["client_order_id"])
            qty, notional = state.booked.get(order_id, (0, 0))
            quantity = _int(row["quantity"])
            state.booked[order_id] = (qty + quantity, notional + quantity * _int(row["price"]))
        if restored.path is not None:
            log.info(
                "restored engine from snapshot %s (inputs 1..%d) and %d journaled inputs after it",
                restored.path.name,
                restored.seq,
                count,
                extra={"sv_event": "snapshot_restored", "sv_inputs": str(restored.seq)},
            )
        if count or restored.path is not None:
            log.info(
                "recovered engine from %d journaled inputs in %.2fs: %d positions, %d open orders",
                restored.seq + count,
                time.monotonic() - started,
                len(self.engine.positions()),
                len(self.engine.open_orders()),
                extra={"sv_event": "replayed", "sv_inputs": str(restored.seq + count)},
            )

    def reapply_unapplied(self) -> None:
        """Records of inputs the engine saw but whose effects were not committed
        (a crash between the two transactions) are written now, from a replay of
        just those inputs' commands, which the engine already produced once."""
        applied = int(self.storage.meta("applied_seq") or 0)
        last = self.storage.journal.last_input_seq()
        if last <= applied:
            return
        # Rebuild a scratch engine to regenerate exactly those commands.
        seed = int(self.storage.meta("seed") or 0)
        clock = EngineClock()
        scratch = build_engine(self.config, seed, clock, self.state.calendar)
        start = restore_newest(self.snapshots.files, scratch, last, max_seq=applied).seq
        for seq, at_ns, event in inputs_after(self.storage.db, start):
            clock.set(at_ns)
            commands = scratch.handle(event)
            if seq > applied:
                with self.storage.transaction():
                    self.apply_records(seq, at_ns, event, commands, scratch)
                for command in commands:
                    if isinstance(command, SubmitOrder | CancelOrder | ReplaceOrder):
                        self.outbox.put(command)
        log.warning(
            "re-applied the records of inputs %d..%d after an interrupted write", applied + 1, last
        )


def _int(value: object) -> int:
    """A stored or recorded number (ints, or their text from SQLite)."""
    if isinstance(value, int | str | float):
        return int(value)
    raise TypeError(f"not a number: {value!r}")
