"""Gateway restarts from snapshots: newest valid snapshot + journal tail.

In process and deterministic (the real Gateway and Engine, the stand-in's
order book as the broker): a restart from a snapshot reaches exactly the
state a full replay reaches, a damaged snapshot falls back to the previous
one and then to the journal and says so, and the files are owner-only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import stat
from pathlib import Path

import pytest

from core.errors import BadInput
from core.snapshot_codec import decode, encode
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.session import MarketTime
from gateway.snapshots import SnapshotFiles
from gateway.storage import Storage
from standins.market import load_market
from tests.gateway.inprocess import InProcessBroker

CONFIG = """
[broker]
type = "alpaca"
[alpaca]
api_key = "k-inproc"
secret_key = "s-inproc"
[portfolio]
initial_balance = 50000
[universe]
symbols = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]
[snapshots]
every_inputs = 400
keep = 3
"""


@pytest.fixture(scope="module")
def market():
    return load_market("range", 1, history_days=0, days=2)


def gateway(db: Path, broker: InProcessBroker, config: str = CONFIG) -> Gateway:
    g = Gateway(
        parse_config(config, env={}, base=db.parent), broker, Storage(db), None, RuntimeOptions()
    )
    g.state.market = MarketTime(monotonic=lambda: 0.0)  # market time from the bars only
    return g


def facts(g: Gateway) -> tuple[object, ...]:
    """Everything a restart rebuilds: the engine's bytes and the live facts."""
    s = g.state
    return g.engine.snapshot(), dict(s.timers), dict(s.last_bar), dict(s.decided_on)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory, market):
    """A database after a day and a half of trading and a crash; its snapshot files."""
    folder = tmp_path_factory.mktemp("snap")
    db = folder / "g.db"

    async def run() -> tuple[object, ...]:
        broker = InProcessBroker(market)
        g = gateway(db, broker)
        await g.start(loops=False)
        bars = list(market.live)
        for bar in bars[: len(bars) * 3 // 4]:
            await broker.publish(bar)
            await g.settle()
        assert g.counters.fills > 0
        state = facts(g)
        await g.crash()
        return state

    before = asyncio.run(run())
    return db, before


def copy(db: Path, to: Path, snapshots: bool = True) -> Path:
    to.mkdir(mode=0o700)
    for path in db.parent.iterdir():
        if path.name.startswith(db.name) and (snapshots or ".snapshot-" not in path.name):
            shutil.copy2(path, to / path.name)
    return to / db.name


def replayed(db: Path, market) -> Gateway:
    g = gateway(db, InProcessBroker(market))
    g.inputs.replay()
    return g


def test_snapshots_were_written_and_pruned(crashed) -> None:
    db, _ = crashed
    found = SnapshotFiles(db).existing()
    assert len(found) == 3  # keep = 3
    seqs = [seq for seq, _ in found]
    assert seqs == sorted(seqs, reverse=True)
    assert not list(db.parent.glob("*.tmp"))


def test_restart_from_snapshot_equals_full_replay(crashed, market, tmp_path: Path, caplog) -> None:
    db, before = crashed
    caplog.set_level(logging.INFO, logger="gateway")
    fast = replayed(copy(db, tmp_path / "with"), market)
    newest = SnapshotFiles(db).existing()[0][0]
    assert f"restored engine from snapshot g.db.snapshot-{newest:012d}" in caplog.text
    assert fast.counters.replayed == fast.storage.journal.last_input_seq() - newest  # the tail only
    full = replayed(copy(db, tmp_path / "without", snapshots=False), market)
    assert full.counters.replayed == full.storage.journal.last_input_seq()
    assert facts(fast) == facts(full) == before


def test_corrupt_newest_falls_back_to_the_previous_then_the_journal(
    crashed,
    market,
    tmp_path: Path,
    caplog,
) -> None:
    db, before = crashed
    copied = copy(db, tmp_path / "bad")
    files = SnapshotFiles(copied).existing()
    newest, previous, _oldest = (path for _, path in files)
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0x01
    newest.write_bytes(bytes(data))
    caplog.set_level(logging.INFO, logger="gateway")
    g = replayed(copied, market)
    assert f"snapshot {newest.name} unusable: snapshot checksum mismatch" in caplog.text
    assert f"restored engine from snapshot {previous.name}" in caplog.text
    assert facts(g) == before

    caplog.clear()
    # That replay's tail was long enough to be snapshotted again: damage them all.
    first, *rest = (path for _, path in SnapshotFiles(copied).existing())
    first.write_bytes(first.read_bytes()[:100])  # truncated
    for path in rest:
        path.write_bytes(b"")
    g = replayed(copied, market)
    assert f"snapshot {first.name} unusable: snapshot truncated" in caplog.text
    assert f"snapshot {rest[-1].name} unusable: not a Sovereign engine snapshot" in caplog.text
    assert "no usable snapshot: replaying the whole journal" in caplog.text
    assert g.counters.replayed == g.storage.journal.last_input_seq()
    assert facts(g) == before


def test_snapshot_past_the_journal_is_refused(crashed, market, tmp_path: Path, caplog) -> None:
    db, before = crashed
    copied = copy(db, tmp_path / "ahead")
    seq, path = SnapshotFiles(copied).existing()[0]
    last = Storage(copied).journal.last_input_seq()
    payload = decode(path.read_bytes())
    payload["seq"] = last + 10  # claims inputs the journal does not have
    SnapshotFiles(copied).path_for(last + 10).write_bytes(encode(payload))
    path.rename(SnapshotFiles(copied).path_for(seq + 1))  # named for inputs it does not cover
    caplog.set_level(logging.INFO, logger="gateway")
    g = replayed(copied, market)
    assert f"covers inputs up to {last + 10}, but the journal ends at {last}" in caplog.text
    assert f"covers inputs up to {seq}, but its name says {seq + 1}" in caplog.text
    assert facts(g) == before


def test_snapshot_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        files = SnapshotFiles(tmp_path / "data" / "gw.db")
        path = files.write(7, b"x" * 10)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.name == "gw.db.snapshot-000000000007"


def test_clean_stop_writes_a_snapshot_so_the_next_start_replays_nothing(
    market,
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    config = CONFIG.replace("every_inputs = 400", "every_inputs = 100000")

    async def run() -> tuple[tuple[object, ...], Gateway]:
        broker = InProcessBroker(market)
        g = gateway(db, broker, config)
        await g.start(loops=False)
        for bar in list(market.live)[:300]:
            await broker.publish(bar)
            await g.settle()
        await g.stop()
        return facts(g), g

    before, g = asyncio.run(run())
    assert SnapshotFiles(db).existing()[0][0] == g.storage.journal.last_input_seq()
    again = replayed(db, market)
    assert again.counters.replayed == 0
    assert facts(again)[0] == before[0]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("every_inputs = 5", "snapshots.every_inputs"),
        ("keep = 0", "snapshots.keep"),
        ('every_inputs = "many"', "snapshots.every_inputs"),
        ("often = 1", "snapshots.often"),
    ],
)
def test_bad_snapshot_settings_name_the_key(line: str, field: str) -> None:
    text = CONFIG.replace("every_inputs = 400\nkeep = 3", line)
    with pytest.raises(BadInput) as caught:
        parse_config(text, env={})
    assert caught.value.field == field
