"""An in-process FIX prime-broker stand-in on the shared simulated market, per test.

The market is generated once per session; each test gets a fresh ``StandIn``
(clock, tape, publisher) and a ``FixPrimeBroker`` acceptor on a free port, so
books and sequence numbers never leak between tests. No pytest-asyncio: each
test runs its coroutine with ``run`` under a hard timeout.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.brokers.base import StreamSinks, TradeEvent
from gateway.brokers.prime_fix import PrimeFixBroker, PrimeFixSettings
from standins.faults import Faults
from standins.fix_pb.server import FixPrimeBroker
from standins.market import SessionMarket, load_market
from standins.server import Options, StandIn
from tests.aio import run, wait_until  # noqa: F401  (re-exported to the tests)

SEED = 3


@functools.cache
def market() -> SessionMarket:
    return load_market("default", SEED, 2, 4)


@dataclass
class Running:
    standin: StandIn
    pb: FixPrimeBroker
    port: int


@asynccontextmanager
async def prime_standin(
    speed: float = 600.0, heartbeat_s: int = 30, **pb_options: Any
) -> AsyncIterator[Running]:
    """``pb_options``: more ``FixPrimeBroker`` options (``username``, ``password``,
    ``store_path``)."""
    standin = StandIn(market(), Options(speed=speed, seed=SEED), Faults(seed=SEED))
    pb = FixPrimeBroker(standin, heartbeat_s=heartbeat_s, **pb_options)
    port = await pb.start()
    standin.start()
    try:
        yield Running(standin, pb, port)
    finally:
        await pb.stop()
        if standin._publisher is not None:
            standin._publisher.cancel()


def settings(port: int, store: Path, **kw: Any) -> PrimeFixSettings:
    base: dict[str, Any] = dict(
        host="127.0.0.1",
        port=port,
        sender_comp_id="SOVEREIGN",
        target_comp_id="PRIMEBROKER",
        store_path=store,
        min_backoff_s=0.05,
        max_backoff_s=0.5,
    )
    base.update(kw)
    return PrimeFixSettings(**base)


class Recorder:
    """The runtime's side of ``stream``: every trade event, in order."""

    def __init__(self) -> None:
        self.trades: list[TradeEvent] = []
        self.bad: list[tuple[str, Exception]] = []
        self.connected = 0

    async def on_bar(self, _bar: object) -> None:
        return None

    async def on_trade(self, event: TradeEvent) -> None:
        self.trades.append(event)

    async def on_bad(self, what: str, exc: Exception) -> None:
        self.bad.append((what, exc))

    async def on_connected(self) -> None:
        self.connected += 1

    async def attach(self, broker: PrimeFixBroker) -> None:
        await broker.stream(StreamSinks(self.on_bar, self.on_trade, self.on_bad, self.on_connected))

    @property
    def fills(self) -> list[Any]:
        return [t.fill for t in self.trades if t.fill is not None]
