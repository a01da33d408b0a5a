"""The live shell: wiring and start/stop of the parts of one gateway process.

Broker streams in, engine in the middle, broker/SQLite/Telegram out. Each
concern has its own module; this one only builds them and runs the
start-up and shut-down sequences:

| part | module | job |
|---|---|---|
| ``LiveState`` | ``state.py`` | options, counters, market time, facts several parts read |
| ``InputPipeline`` | ``inputs.py`` | every engine input: journal, handle, record; replay |
| ``Outbox``, ``OrderSender`` | ``outbox.py``, ``sender.py`` | broker commands, sent in order |
| ``Reconciler`` | ``reconciler.py`` | live orders and positions vs the broker's |
| ``StreamHandlers``, ``Backfill`` | ``streams.py`` | stream events; missed bars |
| ``CashFlows`` | ``cash_flows.py`` | deposits and withdrawals, polled |
| ``Loops`` | ``loops.py`` | clock, timers, reconciliation, watchdog, summary, status |
| ``Alerts`` | ``alerts.py`` | log + database + Telegram |
| ``Dashboard`` | ``dashboard/`` | the live web page and its JSON API (``[dashboard]``) |

Crash-only: start-up is the same whether the last run crashed or stopped
cleanly. A fresh engine (same seed) restores the newest valid snapshot and
replays the journal after it (``snapshots.py``), which rebuilds it exactly,
order ids included; records of inputs past ``applied_seq`` are
written again; then every order the engine thinks is live is checked against
the broker (missed fills are booked, missed status changes fed, commands that
never reached the broker are sent, or refused if stale), positions are
compared, and missing bars are fetched, all before the streams start.

Optional broker abilities (``gateway.brokers.base``: replaying executions,
stopping market data alone, reporting cash flows, routing by tier) are
checked here once, with ``isinstance`` against their protocols.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any

from core.errors import BadInput
from core.execution.orders import TERMINAL
from core.operator import OperatorCommand
from gateway.alerts import Alerts
from gateway.brokers.base import (
    Broker,
    KeepsReportsWhileStopping,
    RejectedRequest,
    ReplaysExecutions,
    RoutesByTier,
    StopsMarketData,
    StreamSinks,
)
from gateway.cash_flows import CashFlows
from gateway.config import Config
from gateway.dashboard import Dashboard
from gateway.dashboard.auth import resolve_token
from gateway.ids import Ids, build_engine, instruments_for
from gateway.inputs import Guard, InputPipeline
from gateway.journal import Event
from gateway.loops import Loops
from gateway.notify import Notifier
from gateway.outbox import Outbox
from gateway.parts import Parts
from gateway.reconciler import RECONCILE_GRACE_S, Reconciler
from gateway.secrets import Secret
from gateway.sender import OrderSender
from gateway.state import Counters, LiveState, RuntimeOptions
from gateway.storage import Storage
from gateway.streams import Backfill, StreamHandlers

log = logging.getLogger("gateway.runtime")


def with_database_resting_stops(config: Config, storage: Storage) -> Config:
    """``config`` with ``[broker] resting_stops`` as this database's engine was built.

    The setting is part of the engine's identity: the journal replays only
    with the value it was recorded with. A database keeps the value it was
    first started with (``meta.resting_stops``); one from before the key was
    kept (a journal, no key) was recorded with the old default, ``false``. A
    config that now says otherwise is warned about and not applied, so that
    upgrading (the default became ``true``) cannot break a restart.
    """
    wanted = config.broker.resting_stops

    def first_value() -> str:
        recorded_before = storage.journal.last_input_seq() > 0
        return "false" if recorded_before else ("true" if wanted else "false")

    stored = storage.meta_default("resting_stops", first_value) == "true"
    if stored != wanted:
        log.warning(
            "[broker] resting_stops = %s ignored: this database's engine was built with"
            " resting_stops = %s (part of its journal's identity); start a new database"
            " to change it",
            str(wanted).lower(),
            str(stored).lower(),
        )
        config = dataclasses.replace(
            config, broker=dataclasses.replace(config.broker, resting_stops=stored)
        )
    return config


class Gateway:
    def __init__(
        self,
        config: Config,
        broker: Broker,
        storage: Storage,
        notifier: Notifier | None = None,
        options: RuntimeOptions | None = None,
        dashboard_token: Secret | None = None,
    ) -> None:
        config = with_database_resting_stops(config, storage)
        self.config = config
        self.broker = broker
        self.storage = storage
        self.notifier = notifier
        seed = int(storage.meta_default("seed", lambda: str(secrets.randbits(63))))
        prefix = storage.meta_default("id_prefix", lambda: f"sv{secrets.token_hex(3)}-")
        self.ids = Ids(prefix)
        self.state = state = LiveState(list(config.symbols), self.ids, options or RuntimeOptions())
        self.engine = engine = build_engine(config, seed, state.clock, state.calendar)
        self.outbox = outbox = Outbox()
        self.alerts = alerts = Alerts(state, storage, notifier)
        self.inputs = inputs = InputPipeline(config, state, storage, engine, outbox, alerts)
        self.backfill = backfill = Backfill(state, broker, inputs)
        parts = Parts(state, storage, engine, broker, inputs)
        self.streams = streams = StreamHandlers(parts, backfill, self._reconcile_now)
        self.sender = sender = OrderSender(parts, outbox, streams.on_bad)
        self.reconciler = Reconciler(parts, outbox, sender, alerts)
        self.cash_flows = CashFlows(state, storage, broker, inputs)
        self.loops = Loops(
            parts,
            config.system.name,
            backfill,
            alerts,
            lambda: self.reconciler.reconcile(startup=False),
        )
        self._tasks: list[asyncio.Task[None]] = []
        self.dashboard: Dashboard | None = None
        if config.dashboard.enabled:
            if dashboard_token is None:
                dashboard_token, _ = resolve_token(config.dashboard)
            self.dashboard = Dashboard(self, dashboard_token, self.operator)
        # Optional abilities, checked once.
        self._replays = broker if isinstance(broker, ReplaysExecutions) else None
        self._stops_data = broker if isinstance(broker, StopsMarketData) else None
        if isinstance(broker, RoutesByTier):  # the engine's equity picks the tier
            from gateway.brokers.tiered import bind_gateway

            bind_gateway(broker, engine, alerts.emit)

    @property
    def counters(self) -> Counters:
        return self.state.counters

    # ================================================================ start
    async def start(self, *, loops: bool = True) -> None:
        """Recover, reconcile and catch up; then start the streams and loops.

        ``loops=False`` starts only the order sender (in-process tests drive
        time, bars and reconciliation themselves)."""
        self.inputs.replay()
        if self.dashboard is not None:  # up before catch-up: the owner can pause it
            await self.dashboard.start()
        await self.loops.read_clock()
        # Transfers count from the first start on: money already in the account
        # then is the configured initial balance, not a deposit.
        self.storage.meta_default("cash_flows_after", lambda: str(self.state.market.now_ns()))
        self.inputs.reapply_unapplied()
        await self._replay_broker_executions()
        await self.reconcile(startup=True)
        await self.reconciler.check_positions("startup")
        await self.poll_cash_flows()  # transfers made while we were away count first
        await self.backfill.catch_up()
        s = self.streams
        await self.broker.stream(StreamSinks(s.on_bar, s.on_trade, s.on_bad, s.on_reconnect))
        self._spawn("sender", self.sender.run)
        self._spawn("bars", s.pump)
        if loops:
            self._spawn("timers", self.loops.timers)
            self._spawn("clock", self.loops.clock)
            self._spawn("reconcile", self.loops.reconciliation)
            self._spawn("watchdog", self.loops.watchdog)
            self._spawn("status", self.loops.status)
            self._spawn("cash_flows", self.cash_flows.loop)
        self.alerts.emit(
            "info",
            "gateway_started",
            f"{self.config.system.name} trading {', '.join(self.state.symbols)}"
            f" ({self.broker.name}, {len(self.engine.positions())} positions)",
        )
        log.info("gateway ready", extra={"sv_event": "ready"})

    def _spawn(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(run(), name=name))

    async def _replay_broker_executions(self) -> None:
        """A broker that can replay the executions made while we were down (IBKR's
        ``reqExecutions``) books them now, with their own ids and fees, before the
        reconciliation below would book only the missing quantity (``recon:``)."""
        if self._replays is None:
            return
        try:
            await self._replays.replay_executions(self.streams.on_trade)
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot replay the broker's executions: %s", exc)

    # ================================================================= stop
    async def stop(self) -> None:
        """Graceful stop: no new inputs, finish the one in hand, flush alerts."""
        self.state.stop_bars = True  # no new bars, hence no new decisions
        if self.dashboard is not None:
            await self.dashboard.stop()
        if self._stops_data is not None:
            await self._stops_data.stop_market_data()
        for task in self._tasks:
            if task.get_name() != "sender":
                task.cancel()
        # Orders already decided are sent; fills that happened meanwhile are booked
        # (the trade-updates stream stays up until this is done).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.outbox.drain(), 5.0)
        with contextlib.suppress(Exception):
            await self.reconcile(startup=False, grace=0.0)
        await self.reconciler.check_positions("shutdown")
        self.state.stopping = True
        await self._cancel_tasks()
        await self.broker.close()
        async with self.inputs.lock:  # an input being processed completes first
            self.inputs.snapshot_now("clean stop")  # the next start replays nothing
        if self.notifier is not None:
            await self.notifier.drain(5.0)
        latency = self.inputs.latency.summary()
        log.info(
            "engine input latency: %s",
            ", ".join(f"{k} {v}" for k, v in latency.items()),
            extra={"sv_event": "latency", **{f"sv_{k}": v for k, v in latency.items()}},
        )
        log.info("gateway stopped cleanly", extra={"sv_event": "stopped"})

    async def crash(self) -> None:
        """Vanish without any shutdown work (in-process stand-in for ``kill -9``).

        A killed process acknowledges nothing after the instant it dies. Here the
        brokers' tasks outlive this call until the caller aborts them, so a
        broker that marks reports processed (FIX) is frozen first: reports the
        dead runtime no longer books come back by resend at the next start,
        with their ExecIDs, as they would after a real kill."""
        if isinstance(self.broker, KeepsReportsWhileStopping):
            self.broker.shutting_down()
        self.state.stopping = True
        await self._cancel_tasks()
        if self.dashboard is not None:  # the port must be free for the next start
            await self.dashboard.stop()

    async def _cancel_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # ===================================================== for the callers
    async def feed(self, event: Event, source: str = "stream", guard: Guard | None = None) -> None:
        """One engine input (see ``InputPipeline.feed``)."""
        await self.inputs.feed(event, source, guard)

    async def operator(self, action: str, origin: str) -> dict[str, Any]:
        """An operator command (pause, resume, flatten) as an engine input:
        journaled, handled, recorded, alerted like any other (``core.operator``)."""
        command = OperatorCommand(
            self.state.market.now_ns(), action, f"op-{secrets.token_hex(6)}", origin
        )
        await self.inputs.feed(command, "operator")
        return {
            "command_id": command.command_id,
            "action": action,
            "paused": self.engine.paused,
            "positions": self.engine.positions(),
            "open_orders": len(self.engine.open_orders()),
        }

    async def reconcile(self, *, startup: bool, grace: float = RECONCILE_GRACE_S) -> None:
        """Make the engine's live orders agree with the broker's (``Reconciler``)."""
        await self.reconciler.reconcile(startup=startup, grace=grace)

    async def _reconcile_now(self) -> None:
        await self.reconcile(startup=False, grace=0.0)

    async def poll_cash_flows(self) -> int:
        """Feed the transfers made since the first start (``CashFlows.poll``)."""
        return await self.cash_flows.poll()

    async def settle(self) -> None:
        """Wait until queued bars are processed and broker commands sent (tests)."""
        while not self.streams.idle() or not self.outbox.idle():
            await asyncio.sleep(0.001)

    def status_line(self) -> str:
        return self.loops.status_line()


__all__ = ["TERMINAL", "Gateway", "Ids", "RuntimeOptions", "instruments_for"]
