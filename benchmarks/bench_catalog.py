"""The bar catalog at research scale: 10 million minute bars, written and read back.

30 symbols × 348 sessions × 960 minutes (extended hours, 04:00–20:00 ET) =
10,022,400 bars, about 1.4 years of minutes per symbol. Targets (issue 14):
write in under 10 s, read everything back in under 2 s and under 1 GiB.

Run as a script for the numbers (each phase in a fresh process, so peak
memory is the phase's own)::

    python benchmarks/bench_catalog.py            # build + write, then read in a new process

or under pytest-benchmark (``python -m pytest benchmarks/bench_catalog.py``),
which reports the read time and asserts the bar count.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim.data.catalog import Catalog  # noqa: E402

SYMBOLS = [f"S{i:02d}" for i in range(30)]
SESSIONS = 348
MINUTES = 960
FIRST_DAY = np.datetime64("2023-01-02")
START, END = "2023-01-01", "2024-12-31"


def session_days() -> np.ndarray:
    """Weekdays from 2023-01-02 (day numbers since 1970)."""
    days = np.arange(FIRST_DAY, FIRST_DAY + np.timedelta64(600, "D"))
    weekdays = days[np.is_busday(days)]
    return weekdays[:SESSIONS].astype(np.int64)


def symbol_table(symbol: str, seed: int) -> pa.Table:
    """One symbol's bars as catalog columns: a seeded random walk in cents."""
    rng = np.random.default_rng(seed)
    days = session_days()
    minutes = np.arange(MINUTES, dtype=np.int64)
    # 04:00 ET ≈ 09:00 UTC; the offset does not matter for the storage benchmark
    times = (days[:, None] * 86_400 + 9 * 3600 + minutes[None, :] * 60).ravel() * 10**9
    n = len(times)
    close = 10_000 + np.cumsum(rng.integers(-5, 6, n))
    close = np.maximum(close, 100)
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.integers(0, 4, n)
    low = np.maximum(np.minimum(open_, close) - rng.integers(0, 4, n), 1)
    cent = 10_000_000
    return pa.table(
        {
            "time": pa.array(times, pa.int64()),
            "symbol": pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(n, dtype=np.int32)), pa.array([symbol])
            ),
            "open": open_ * cent,
            "high": high * cent,
            "low": low * cent,
            "close": close * cent,
            "volume": rng.integers(100, 10_000, n),
        }
    )


def write_phase(root: Path) -> dict[str, float]:
    tables = [symbol_table(s, i) for i, s in enumerate(SYMBOLS)]
    bars = sum(t.num_rows for t in tables)
    catalog = Catalog(root)
    started = time.perf_counter()
    for table in tables:
        catalog.write_table(table, "1Min", "bench")
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    return {"bars": bars, "write_s": seconds, "files": len(list(root.rglob("*.parquet"))),
            "bytes_on_disk": size}  # fmt: skip


def read_phase(root: Path) -> dict[str, float]:
    catalog = Catalog(root)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    table = catalog.read_table(SYMBOLS, "1Min", START, END)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "bars": table.num_rows,
        "read_s": seconds,
        "peak_rss_mib": peak_kib / 1024,
        "rss_before_read_mib": before / 1024,
        "arrow_bytes_mib": table.nbytes / 2**20,
    }


def _phase(name: str, root: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--phase", name, str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--phase":
        phase = write_phase if sys.argv[2] == "write" else read_phase
        print(json.dumps(phase(Path(sys.argv[3]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        wrote = _phase("write", root)
        read = _phase("read", root)
        print(f"bars: {wrote['bars']:,} ({len(SYMBOLS)} symbols × {SESSIONS} sessions × {MINUTES})")
        print(f"write: {wrote['write_s']:.2f} s, {wrote['files']} files, "
              f"{wrote['bytes_on_disk'] / 2**20:.0f} MiB on disk (target < 10 s)")  # fmt: skip
        print(f"read:  {read['read_s']:.2f} s, peak RSS {read['peak_rss_mib']:.0f} MiB "
              f"(process before the read {read['rss_before_read_mib']:.0f} MiB, table "
              f"{read['arrow_bytes_mib']:.0f} MiB) (targets < 2 s, < 1024 MiB)")  # fmt: skip
        assert read["bars"] == wrote["bars"]


def test_catalog_read_10_million_bars(benchmark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "catalog"
    wrote = write_phase(root)
    catalog = Catalog(root)
    table = benchmark.pedantic(
        lambda: catalog.read_table(SYMBOLS, "1Min", START, END), rounds=3, iterations=1
    )
    assert table.num_rows == wrote["bars"]
    benchmark.extra_info.update(wrote)


if __name__ == "__main__":
    main()
