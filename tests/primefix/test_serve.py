"""``python -m standins`` runs the FIX prime broker beside the other stand-ins."""

from __future__ import annotations

import asyncio

import requests

from core.commands import OrderType, Side, SubmitOrder
from gateway.brokers.prime_fix import PrimeFixBroker
from tests.primefix.conftest import Recorder, run, settings, wait_until
from tests.standins.conftest import BASE_ARGS, running_server


def _state(endpoints: dict[str, str]) -> dict:
    answer = requests.get(endpoints["control"] + "/state", timeout=5)
    answer.raise_for_status()
    return answer.json()


def test_sim_serve_prints_the_fix_endpoint_and_trades_over_it(tmp_path):
    with running_server(*BASE_ARGS, "--speed", "600") as endpoints:
        host, port = endpoints["fix"].split(":")
        assert host == "127.0.0.1"

        async def scenario() -> None:
            broker = PrimeFixBroker(settings(int(port), tmp_path / "fix.db"))
            rec = Recorder()
            await rec.attach(broker)
            assert await broker.connect()
            now = 0
            await broker.submit(SubmitOrder(now, "a", None, "AAPL", Side.BUY, 200), "g-a")
            await broker.submit(
                SubmitOrder(
                    now,
                    "b",
                    None,
                    "AAPL",
                    Side.BUY,
                    20_000,
                    OrderType.PEGGED_MIDPOINT,
                    venue="MS-POOL",
                    min_quantity=1_000,
                ),
                "g-b",
            )
            await wait_until(lambda: len(rec.fills) >= 2, 20)
            answer = await asyncio.to_thread(
                requests.post, endpoints["control"], json={"fault": "drop_fix"}, timeout=5
            )
            assert answer.json() == {"ok": True, "dropped": 1, "down_s": 0.0}
            bad = await asyncio.to_thread(
                requests.post,
                endpoints["control"],
                json={"fault": "drop_fix", "down_s": "long"},
                timeout=5,
            )
            assert bad.status_code == 400 and "down_s" in bad.json()["error"]
            await wait_until(lambda: broker.counters["logons"] == 2, 10)
            await broker.submit(SubmitOrder(now, "c", None, "MSFT", Side.SELL, 100), "g-c")
            await wait_until(lambda: any(f.client_order_id == "g-c" for f in rec.fills), 10)
            await wait_until(lambda: sum(f.quantity for f in rec.fills) == 20_300, 30)
            state = (await asyncio.to_thread(_state, endpoints))["fix"]
            assert [e["exec_id"] for e in state["executions"]] == [f.exec_id for f in rec.fills]
            assert state["positions"] == await broker.positions()
            assert state["session"]["next_target_seq"] == broker.store.next_sender_seq
            assert state["dropped_connections"] == 1
            await broker.close()

        run(scenario())
