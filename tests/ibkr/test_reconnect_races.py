"""Two races around a TWS reconnect, at the adapter, against the TWS stand-in.

1. A request waiting for the reconnect (the runtime's reconciliation asking for
   an order) must not be answered before the executions missed while away are
   delivered: it would see the completed order's full quantity with none of it
   delivered, and book it as a synthetic ``recon:`` fill; TWS's real executions
   would then be dropped as already booked.
2. A connection that drops again while the adapter resynchronises (between
   the handshake and the replay of missed executions) must start another
   reconnect by itself, not leave the adapter disconnected until some request
   happens to come.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from standins.tws.server import TwsServer
from tests.ibkr.conftest import run, tws_standin, wait_until
from tests.ibkr.test_adapter import order, started


def test_a_request_waiting_for_the_reconnect_sees_the_missed_executions_delivered() -> None:
    async def body() -> None:
        async with tws_standin(speed=60.0) as r:  # a minute per second: the drop comes first
            broker, sink = await started(r)
            await broker.submit(order("race-1", qty=9), "race-1")
            await broker.submit(order("race-2", "MSFT", 4), "race-2")
            r.tws.drop()
            await r.tws.stop()  # TWS stays away while both fill
            await wait_until(lambda: len(r.tws.executions) == 2, timeout=15)
            assert sink.fills() == []
            asked = asyncio.get_running_loop().create_task(broker.order("race-1"))
            await asyncio.sleep(0.3)  # the reconciliation is waiting for the connection
            assert not asked.done()
            await r.tws.start("127.0.0.1", r.port)
            seen = await asyncio.wait_for(asked, 20)
            assert seen is not None and seen.status == "filled" and seen.filled == 9
            # When the answer came, the executions behind it had been delivered.
            assert sum(f.quantity for f in sink.fills("race-1")) == 9
            await wait_until(lambda: len(sink.fills()) == 2)
            delivered = [f.exec_id for f in sink.fills()]
            assert sorted(delivered) == sorted(e.view.exec_id for e in r.tws.executions)
            await broker.close()

    run(body(), timeout=60)


def test_a_drop_during_resynchronisation_reconnects_by_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = TwsServer._handlers[7]  # reqExecutions
    calls: list[int] = []

    def flaky(self: TwsServer, session, f):  # type: ignore[no-untyped-def]
        calls.append(1)
        # 1: ib_async's own sync at the first connect; 2: the adapter's replay at
        # stream start; 3: ib_async's sync after the drop; 4: the adapter's replay
        # after it. The socket dies at the 4th, mid-resynchronisation.
        if len(calls) == 4:
            self.drop()
            return None
        return original(self, session, f)

    monkeypatch.setitem(TwsServer._handlers, 7, flaky)

    async def body() -> None:
        async with tws_standin(speed=60.0) as r:
            broker, sink = await started(r, max_backoff=0.5)
            await broker.submit(order("resync-1", qty=6), "resync-1")
            r.tws.drop()
            await r.tws.stop()
            await wait_until(lambda: len(r.tws.executions) == 1, timeout=15)
            await r.tws.start("127.0.0.1", r.port)
            # No request from here on: the adapter must come back on its own and
            # deliver the execution it missed.
            await wait_until(lambda: len(calls) >= 4, timeout=20)
            await wait_until(lambda: len(sink.fills("resync-1")) == 1, timeout=20)
            assert broker.reconnects >= 2 and len(calls) >= 6
            [fill] = sink.fills("resync-1")
            assert fill.exec_id == r.tws.executions[0].view.exec_id and fill.fee > 0
            await broker.close()

    run(body(), timeout=60)


def test_a_reconciliation_that_meets_another_drop_does_not_deadlock_the_stream() -> None:
    """The runtime's reconnect reconciliation asks the broker; when the connection
    drops again right then, it must wait for the *next* connection, whose replay
    is queued behind it, not hold the event stream until its request times out."""

    async def body() -> None:
        async with tws_standin(speed=60.0) as r:
            broker, sink = await started(r, request_timeout=8.0, max_backoff=0.3)
            answers: list[object] = []

            async def on_connected() -> None:
                sink.connected += 1
                if sink.connected != 2:  # 1: the start; 2: the first reconnect
                    return
                lost = broker.reconnects
                r.tws.drop()  # gone again before the reconciliation asks
                await wait_until(lambda: broker.reconnects > lost, timeout=5)
                loop = asyncio.get_running_loop()
                asked = loop.time()
                try:
                    answers.append(await broker.positions())
                except Exception as exc:  # the test reports it
                    answers.append(exc)
                answers.append(loop.time() - asked)

            assert broker._sinks is not None
            broker._sinks = dataclasses.replace(broker._sinks, on_trading_connected=on_connected)
            await broker.submit(order("dl-1", qty=4), "dl-1")
            r.tws.drop()
            await wait_until(lambda: len(answers) == 2, timeout=20)
            positions, waited = answers
            assert isinstance(positions, dict), positions  # answered, not timed out
            assert isinstance(waited, float) and waited < 5.0
            await wait_until(lambda: len(sink.fills("dl-1")) == 1, timeout=10)
            assert await broker.positions() == {"AAPL": 4}
            await broker.close()

    run(body(), timeout=60)
