"""Session events as the operator sees them: what is logged loudly, and bounded."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.commands import Side, SubmitOrder
from fix.session import SessionEvent
from gateway.brokers.base import StreamSinks
from gateway.brokers.prime_fix.broker import MAX_EVENTS, PrimeFixBroker
from gateway.brokers.prime_fix.mapping import event_level as _event_level
from tests.primefix.conftest import Recorder, prime_standin, run, settings, wait_until


@pytest.mark.parametrize(
    ("kind", "text", "level"),
    [
        ("logon", "session logged on", logging.INFO),
        ("gap", "MsgSeqNum too high, expecting 5 but received 8", logging.INFO),
        ("resend_complete", "resend of (5, 7) satisfied", logging.INFO),
        ("disconnect", "MsgSeqNum too low, expecting 4 but received 1", logging.WARNING),
        ("disconnect", "Logon refused by counterparty: no", logging.WARNING),
        ("disconnect", "logout complete", logging.DEBUG),
        ("duplicate", "PossDup message 3 already received; ignored", logging.DEBUG),
        ("connect_failed", "connection refused", logging.DEBUG),
    ],
)
def test_event_levels(kind: str, text: str, level: int) -> None:
    assert _event_level(SessionEvent(0, kind, text)) == level


def test_event_history_is_bounded(tmp_path) -> None:
    broker = PrimeFixBroker(settings(9, tmp_path / "fix.db"))
    for i in range(MAX_EVENTS + 500):
        broker._on_event(SessionEvent(i, "connect_failed", "refused"))
    assert len(broker.events) == MAX_EVENTS
    assert broker.events[-1].time_ns == MAX_EVENTS + 499
    run(broker.abort())


def test_counterparty_that_lost_its_sequence_is_refused_loudly_and_our_store_kept(
    tmp_path, caplog
) -> None:
    """A prime broker whose store was lost logs on with MsgSeqNum 1 and no reset:
    the gateway must not silently reset (that would drop the missed reports);
    it refuses the Logon (too low), keeps its numbers and says so at WARNING."""
    store = tmp_path / "fix.db"

    async def scenario() -> None:
        async with prime_standin() as running:
            first = PrimeFixBroker(settings(running.port, store))
            rec = Recorder()
            await rec.attach(first)
            assert await first.connect()
            now = running.standin.market_now()
            await first.submit(SubmitOrder(now, "a", None, "MSFT", Side.BUY, 100), "x-a")
            await wait_until(lambda: rec.fills, 20)
            await first.close()
        async with prime_standin() as fresh:  # a new acceptor: its store is empty
            second = PrimeFixBroker(settings(fresh.port, store))
            expected = second.store.next_target_seq
            await second.stream(StreamSinks(rec.on_bar, rec.on_trade, rec.on_bad, rec.on_connected))
            second._start()
            await wait_until(
                lambda: any("too low" in e.text for e in second.events if e.kind == "disconnect"),
                10,
            )
            await asyncio.sleep(0.1)
            assert second.store.next_target_seq >= expected  # never reset to 1
            await second.abort()

    with caplog.at_level(logging.WARNING, logger="gateway.prime_fix"):
        run(scenario())
    assert any("MsgSeqNum too low" in r.getMessage() for r in caplog.records)
