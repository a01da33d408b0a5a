"""Gateway restart time: full journal replay vs newest snapshot + tail.

The journal is what a gateway trading 30 symbols' minute bars writes: one
``Bar`` input per symbol per NYSE minute (≈ 2.9 M inputs a year), in the real
SQLite ``Storage``. Restart is measured as the gateway does it, through
``InputPipeline.replay`` with the engine ``gateway.ids.build_engine`` builds:

* **full**: no snapshot file, every input replayed (restart before snapshots);
* **snapshot + tail**: the newest snapshot restored and the inputs after it
  replayed. The tail is ``every_inputs − 1`` inputs (the default 50,000 − 1),
  the *worst* case: a crash just before the next snapshot was due.

Target: restart ≤ 5 s with a year of history (issue 15). The history size is
``SOVEREIGN_RESTART_INPUTS`` (default a full year, 2,948,400 = 30 × 390 ×
252); the journal and the snapshot are built once and cached under
``SOVEREIGN_BENCH_CACHE`` (default ``$TMPDIR/sovereign-bench-restart``),
since building a year means replaying it once.

Run: ``SOVEREIGN_RESTART_INPUTS=300000 python -m pytest benchmarks/bench_restart.py``
or ``python benchmarks/bench_restart.py [inputs]`` for the side-by-side table.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.calendar import sessions_between
from core.events import Bar
from core.instruments import CENT
from gateway.alerts import Alerts
from gateway.config import Config, parse_config
from gateway.ids import Ids
from gateway.inputs import InputPipeline
from gateway.outbox import Outbox
from gateway.snapshots import SnapshotFiles
from gateway.state import MINUTE_NS, LiveState, RuntimeOptions
from gateway.storage import Storage

SYMBOLS = [f"S{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(30)]
YEAR_INPUTS = 30 * 390 * 252
EVERY_INPUTS = 50_000
TAIL = EVERY_INPUTS - 1


def config(every_inputs: int) -> Config:
    return parse_config(
        f"""
[broker]
type = "alpaca"
[alpaca]
api_key = "k-bench"
secret_key = "s-bench"
[portfolio]
initial_balance = 100000
[universe]
symbols = {SYMBOLS!r}
[snapshots]
every_inputs = {every_inputs}
""",
        env={},
    )


def pipeline(db: Path, every_inputs: int) -> InputPipeline:
    """A gateway's input pipeline over ``db``, as ``gateway.runtime.Gateway`` wires it."""
    from gateway.ids import build_engine

    cfg = config(every_inputs)
    storage = Storage(db)
    seed = int(storage.meta_default("seed", lambda: "20261203"))
    state = LiveState(list(cfg.symbols), Ids("sv-bench-"), RuntimeOptions())
    engine = build_engine(cfg, seed, state.clock, state.calendar)
    return InputPipeline(cfg, state, storage, engine, Outbox(), Alerts(state, storage, None))


def minute_bars(inputs: int, seed: int = 1):  # type: ignore[no-untyped-def]
    """(at_ns, Bar) for ``inputs`` bars: 30 random walks over NYSE minutes."""
    sessions = sessions_between("XNYS", "2023-01-01", "2026-12-31")
    rng = np.random.default_rng(seed)
    prices = np.full(len(SYMBOLS), 10_000, dtype=np.int64)  # cents
    made = 0
    for open_ns, close_ns in sessions:
        for minute in range(open_ns, close_ns, MINUTE_NS):
            steps = rng.integers(-6, 7, len(SYMBOLS))
            up = rng.integers(0, 4, len(SYMBOLS))
            down = rng.integers(0, 4, len(SYMBOLS))
            volumes = rng.integers(100, 10_000, len(SYMBOLS)) * np.where(
                rng.random(len(SYMBOLS)) < 0.02, 8, 1
            )
            closes = np.maximum(100, prices + steps)
            highs = np.maximum(prices, closes) + up
            lows = np.maximum(1, np.minimum(prices, closes) - down)
            for i, symbol in enumerate(SYMBOLS):
                bar = Bar(
                    symbol,
                    minute,
                    int(prices[i]) * CENT,
                    int(highs[i]) * CENT,
                    int(lows[i]) * CENT,
                    int(closes[i]) * CENT,
                    int(volumes[i]),
                )
                yield minute + MINUTE_NS, bar
                made += 1
                if made == inputs:
                    return
            prices = closes


def _journal(storage: Storage, bars) -> None:  # type: ignore[no-untyped-def]
    batch = 0
    tx = storage.transaction()
    tx.__enter__()
    for at_ns, bar in bars:
        storage.journal.append(at_ns, bar, "bench")
        batch += 1
        if batch == 20_000:
            tx.__exit__(None, None, None)
            tx = storage.transaction()
            tx.__enter__()
            batch = 0
    tx.__exit__(None, None, None)


def prepared(inputs: int) -> Path:
    """The cached database of ``inputs`` bars with a snapshot ``TAIL`` inputs before its end."""
    root = Path(os.environ.get("SOVEREIGN_BENCH_CACHE", Path(tempfile.gettempdir())))
    folder = root / "sovereign-bench-restart" / str(inputs)
    db = folder / "journal.db"
    if (folder / "ready").exists():
        return db
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    bars = minute_bars(inputs)
    head = max(0, inputs - TAIL)
    started = time.perf_counter()
    storage = Storage(db)
    _journal(storage, (next(bars) for _ in range(head)))
    print(
        f"journal of {head} inputs written in {time.perf_counter() - started:.0f}s", file=sys.stderr
    )
    started = time.perf_counter()
    first = pipeline(db, every_inputs=min(EVERY_INPUTS, max(100, head)))
    first.replay()  # writes the "after replay" snapshot covering the head
    print(f"head replayed and snapshotted in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    _journal(first.storage, bars)  # the tail, journaled after the snapshot
    (folder / "ready").write_text("ok\n")
    return db


def restart(db: Path, with_snapshot: bool) -> dict[str, Any]:
    """One restart of the gateway's engine; its wall time and what it replayed."""
    files = SnapshotFiles(db)
    aside = db.parent / "aside"
    aside.mkdir(exist_ok=True)
    if not with_snapshot:
        for _, path in files.existing():
            path.rename(aside / path.name)
    try:
        pipe = pipeline(db, every_inputs=EVERY_INPUTS if with_snapshot else 100_000_000)
        started = time.perf_counter()
        pipe.replay()
        seconds = time.perf_counter() - started
        return {
            "seconds": seconds,
            "replayed": pipe.state.counters.replayed,
            "inputs": pipe.storage.journal.last_input_seq(),
            "snapshot_bytes": sum(p.stat().st_size for _, p in files.existing()[:1]),
        }
    finally:
        for path in aside.iterdir():
            path.rename(db.parent / path.name)


def size() -> int:
    return int(os.environ.get("SOVEREIGN_RESTART_INPUTS", str(YEAR_INPUTS)))


def test_restart_full_replay(benchmark) -> None:  # type: ignore[no-untyped-def]
    db = prepared(size())
    result = benchmark.pedantic(restart, args=(db, False), rounds=1, iterations=1)
    benchmark.extra_info.update(result)


def test_restart_snapshot_plus_tail(benchmark) -> None:  # type: ignore[no-untyped-def]
    db = prepared(size())
    result = benchmark.pedantic(restart, args=(db, True), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["replayed"] == min(TAIL, result["inputs"])


def main() -> None:
    logging.disable(logging.INFO)
    inputs = int(sys.argv[1]) if len(sys.argv) > 1 else size()
    db = prepared(inputs)
    full = restart(db, False)
    fast = restart(db, True)
    print(f"history: {full['inputs']:,} inputs (30 symbols' minute bars)")
    print(
        f"full replay:      {full['seconds']:8.2f} s  ({full['replayed']:,} inputs,"
        f" {full['replayed'] / full['seconds']:,.0f} inputs/s)"
    )
    print(
        f"snapshot + tail:  {fast['seconds']:8.2f} s  ({fast['replayed']:,} inputs replayed,"
        f" snapshot {fast['snapshot_bytes'] / 1e6:.1f} MB)"
    )
    print(f"ratio full / snapshot: {full['seconds'] / fast['seconds']:.1f}x")


if __name__ == "__main__":
    main()
