"""The hub's rules, in process: publishing never waits for a client, a client
whose queue is full is dropped (and only that one), the slots are bounded."""

from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dashboard.hub import Hub, TooManyClients, encode


class FakeTransport:
    def __init__(self) -> None:
        self.aborted = False

    def get_extra_info(self, name: str) -> None:
        return None

    def abort(self) -> None:
        self.aborted = True


def test_a_message_is_one_event_line_and_one_data_line() -> None:
    message = encode("fill", {"exec_id": "e\n1", "price": "1.50"})
    head, data, blank, end = message.split(b"\n")
    assert head == b"event: fill" and blank == end == b""
    assert json.loads(data.removeprefix(b"data: ")) == {"exec_id": "e\n1", "price": "1.50"}


def test_a_client_that_does_not_read_is_dropped_and_the_others_get_everything() -> None:
    hub = Hub(max_messages=8, max_bytes=1 << 20)
    transports = [FakeTransport() for _ in range(3)]
    reader, staller, other = (hub.add(t) for t in transports)  # type: ignore[arg-type]
    got: list[bytes] = []
    for n in range(20):
        hub.publish("state", {"n": n})
        got.append(b"".join(reader.queue))  # the reader drains as it goes
        reader.queue.clear()
        reader.queued_bytes = 0
        other.queue.clear()
        other.queued_bytes = 0
    assert staller.closed and transports[1].aborted and staller.drop_reason.startswith("8 messages")
    assert hub.dropped == 1 and hub.clients == [reader, other]
    assert not transports[0].aborted and not transports[2].aborted
    assert [json.loads(m.split(b"data: ")[1]) for m in got] == [{"n": n} for n in range(20)]


def test_a_byte_budget_drops_a_client_before_its_message_count_is_reached() -> None:
    hub = Hub(max_messages=1000, max_bytes=4096)
    client = hub.add(None)
    for _ in range(10):
        hub.publish("state", {"pad": "x" * 1000})
    assert client.closed and hub.dropped == 1 and "bytes queued" in client.drop_reason


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=30))
def test_no_queue_ever_exceeds_its_bounds(reads: list[int]) -> None:
    hub = Hub(max_messages=16, max_bytes=2000)
    clients = [hub.add(None) for _ in range(3)]
    for i, budget in enumerate(reads):
        hub.publish("state", {"i": i, "pad": "y" * (i % 7) * 20})
        client = clients[i % 3]
        for _ in range(min(budget, len(client.queue))):
            client.queued_bytes -= len(client.queue.popleft())
        for c in hub.clients:
            assert len(c.queue) <= hub.max_messages and c.queued_bytes <= hub.max_bytes
            assert c.queued_bytes == sum(len(m) for m in c.queue)


def test_the_number_of_streams_is_bounded() -> None:
    hub = Hub(max_clients=2)
    hub.add(None)
    second = hub.add(None)
    with pytest.raises(TooManyClients):
        hub.add(None)
    hub.remove(second)
    hub.add(None)  # a slot freed is a slot again


def test_next_batch_joins_the_queue_and_ends_when_the_client_is_dropped() -> None:
    async def scenario() -> list[bytes | None]:
        hub = Hub(max_messages=2)
        client = hub.add(None)
        hub.publish("a", 1)
        hub.publish("b", 2)
        first = await hub.next_batch(client)
        waiting = asyncio.ensure_future(hub.next_batch(client))
        await asyncio.sleep(0)
        for n in range(3):  # overflows: the waiting reader is woken with None
            hub.publish("c", n)
        return [first, await asyncio.wait_for(waiting, 5)]

    first, after_drop = asyncio.run(scenario())
    assert first == encode("a", 1) + encode("b", 2)
    assert after_drop is None
