"""The periodic tasks: market clock, engine timers, reconciliation, the silent-
stream watchdog, the daily summary and the status line.

Each loop is one ``async def`` that sleeps, then does one small thing; the
runtime starts them after recovery and cancels them on stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from core.commands import Timer
from core.errors import BadInput
from core.money import format_price
from gateway.alerts import Alerts
from gateway.brokers.base import CountsRateLimits, RejectedRequest
from gateway.parts import Part, Parts
from gateway.state import MINUTE_NS
from gateway.streams import Backfill

log = logging.getLogger("gateway.runtime")

SILENT_PERIODS = 3
"""No bar for three bar periods while the session is open: the stream is
considered silent and is reconnected (one period more than §4.6's "stale", so
a single late bar does not cost a reconnect)."""


class Loops(Part):
    """The periodic tasks of the live process."""

    def __init__(
        self,
        parts: Parts,
        system_name: str,
        backfill: Backfill,
        alerts: Alerts,
        reconcile: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(parts)
        self.system_name = system_name
        self.backfill = backfill
        self.alerts = alerts
        self.reconcile = reconcile
        self._rate_limits = parts.broker if isinstance(parts.broker, CountsRateLimits) else None
        self._clock_open = False
        self._summary_close: int | None = None
        self.stream_restarts = 0

    # ================================================================ clock
    async def read_clock(self) -> None:
        """The broker's market time (and whether the market is open)."""
        try:
            clock = await self.broker.clock()
        except (RejectedRequest, BadInput) as exc:
            log.warning("cannot read the broker clock: %s", exc)
            return
        self.state.market.observe_clock(clock.time_ns)
        self._clock_open = clock.is_open

    async def clock(self) -> None:
        while True:
            await asyncio.sleep(self.state.options.clock_interval)
            await self.read_clock()
            self.daily_summary()

    async def timers(self) -> None:
        """Due engine timers become ``Timer`` inputs."""
        state = self.state
        while True:
            await asyncio.sleep(state.options.tick)
            if not state.timers:
                continue
            now = state.market.now_ns()
            due = sorted(k for k in state.timers if k[0] <= now)
            for when, key in due:
                await self.inputs.feed(Timer(when, key), "timer")

    async def reconciliation(self) -> None:
        while True:
            await asyncio.sleep(self.state.options.reconcile_interval)
            try:
                await self.reconcile()
            except (RejectedRequest, BadInput) as exc:
                log.warning("reconciliation skipped: %s", exc)

    # ============================================================ watchdog
    def _in_session(self) -> bool:
        state = self.state
        if any("/" in s for s in state.symbols):
            return True
        return self._clock_open and state.calendar.session_at(state.market.now_ns()) is not None

    async def watchdog(self) -> None:
        """A silent data stream (connected, no bars) is reconnected, with growing
        patience between forced reconnects; while it stays silent, bars are
        fetched by REST every bar period so trading goes on."""
        state = self.state
        restart_wait = 0.0
        last_restart = 0.0
        while True:
            period = state.market.wall_seconds_for(MINUTE_NS)
            await asyncio.sleep(min(max(0.2, period), 5.0))
            if not self._in_session():
                state.last_bar_wall = time.monotonic()
                restart_wait = 0.0
                continue
            now = time.monotonic()
            silent = now - state.last_bar_wall
            limit = max(state.market.wall_seconds_for(SILENT_PERIODS * MINUTE_NS), 1.0)
            if silent <= limit:
                restart_wait = 0.0
                continue
            if state.last_bar:
                await self.backfill.bounded(
                    min(state.last_bar.values()) + MINUTE_NS,
                    state.market.now_ns(),
                    "data stream silent",
                )
            if now - last_restart < restart_wait:
                continue
            self.stream_restarts += 1
            state.counters.reconnects += 1
            self.alerts.emit(
                "warning",
                "silent_stream",
                f"no live bar for {silent:.1f}s (> {SILENT_PERIODS} bar periods):"
                " reconnecting the market-data stream; bars by REST meanwhile",
            )
            last_restart = now
            restart_wait = min(max(restart_wait * 2, 5.0), 60.0)
            await self.broker.restart_data_stream("silent stream")

    # ============================================================= reports
    def daily_summary(self) -> None:
        """At each session close: the day's fills, closed trades and realised P&L,
        read from the database (so a restart during the day loses nothing)."""
        calendar = self.state.calendar
        now = self.state.market.now_ns()
        if self._summary_close is None:
            self._summary_close = calendar.next_close(now)
            return
        if now < self._summary_close:
            return
        close = self._summary_close
        self._summary_close = calendar.next_close(now)
        opened = calendar.session_at(close - 1)
        start = opened[0] if opened is not None else close - 86_400 * 10**9
        fills, trades, realized = self.storage.trades.day_totals(start, close)
        engine = self.engine
        text = (
            f"Daily summary {self.system_name}: equity"
            f" {format_price(engine.equity())}, cash {format_price(engine.cash)},"
            f" fills {fills}, closed trades {trades}, realised {format_price(realized)},"
            f" positions {engine.positions() or 'none'}"
        )
        self.alerts.emit("info", "daily_summary", text)

    def status_line(self) -> str:
        state = self.state
        now = state.market.now_ns()
        positions = self.engine.positions()
        c = state.counters
        limited = self._rate_limits.rate_limited if self._rate_limits is not None else 0
        return (
            f"{_iso(now)} x{state.market.rate:.0f} | equity {format_price(self.engine.equity())}"
            f" | tier {self.engine.tier().tier.value} | pos {len(positions)}"
            f" | open {len(self.engine.open_orders())} | bars {c.bars} fills {c.fills}"
            f" recon {c.reconciled_fills} dup {c.duplicate_executions} bad {c.bad_inputs}"
            f" | reconnects {c.reconnects} 429s {limited}"
        )

    async def status(self) -> None:
        from rich.console import Console

        console = Console(stderr=True, highlight=False)
        while True:
            await asyncio.sleep(self.state.options.status_interval)
            line = self.status_line()
            log.debug("status %s", line)
            if os.environ.get("SOVEREIGN_NO_STATUS") != "1":
                console.print(f"[bold]sovereign[/bold] {line}")


def _iso(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
