"""Twenty event-stream clients and one that stops reading, against the real
``python -m gateway`` trading a 30-symbol universe on ``python -m standins``.

The structural half of the issue's load test (the speed half, p99 with and
without the dashboard, is ``benchmarks/bench_dashboard_load.py``): the client
that stops reading fills its socket, then its bounded queue, and is dropped
(its connection aborted, the drop logged and counted), while every other
client keeps receiving and the gateway keeps trading.

Certainty by setup: the staller's receive buffer is 4 KiB and the server's
send buffer for event streams 64 KiB, so after a few state messages (each
several KiB for 30 symbols, four a second while bars flow) its writes stall
and its queue (``MAX_QUEUED_BYTES``) can only grow; every wait is for a
condition with a timeout well above the expected time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.scenarios import scenario
from tests.dashboard.harness import Running, SseReader, log_lines, running
from tests.gateway.agreement import compare
from tests.gateway.harness import db_rows, wait_for

pytestmark = pytest.mark.slow

READERS = 20
SYMBOLS = scenario("universe30").symbols


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    workdir = tmp_path_factory.mktemp("dashboard-load")
    assert len(SYMBOLS) == 30
    with running(
        workdir,
        "--scenario",
        "universe30",
        "--speed",
        "1200",
        "--history-days",
        "0",
        symbols=SYMBOLS,
    ) as r:
        yield r


def _bars_journaled(db: Path) -> int:
    rows = db_rows(db, "SELECT count(*) FROM inputs WHERE kind='bar'")
    return int(rows[0][0]) if rows else 0


def _drop_lines(workdir: Path) -> list[dict[str, object]]:
    return [x for x in log_lines(workdir) if x.get("event") == "dashboard_client_dropped"]


def test_a_client_that_stops_reading_is_dropped_and_nobody_else_notices(run: Running) -> None:
    readers = [SseReader(run.url) for _ in range(READERS)]
    staller = SseReader(run.url, read=False)
    for reader in (*readers, staller):
        reader.start()
    try:
        assert wait_for(lambda: all(r.events for r in readers), 30)
        assert all(r.events[0][1] == "hello" for r in readers)
        assert wait_for(lambda: run.state()["dashboard"]["clients"] == READERS + 1, 30)
        assert wait_for(lambda: _bars_journaled(run.db) > 300, 120), "no bars are flowing"

        assert wait_for(lambda: run.state()["dashboard"]["dropped"] >= 1, 240, interval=0.5), (
            run.state()["dashboard"]
        )
        dropped_at = time.monotonic()
        state = run.state()
        assert state["dashboard"]["dropped"] == 1  # the staller, and nobody else
        assert state["dashboard"]["clients"] == READERS
        (line,) = _drop_lines(run.workdir)
        assert "queued" in str(line["msg"])
        assert staller.drained_to_eof(60), "the staller's connection was not closed"

        # The others keep receiving, and trading goes on.
        bars = _bars_journaled(run.db)

        def everyone_else_still_served() -> bool:
            return all(r.events and r.events[-1][0] > dropped_at + 2 for r in readers)

        assert wait_for(everyone_else_still_served, 60), [len(r.events) for r in readers]
        assert all(r.closed_at is None for r in readers)
        assert wait_for(lambda: _bars_journaled(run.db) > bars + 300, 120)
        assert all(sum(1 for _, e in r.events if e == "state") >= 5 for r in readers)
        assert run.state()["dashboard"]["dropped"] == 1
        assert run.gateway.proc.poll() is None
        assert wait_for(lambda: compare(run.db, run.standin.state()).problems == [], 60)
    finally:
        for reader in (*readers, staller):
            reader.close()
