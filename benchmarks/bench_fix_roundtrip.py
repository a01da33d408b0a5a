"""Round trip NewOrderSingle -> ExecutionReport over loopback TCP.

Our initiator (this process) against our acceptor (a subprocess running
``python -m fix.acceptor --app fill``, so each side has its own
core). One order in flight at a time; the latency of each is recorded in an
HdrHistogram and p50 / p99 / p99.9 are reported. Target (issue 5): p99 <=
200 us. Both sides validate every message against the FIX 4.4 dictionary.

Run directly for the table: ``python benchmarks/bench_fix_roundtrip.py [N]``.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import subprocess
import sys
import time
from pathlib import Path

from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fix.framing import FixMessage  # noqa: E402
from fix.session import Session, SessionConfig  # noqa: E402
from fix.store import MemoryStore  # noqa: E402
from fix.timefmt import format_ns  # noqa: E402
from fix.transport import FixInitiator  # noqa: E402

WARMUP = 500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_acceptor(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "fix.acceptor", "--port", str(port), "--app", "fill"],
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
    gc.freeze()  # as the acceptor does: long-lived setup objects out of the GC's way
    try:
        async with asyncio.timeout(300):  # one guard for the run, not a timer per order
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
                report = await waiter
                elapsed = time.perf_counter_ns() - started
                assert report.msg_type == b"8" and report.get(11) == b"C%d" % i
                if i >= WARMUP:
                    histogram.record_value(elapsed)
    finally:
        await initiator.stop()
    return histogram


_ECHO_SERVER = """
import asyncio, sys
class Echo(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data): self.transport.write(data)
async def main():
    await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", int(sys.argv[1]))
    await asyncio.sleep(3600)
asyncio.run(main())
"""


async def _echo_client(port: int, count: int, size: int) -> HdrHistogram:
    histogram = HdrHistogram(1, 1_000_000_000, 3)
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[bytes] | None = None

    class Client(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            if waiter is not None and not waiter.done():
                waiter.set_result(data)

    transport, _ = await loop.create_connection(Client, "127.0.0.1", port)
    payload = b"x" * size
    for i in range(WARMUP + count):
        waiter = loop.create_future()
        started = time.perf_counter_ns()
        transport.write(payload)
        await waiter
        if i >= WARMUP:
            histogram.record_value(time.perf_counter_ns() - started)
    transport.close()
    return histogram


def baseline(count: int) -> dict[str, float]:
    """The same ping-pong with a bare asyncio echo server and no FIX at all:
    the floor set by the event loop, the kernel and the machine's load."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", _ECHO_SERVER, str(port)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        histogram = asyncio.run(_echo_client(port, count, 150))
    finally:
        proc.kill()
        proc.wait(timeout=10)
    return _summary(count, histogram)


def _summary(count: int, histogram: HdrHistogram) -> dict[str, float]:
    return {
        "count": count,
        "p50_us": histogram.get_value_at_percentile(50) / 1000,
        "p99_us": histogram.get_value_at_percentile(99) / 1000,
        "p99.9_us": histogram.get_value_at_percentile(99.9) / 1000,
        "max_us": histogram.get_max_value() / 1000,
    }


def run(count: int) -> dict[str, float]:
    port = _free_port()
    proc = start_acceptor(port)
    try:
        histogram = asyncio.run(measure(port, count))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return _summary(count, histogram)


def test_round_trip_latency(benchmark) -> None:
    """One pedantic round of N sequential round trips; percentiles in extra_info."""
    result = benchmark.pedantic(run, args=(5_000,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(
        f"\nround trip D->8 over loopback: p50 {result['p50_us']:.1f} us,"
        f" p99 {result['p99_us']:.1f} us, p99.9 {result['p99.9_us']:.1f} us"
    )
    assert result["count"] == 5_000


def test_asyncio_echo_baseline(benchmark) -> None:
    result = benchmark.pedantic(baseline, args=(5_000,), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    assert result["count"] == 5_000


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    print("asyncio echo baseline:", " | ".join(f"{k} {v:.1f}" for k, v in baseline(n).items()))
    stats = run(n)
    print("FIX D -> 8 round trip:", end=" ")
    print(
        " | ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in stats.items())
    )
