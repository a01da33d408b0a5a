"""`/_control` reaches the TWS stand-in: its book in the state, its sockets droppable."""

from __future__ import annotations

import asyncio

from ib_async import IB

from tests.standins.conftest import control, state, wait_for


def test_tws_book_is_in_the_state_and_drop_tws_cuts_a_client(server: dict[str, str]) -> None:
    assert "tws" in state(server)
    host, port = server["tws"].split(":")

    async def session() -> tuple[bool, bool]:
        ib = IB()
        await ib.connectAsync(host, int(port), clientId=41, timeout=20)
        connected = ib.isConnected()
        answer = await asyncio.to_thread(control, server, {"fault": "drop_tws"})
        assert answer["ok"] is True and int(answer["dropped"]) >= 1
        for _ in range(100):
            if not ib.isConnected():
                break
            await asyncio.sleep(0.05)
        still = ib.isConnected()
        ib.disconnect()
        return connected, still

    connected, still_connected = asyncio.run(session())
    assert connected and not still_connected
    wait_for(lambda: state(server)["tws"]["account"], 5)
