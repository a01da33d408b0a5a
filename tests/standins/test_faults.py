"""Fault switches: 429s (alpaca-py retries them), dropped streams, silence."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator

import msgpack
import pytest
import requests
import websockets
from alpaca.data.live import StockDataStream
from alpaca.trading.client import TradingClient

from tests.standins.conftest import BASE_ARGS, KEY, SECRET, TOKEN, control, running_server, state

HEADERS = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}


@pytest.fixture(scope="module")
def faulty() -> Iterator[dict[str, str]]:
    with running_server(*BASE_ARGS, "--speed", "300") as endpoints:
        yield endpoints


@pytest.fixture(autouse=True)
def _clear(faulty: dict[str, str]) -> Iterator[None]:
    yield
    control(faulty, {"fault": "clear"})


def test_alpaca_py_retries_a_429_and_recovers(faulty: dict[str, str]) -> None:
    control(faulty, {"fault": "429", "count": 1})
    before = state(faulty)["faults"]["counters"].get("429", 0)
    client = TradingClient(KEY, SECRET, paper=True, url_override=faulty["alpaca_rest"])
    account = client.get_account()  # first try 429, alpaca-py sleeps 3 s and retries
    assert account.status.value == "ACTIVE"
    assert state(faulty)["faults"]["counters"]["429"] == before + 1


def test_429_body_is_alpacas(faulty: dict[str, str]) -> None:
    control(faulty, {"fault": "429", "count": 2})
    answer = requests.get(faulty["alpaca_rest"] + "/v2/account", headers=HEADERS, timeout=5)
    assert answer.status_code == 429
    assert answer.json() == {"code": 42910000, "message": "too many requests"}
    assert answer.headers["X-Ratelimit-Remaining"] == "0"
    telegram = requests.get(f"{faulty['telegram']}/bot{TOKEN}/getMe", timeout=5)
    assert telegram.status_code == 429
    assert telegram.json()["parameters"]["retry_after"] == 1
    assert requests.get(faulty["alpaca_rest"] + "/v2/account", headers=HEADERS, timeout=5).ok


def _stream_run(endpoints: dict[str, str], during) -> list[tuple[float, object]]:  # type: ignore[no-untyped-def]
    """Run StockDataStream on AAPL while ``during(received)`` (async) injects faults."""
    received: list[tuple[float, object]] = []

    async def on_bar(bar) -> None:  # type: ignore[no-untyped-def]
        received.append((time.monotonic(), bar))

    stream = StockDataStream(KEY, SECRET, url_override=endpoints["alpaca_data_ws"])
    stream.subscribe_bars(on_bar, "AAPL")

    async def main() -> None:
        task = asyncio.create_task(stream._run_forever())
        try:
            await asyncio.wait_for(during(received), 30)
        finally:
            await stream.stop_ws()
            await asyncio.wait_for(task, 10)

    asyncio.run(main())
    return received


async def _until(received: list, count: int) -> None:  # type: ignore[type-arg]
    while len(received) < count:
        await asyncio.sleep(0.02)


def test_dropped_stream_is_reconnected_by_alpaca_py(faulty: dict[str, str]) -> None:
    marks = {}

    async def during(received: list) -> None:  # type: ignore[type-arg]
        await _until(received, 3)
        await asyncio.to_thread(control, faulty, {"fault": "drop_streams"})
        marks["dropped"] = len(received)
        await _until(received, marks["dropped"] + 3)

    received = _stream_run(faulty, during)
    assert len(received) >= marks["dropped"] + 3
    assert state(faulty)["faults"]["counters"]["dropped_connections"] >= 1


def test_drop_after_n_frames_cuts_every_connection(faulty: dict[str, str]) -> None:
    control(faulty, {"fault": "drop_after", "frames": 2})
    before = state(faulty)["faults"]["counters"].get("dropped_connections", 0)

    async def during(received: list) -> None:  # type: ignore[type-arg]
        await _until(received, 5)  # needs at least two reconnections

    received = _stream_run(faulty, during)
    assert len(received) >= 5
    assert state(faulty)["faults"]["counters"]["dropped_connections"] >= before + 2


def test_silence_mutes_the_stream_without_closing_it_and_history_fills_the_gap(
    faulty: dict[str, str],
) -> None:
    marks: dict[str, float] = {}
    dropped_before = state(faulty)["faults"]["counters"].get("dropped_connections", 0)

    async def during(received: list) -> None:  # type: ignore[type-arg]
        await _until(received, 2)
        await asyncio.to_thread(control, faulty, {"fault": "silence", "seconds": 1.5})
        marks["silenced"] = time.monotonic()
        marks["count"] = len(received)
        await _until(received, marks["count"] + 2)

    received = _stream_run(faulty, during)
    gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(received)]
    assert max(gaps) >= 1.2  # nothing for the silent second and a half (bars come every 0.2 s)
    counters = state(faulty)["faults"]["counters"]
    assert counters["silenced_bar_frames"] >= 3
    assert counters.get("dropped_connections", 0) == dropped_before  # muted, not closed
    # The muted minutes are not lost: they are on the REST tape.
    bars = [bar for _, bar in received]
    gap_at = gaps.index(max(gaps))
    first, last = bars[gap_at].timestamp, bars[gap_at + 1].timestamp
    history = requests.get(
        faulty["alpaca_rest"] + "/v2/stocks/AAPL/bars",
        params={"timeframe": "1Min", "start": first.isoformat(), "end": last.isoformat()},
        headers=HEADERS,
        timeout=5,
    ).json()["bars"]
    assert len(history) == int((last - first).total_seconds() // 60) + 1 >= 5


@pytest.mark.parametrize(
    "body",
    [
        {"fault": "meteor"},
        {"fault": "429"},
        {"fault": "429", "count": -1},
        {"fault": "429", "rate": 2},
        {"fault": "silence", "seconds": "long"},
        {"fault": "drop_after", "frames": 0},
        [1, 2],
    ],
)
def test_bad_control_requests_are_400_and_change_nothing(
    faulty: dict[str, str], body: object
) -> None:
    before = state(faulty)["faults"]
    answer = requests.post(faulty["control"], json=body, timeout=5)
    assert answer.status_code == 400
    assert answer.json()["error"]
    after = state(faulty)["faults"]
    assert {k: after[k] for k in ("rate_429", "pending_429", "drop_after")} == {
        k: before[k] for k in ("rate_429", "pending_429", "drop_after")
    }


def test_command_line_fault_switches() -> None:
    with running_server(
        *BASE_ARGS,
        "--speed",
        "120",
        "--fault-429",
        "1",
        "--silence-after",
        "1",
        "--silence-seconds",
        "60",
    ) as endpoints:
        answer = requests.get(endpoints["alpaca_rest"] + "/v2/clock", headers=HEADERS, timeout=5)
        assert answer.status_code == 429

        async def listen() -> None:
            async with websockets.connect(
                endpoints["alpaca_data_ws"],
                additional_headers={"Content-Type": "application/msgpack"},
            ) as ws:
                await ws.recv()
                await ws.send(msgpack.packb({"action": "auth", "key": KEY, "secret": SECRET}))
                await ws.recv()
                await ws.send(msgpack.packb({"action": "subscribe", "bars": ["*"]}))
                await ws.recv()
                await asyncio.sleep(2.0)  # 4 minutes pass; all but the first are muted

        asyncio.run(listen())
        counters = state(endpoints)["faults"]["counters"]
        assert counters["silences"] == 1
        assert counters["silenced_bar_frames"] >= 2
