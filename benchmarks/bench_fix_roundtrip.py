"""Round trip NewOrderSingle -> ExecutionReport over loopback TCP.

Our initiator (this process) against our acceptor (a subprocess running
``python -m gateway.fix.acceptor --app fill``, so each side has its own
core). One order in flight at a time; the latency of each is recorded in an
HdrHistogram and p50 / p99 / p99.9 are reported. Target (issue 5): p99 <=
200 us. Both sides validate every message against the FIX 4.4 dictionary.

Run directly for the table: ``python benchmarks/bench_fix_roundtrip.py [N]``.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.fix.framing import FixMessage  # noqa: E402
from gateway.fix.session import Session, SessionConfig  # noqa: E402
from gateway.fix.store import MemoryStore  # noqa: E402
from gateway.fix.timefmt import format_ns  # noqa: E402
from gateway.fix.transport import FixInitiator  # noqa: E402

WARMUP = 500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_acceptor(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.fix.acceptor", "--port", str(port), "--app", "fill"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("acceptor did not start")


async def measure(port: int, count: int) -> HdrHistogram:
    histogram = HdrHistogram(1, 1_000_000_000, 3)  # ns, 1 ns .. 1 s, 3 digits
    session = Session(
        SessionConfig("FIX.4.4", "TW44", "ISLD", initiator=True, heartbeat_s=30),
        MemoryStore(),
    )
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[FixMessage] | None = None

    def on_app(message: FixMessage) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(message)

    initiator = FixInitiator(session, "127.0.0.1", port, on_app=on_app)
    initiator.start()
    await asyncio.wait_for(initiator.logged_on.wait(), 10)
    transact = format_ns(time.time_ns(), millis=False)
    try:
        for i in range(WARMUP + count):
            body = [
                (11, b"C%d" % i),
                (21, b"1"),
                (38, b"100"),
                (40, b"2"),
                (44, b"25.125"),
                (54, b"1"),
                (55, b"INTC"),
                (59, b"0"),
                (60, transact),
            ]
            waiter = loop.create_future()
            started = time.perf_counter_ns()
            initiator.send(b"D", body)
            report = await asyncio.wait_for(waiter, 5)
            elapsed = time.perf_counter_ns() - started
            assert report.msg_type == b"8" and report.get(11) == b"C%d" % i
            if i >= WARMUP:
                histogram.record_value(elapsed)
    finally:
        await initiator.stop()
    return histogram


def run(count: int) -> dict[str, float]:
    port = _free_port()
    proc = start_acceptor(port)
    try:
        histogram = asyncio.run(measure(port, count))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {
        "count": count,
        "p50_us": histogram.get_value_at_percentile(50) / 1000,
        "p99_us": histogram.get_value_at_percentile(99) / 1000,
        "p99.9_us": histogram.get_value_at_percentile(99.9) / 1000,
        "max_us": histogram.get_max_value() / 1000,
    }


def test_round_trip_latency(benchmark) -> None:
    """One pedantic round of N sequential round trips; percentiles in extra_info."""
    result = benchmark.pedantic(run, args=(5_000,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(
        f"\nround trip D->8 over loopback: p50 {result['p50_us']:.1f} us,"
        f" p99 {result['p99_us']:.1f} us, p99.9 {result['p99.9_us']:.1f} us"
    )
    assert result["count"] == 5_000


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    stats = run(n)
    print(
        " | ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in stats.items())
    )
