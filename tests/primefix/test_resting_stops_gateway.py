"""The gateway with ``[broker] resting_stops = true`` over FIX (issue 12): the
real Gateway and Engine place each position's protective stop at the prime
broker as OrdType=3 with StopPx, keep it sized to the position, and the books
of both sides still agree."""

from __future__ import annotations

from pathlib import Path

from core.commands import OrderType
from gateway.brokers.prime_fix import PrimeFixBroker
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import Storage
from standins.faults import Faults
from standins.fix_pb.server import FixPrimeBroker
from standins.server import Options, StandIn
from tests.primefix.conftest import run, settings
from tests.primefix.test_runtime import CONFIG, ManualData, _agreement, _market, quiesce

RESTING = CONFIG.replace('type = "fix"', 'type = "fix"\nresting_stops = true')


def test_protective_stops_rest_at_the_prime_broker_and_the_books_agree(tmp_path: Path) -> None:
    market = _market()
    bars = list(market.live)

    async def scenario() -> tuple[list[str], list[object], dict[str, int], list[object]]:
        standin = StandIn(market, Options(seed=1), Faults(seed=1))
        pb = FixPrimeBroker(standin)
        port = await pb.start()
        data = ManualData(market, pb)
        pb.app.market_now = lambda: data.now
        config = parse_config(RESTING, env={}, base=tmp_path)
        assert config.broker.resting_stops
        broker = PrimeFixBroker(settings(port, tmp_path / "g.fix"), data)
        gateway = Gateway(config, broker, Storage(tmp_path / "g.db"), None, RuntimeOptions())
        await gateway.start(loops=False)
        for bar in bars[:1500]:
            await data.publish(bar)
            await quiesce(gateway, broker, pb)
        stops = gateway.engine.protective_stops()
        positions = gateway.engine.positions()
        resting = [gateway.engine.resting_stop(s) for s in positions]
        pb_stops = [o for o in pb.book.orders.values() if o.order_type is OrderType.STOP]
        await gateway.stop()
        await pb.stop()
        problems, _, _ = _agreement(tmp_path / "g.db", pb)
        return problems, stops, positions, [resting, pb_stops]

    problems, stops, positions, (resting, pb_stops) = run(scenario())
    assert problems == []
    assert stops, "an entry filled, so a stop was placed"
    assert pb_stops and all(o.stop_price for o in pb_stops)  # type: ignore[attr-defined]
    for symbol, order in zip(positions, resting, strict=True):
        assert order is not None, symbol
        assert order.leaves == abs(positions[symbol])  # type: ignore[attr-defined]
