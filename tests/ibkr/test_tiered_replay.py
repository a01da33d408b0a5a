"""``TieredBroker.replay_executions``: the start-up replay reaches the IBKR broker
inside the tiered composite, learns each order's owner as the stream does, and
one broker that cannot answer does not keep the others from replaying."""

from __future__ import annotations

import asyncio

from core.commands import Fill, Side
from core.errors import BadInput
from gateway.brokers.base import RejectedRequest, TradeEvent
from gateway.brokers.tiered import TieredBroker
from tests.tiers.fakes import FakeBroker


class Replaying(FakeBroker):
    """A fake broker that, like IBKR, can replay executions made while away."""

    def __init__(self, name: str, events: list[TradeEvent] | Exception) -> None:
        super().__init__(name)
        self.events = events
        self.asked = 0

    async def replay_executions(self, on_trade) -> int:  # type: ignore[no-untyped-def]
        self.asked += 1
        if isinstance(self.events, Exception):
            raise self.events
        for event in self.events:
            await on_trade(event)
        return len(self.events)


def _fill(ref: str, exec_id: str, qty: int) -> TradeEvent:
    fill = Fill(1, ref, exec_id, "AAPL", Side.BUY, qty, 100 * 10**9, "ibkr", 10**9)
    return TradeEvent(ref, "fill", fill, None, qty)


def test_replay_reaches_the_broker_that_can_and_learns_owners() -> None:
    ibkr = Replaying("ibkr", [_fill("sv-AAPL-1", "e1", 5), _fill("sv-AAPL-2", "e2", 3)])
    tiered = TieredBroker(FakeBroker("alpaca"), ibkr, FakeBroker("fix"))
    got: list[TradeEvent] = []

    async def on_trade(event: TradeEvent) -> None:
        got.append(event)

    assert asyncio.run(tiered.replay_executions(on_trade)) == 2
    assert [e.fill.exec_id for e in got if e.fill] == ["e1", "e2"]
    assert tiered.owner("sv-AAPL-1") is ibkr and tiered.owner("sv-AAPL-2") is ibkr
    assert ibkr.asked == 1


def test_a_broker_that_cannot_replay_is_skipped_not_fatal() -> None:
    down = Replaying("ibkr", RejectedRequest(None, "not connected to TWS / IB Gateway"))
    bad = Replaying("fix", BadInput("execution.side", "X", "is not BOT or SLD"))
    tiered = TieredBroker(FakeBroker("alpaca"), down, bad)

    async def on_trade(_event: TradeEvent) -> None:
        raise AssertionError("nothing to deliver")

    assert asyncio.run(tiered.replay_executions(on_trade)) == 0
    assert down.asked == 1 and bad.asked == 1
