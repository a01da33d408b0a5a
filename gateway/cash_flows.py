"""Deposits and withdrawals: polled from each broker that reports them, fed once.

A transfer reaches the engine as a ``CashFlow``, journaled durably first
(like an execution); a transfer id already stored is never fed again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

from core.commands import CashFlow
from core.errors import BadInput
from core.money import format_price
from gateway.brokers.base import (
    Broker,
    Composite,
    RejectedRequest,
    ReportsBadActivities,
    ReportsCashFlows,
)
from gateway.inputs import InputPipeline
from gateway.journal import Event
from gateway.state import MINUTE_NS, LiveState
from gateway.storage import Storage
from gateway.streams import report_bad

log = logging.getLogger("gateway.runtime")

CASH_FLOW_POLL_MAX_S = 30.0
"""Deposits and withdrawals are polled once per bar period of wall time (a
transfer can change a decision from the next bar on, not sooner), but at
most every 30 s against the live market: two requests a minute, 1% of
Alpaca's 200, for events that happen a few times a year."""
CASH_FLOW_POLL_MIN_S = 1.0
"""...and at least 1 s apart when the market runs faster than real time (the
stand-in), so an accelerated session cannot turn the poll into a flood."""


class CashFlows:
    def __init__(
        self, state: LiveState, storage: Storage, broker: Broker, inputs: InputPipeline
    ) -> None:
        self.state = state
        self.storage = storage
        self.broker = broker
        self.inputs = inputs
        # The brokers that report deposits/withdrawals (Alpaca's activities); a
        # tiered broker's own brokers are asked, each that can answer.
        inner = list(broker.brokers) if isinstance(broker, Composite) else [broker]
        self._sources = [b for b in inner if isinstance(b, ReportsCashFlows)]
        self._bad_flows: set[str] = set()  # bad activity rows already reported once

    def wait(self) -> float:
        """Wall seconds between polls (see ``CASH_FLOW_POLL_MAX_S``)."""
        if self.state.options.cash_flow_interval is not None:
            return self.state.options.cash_flow_interval
        period = self.state.market.wall_seconds_for(MINUTE_NS)
        return min(max(period, CASH_FLOW_POLL_MIN_S), CASH_FLOW_POLL_MAX_S)

    async def loop(self) -> None:
        # The wait is re-derived every second: the market's rate is learnt from
        # the clock after start, and a 30 s sleep chosen before would stand.
        last = time.monotonic()
        while True:
            await asyncio.sleep(min(CASH_FLOW_POLL_MIN_S, self.wait()))
            if time.monotonic() - last < self.wait():
                continue
            last = time.monotonic()
            try:
                await self.poll()
            except Exception:  # a poll that fails must not end the polling
                log.exception("cash-flow poll failed; retrying next period")

    async def poll(self) -> int:
        """Ask each reporting broker for transfers since the first start; feed the
        new ones to the engine as ``CashFlow`` (journaled durably first, like an
        execution; a transfer id already stored is never fed again). Returns how
        many were fed."""
        if not self._sources:
            return 0
        after = int(self.storage.meta("cash_flows_after") or 0)
        fed = 0
        for source in self._sources:
            try:
                flows = await source.cash_flows(after)
            except (RejectedRequest, BadInput) as exc:
                log.warning("cannot read cash flows from %s: %s", source.name, exc)
                continue
            if isinstance(source, ReportsBadActivities):
                for problem in list(source.bad_activities):
                    if str(problem) not in self._bad_flows:
                        self._bad_flows.add(str(problem))
                        report_bad(self.state, self.broker.name, "cash activity", problem)
            for flow in flows:
                if self.storage.journal.has_cash_flow(flow.flow_id):
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
                await self.inputs.feed(flow, "cash_flow", self._still_new)
                fed += 1
        return fed

    def _still_new(self, candidate: Event) -> Event | None:
        """Under the input lock: drop a transfer booked meanwhile; stamp the rest
        with the market time it reaches the engine (the activity has a date only)."""
        if not isinstance(candidate, CashFlow) or self.storage.journal.has_cash_flow(
            candidate.flow_id
        ):
            return None
        return dataclasses.replace(candidate, time_ns=self.state.market.now_ns())
