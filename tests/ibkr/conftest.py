"""An in-process TWS stand-in on the shared simulated market, per test.

The market is generated once per session (~0.6 s); each test gets a fresh
``StandIn`` (clock, tape, publisher) with a ``TwsServer`` on a free port, so
books and order ids never leak between tests. No pytest-asyncio: each test
runs its coroutine with ``run`` under a hard timeout.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from standins.faults import Faults
from standins.market import SessionMarket, load_market
from standins.server import Options, StandIn
from standins.tws.server import TwsServer
from tests.aio import run, wait_until  # noqa: F401  (re-exported to the tests)

SEED = 3


@functools.cache
def market() -> SessionMarket:
    return load_market("default", SEED, 2, 4)


@dataclass
class Running:
    standin: StandIn
    tws: TwsServer
    port: int


@asynccontextmanager
async def tws_standin(speed: float = 600.0, pacing: bool = True) -> AsyncIterator[Running]:
    standin = StandIn(market(), Options(speed=speed, seed=SEED), Faults(seed=SEED))
    tws = TwsServer(standin, pacing=pacing)
    port = await tws.start()
    standin.start()
    try:
        yield Running(standin, tws, port)
    finally:
        await tws.stop()
        if standin._publisher is not None:
            standin._publisher.cancel()
