"""What the broker's streams deliver, and the backfill of bars they missed.

Live bars are queued and processed by their own task (``pump``), never in the
stream's task: a gap being backfilled (slowly, in a 429 storm) must not stall
the socket. Trade updates become fills and order updates in engine ids; a fill
the reconciler already booked under its ``recon:`` id is recognised by the
cumulative quantity and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

from core.commands import OrderUpdate, OrdStatus
from core.errors import BadInput
from core.events import Bar
from gateway.brokers.base import Broker, RejectedRequest, ReportsBadBars, TradeEvent
from gateway.inputs import InputPipeline
from gateway.journal import Event
from gateway.parts import Part, Parts
from gateway.state import MINUTE_NS, LiveState

log = logging.getLogger("gateway.runtime")

BACKFILL_PERIODS = 10
BACKFILL_MIN_WAIT_S = 15.0


class Backfill:
    """Bars the agents missed (at start, before a live bar after a gap, while the
    data stream is silent), fetched by REST and fed before the live ones."""

    def __init__(self, state: LiveState, broker: Broker, inputs: InputPipeline) -> None:
        self.state = state
        self.broker = broker
        self.inputs = inputs
        self._bad_bars = broker if isinstance(broker, ReportsBadBars) else None

    async def catch_up(self) -> None:
        """From the last bar journaled (or the previous session's open) to now."""
        state = self.state
        now = state.market.now_ns()
        if state.last_bar:
            start = min(state.last_bar.values()) + MINUTE_NS
        else:
            start = state.calendar.previous_open(now) or now - 2 * 86_400 * 10**9
        state.catching_up = True
        try:
            await self.fetch(start, now, "catch-up at start")
        finally:
            state.catching_up = False

    async def bounded(self, start_ns: int, end_ns: int, why: str) -> None:
        """Backfill before the next live bar (the agents' history is lossless), but
        not forever: after ten bar periods (at least 15 s) the live bars go on and
        the missing ones are reported as a gap by the agent's health check. Live
        bars wait in the queue meanwhile; the socket is never stalled."""
        budget = max(
            BACKFILL_MIN_WAIT_S, self.state.market.wall_seconds_for(BACKFILL_PERIODS * MINUTE_NS)
        )
        try:
            await asyncio.wait_for(self.fetch(start_ns, end_ns, why), budget)
        except TimeoutError:
            log.warning(
                "backfill (%s) took over %.1fs: going on without it",
                why,
                budget,
                extra={"sv_event": "backfill_timeout"},
            )

    async def fetch(self, start_ns: int, end_ns: int, why: str) -> None:
        if end_ns <= start_ns:
            return
        try:
            bars = await self.broker.bars(self.state.symbols, start_ns, end_ns)
        except (RejectedRequest, BadInput) as exc:
            log.warning("backfill (%s) failed: %s", why, exc)
            return
        if self._bad_bars is not None:
            for problem in list(self._bad_bars.bad_bars):
                report_bad(self.state, self.broker.name, "bar (REST)", problem)
        last_bar = self.state.last_bar
        fresh = [b for b in bars if b.time_ns > last_bar.get(b.symbol, -1)]
        if not fresh:
            return
        log.info("backfill (%s): %d bars", why, len(fresh), extra={"sv_event": "backfill"})
        for bar in fresh:
            if bar.time_ns > last_bar.get(bar.symbol, -1):
                await self.inputs.feed(bar, "backfill")


class StreamHandlers(Part):
    """The four sinks the broker's ``stream`` is given, and the live-bar pump."""

    def __init__(
        self, parts: Parts, backfill: Backfill, reconcile: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(parts)
        self.backfill = backfill
        self.reconcile = reconcile
        self.bars: asyncio.Queue[Bar] = asyncio.Queue()
        self.pumping = False

    def idle(self) -> bool:
        return self.bars.empty() and not self.pumping

    async def on_bar(self, bar: Bar) -> None:
        """Live bars are queued, never processed in the stream's own task: a gap
        being backfilled (slowly, in a 429 storm) must not stall the socket."""
        state = self.state
        if state.stopping or state.stop_bars:
            return
        state.last_bar_wall = time.monotonic()  # only live bars count: REST ones do not
        state.market.observe_clock(bar.time_ns + MINUTE_NS)  # a bar is published as it ends
        self.bars.put_nowait(bar)

    async def pump(self) -> None:
        """The live-bar task."""
        state = self.state
        while True:
            bar = await self.bars.get()
            self.pumping = True
            try:
                if not (state.stopping or state.stop_bars):
                    await self._live_bar(bar)
            finally:
                self.pumping = False

    async def _live_bar(self, bar: Bar) -> None:
        last_bar = self.state.last_bar
        last = last_bar.get(bar.symbol)
        if last is not None and bar.time_ns <= last:
            log.debug("bar %s %d already seen", bar.symbol, bar.time_ns)
            return
        if last is not None and bar.time_ns > last + MINUTE_NS:
            await self.backfill.bounded(
                last + MINUTE_NS, bar.time_ns, f"gap before {bar.symbol} bar"
            )
            last = last_bar.get(bar.symbol)
            if last is not None and bar.time_ns <= last:
                return
        await self.inputs.feed(bar)

    async def on_trade(self, event: TradeEvent) -> None:
        state = self.state
        if state.stopping:
            return
        engine_id = state.ids.engine(event.broker_client_id)
        if engine_id is None:
            log.info("trade update for a foreign order %s ignored", event.broker_client_id)
            return
        order = self.engine.order(engine_id)
        if event.fill is not None:
            fill = dataclasses.replace(event.fill, client_order_id=engine_id)
            if self.storage.journal.has_execution(fill.exec_id):
                state.counters.duplicate_executions += 1
                log.info("duplicate execution %s ignored", fill.exec_id)
                return
            cum = event.cum_filled

            def still_new(candidate: Event) -> Event | None:
                booked = state.booked.get(engine_id, (0, 0))[0]
                if cum <= booked:
                    log.info(
                        "execution %s (cum %d) already booked by reconciliation (%d)",
                        fill.exec_id,
                        cum,
                        booked,
                    )
                    state.counters.duplicate_executions += 1
                    return None
                return candidate

            await self.inputs.feed(fill, "stream", still_new)
            return
        if event.update is not None:
            await self.inputs.feed(dataclasses.replace(event.update, client_order_id=engine_id))
            return
        if order is not None and order.pending is not None:
            now = state.market.now_ns()
            if event.event == "replaced" and order.pending.quantity is not None:
                await self.inputs.feed(
                    OrderUpdate(now, order.pending.request_id, OrdStatus.REPLACED, "replaced")
                )
            elif event.event in ("order_cancel_rejected", "order_replace_rejected"):
                await self.inputs.feed(
                    OrderUpdate(now, order.pending.request_id, OrdStatus.REJECTED, event.event)
                )

    async def on_bad(self, what: str, exc: Exception) -> None:
        report_bad(self.state, self.broker.name, what, exc)

    async def on_reconnect(self) -> None:
        self.state.counters.reconnects += 1
        log.info(
            "trade-updates stream connected: reconciling orders",
            extra={"sv_event": "trading_connected"},
        )
        with contextlib.suppress(Exception):
            await self.reconcile()


def report_bad(state: LiveState, broker_name: str, what: str, exc: Exception) -> None:
    """A reply or message of the broker that could not be read: counted and logged."""
    state.counters.bad_inputs += 1
    log.warning(
        "rejected malformed %s from %s: %s",
        what,
        broker_name,
        exc,
        extra={"sv_event": "bad_input", "sv_kind": what},
    )
