"""``drop_tws`` with ``away_s``: TWS cut *and* away for a while (its nightly
restart: the port closed, connects refused), so orders fill while no client
can hear of it."""

from __future__ import annotations

import asyncio
import time

import requests
from ib_async import IB

from tests.ibkr.conftest import run, tws_standin, wait_until
from tests.ibkr.test_adapter import order, started
from tests.standins.conftest import BASE_ARGS, control, running_server


def test_away_refuses_connections_for_that_long_and_the_adapter_catches_up() -> None:
    async def body() -> None:
        async with tws_standin(speed=60.0) as r:
            broker, sink = await started(r, max_backoff=0.3)
            await broker.submit(order("away-1", qty=5), "away-1")
            before = time.monotonic()
            assert r.tws.drop(away_s=1.5) == 1
            await wait_until(lambda: len(r.tws.executions) == 1, timeout=10)
            assert sink.fills() == []  # filled while TWS was away
            await wait_until(lambda: len(sink.fills("away-1")) == 1, timeout=20)
            assert time.monotonic() - before >= 1.5  # not back before the period ended
            assert r.tws.counters["away_periods"] == 1
            assert broker.reconciled_fills == 1 and sink.fills()[0].fee > 0
            await broker.close()

    run(body(), timeout=60)


def test_the_control_endpoint_takes_away_s_and_refuses_a_bad_one() -> None:
    with running_server(*BASE_ARGS, "--speed", "300") as endpoints:
        host, port = endpoints["tws"].split(":")
        bad = requests.post(
            endpoints["control"], json={"fault": "drop_tws", "away_s": "soon"}, timeout=5
        )
        assert bad.status_code == 400 and "away_s='soon'" in bad.json()["error"]
        too_long = requests.post(
            endpoints["control"], json={"fault": "drop_tws", "away_s": 3600}, timeout=5
        )
        assert too_long.status_code == 400

        async def session() -> tuple[bool, bool]:
            answer = await asyncio.to_thread(control, endpoints, {"fault": "drop_tws", "away_s": 2})
            assert answer["ok"] is True
            ib = IB()
            try:
                await ib.connectAsync(host, int(port), clientId=43, timeout=1)
                refused = False
            except (ConnectionError, OSError, TimeoutError):
                refused = True
            await asyncio.sleep(2.0)
            await ib.connectAsync(host, int(port), clientId=43, timeout=10)
            back = ib.isConnected()
            ib.disconnect()
            return refused, back

        refused, back = asyncio.run(session())
        assert refused and back
