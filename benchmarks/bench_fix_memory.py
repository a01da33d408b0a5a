"""The FIX acceptor's memory under two floods (issue 15): RSS, not speed.

Against ``python -m fix.acceptor --app fill`` (a subprocess; its sessions'
sent messages in its default store) this client, over loopback TCP:

1. logs on, then sends 100,000 NewOrderSingle whose MsgSeqNum is too high
   (a gap that is never filled): the acceptor queues them out of order;
2. closes that gap with a SequenceReset and runs a 300,000-message session:
   300,000 NewOrderSingle in sequence, each answered by an ExecutionReport
   the acceptor keeps for resend.

The acceptor's RSS is sampled every 20 ms (``psutil``) and its peak per phase
is reported. Target: under 60 MB throughout. ``--acceptor-root`` runs the
acceptor from another checkout (the "before" numbers: an unbounded queue and
an in-memory store)::

    python benchmarks/bench_fix_memory.py [--acceptor-root /path/to/old/checkout]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fix.codec import encode  # noqa: E402
from fix.timefmt import format_ns  # noqa: E402

MB = 1024 * 1024
TARGET_MB = 60
GAP = 1_000  # the out-of-order flood starts this far above the expected number


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Sampler(threading.Thread):
    """Peak RSS of one process since the last ``take``."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def now(self) -> int:
        return int(self.process.memory_info().rss)

    def take(self) -> int:
        peak, self.peak = max(self.peak, self.now()), 0
        return peak


class Client:
    """A bare FIX 4.4 client (TW44 → ISLD) that writes pre-encoded messages fast."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.seq = 1
        self.reports = 0
        self.heartbeats: list[bytes] = []
        self._tail = b""
        self._task = asyncio.create_task(self._read())

    def message(
        self, msg_type: bytes, body: list[tuple[int, object]], seq: int | None = None
    ) -> bytes:
        if seq is None:
            seq, self.seq = self.seq, self.seq + 1
        now = format_ns(time.time_ns())
        head = [(34, seq), (49, b"TW44"), (52, now), (56, b"ISLD")]
        return encode(b"FIX.4.4", [(35, msg_type), *head, *body])

    def order(self, i: int, seq: int | None = None) -> bytes:
        body: list[tuple[int, object]] = [
            (11, b"C%d" % i),
            (21, b"1"),
            (38, b"100"),
            (40, b"2"),
            (44, b"10.5"),
            (54, b"1"),
            (55, b"INTC"),
            (60, format_ns(time.time_ns(), millis=False)),
        ]
        return self.message(b"D", body, seq)

    async def _read(self) -> None:
        while True:
            chunk = await self.reader.read(1 << 16)
            if not chunk:
                return
            data = self._tail + chunk
            self.reports += data.count(b"\x0135=8\x01")
            if b"\x0135=0\x01" in data:
                self.heartbeats.append(data)
            self._tail = data[-16:]
            self.reports -= self._tail.count(b"\x0135=8\x01")  # counted again next time

    async def send(self, raw: bytes) -> None:
        self.writer.write(raw)
        await self.writer.drain()

    async def sync(self, label: bytes, timeout_s: float = 600) -> None:
        """TestRequest → Heartbeat: everything before it has been handled."""
        self.heartbeats.clear()
        await self.send(self.message(b"1", [(112, label)]))
        deadline = time.monotonic() + timeout_s
        while not any(b"\x01112=" + label + b"\x01" in h for h in self.heartbeats):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no Heartbeat for TestRequest {label!r}")
            await asyncio.sleep(0.05)


async def flood(port: int, sampler: Sampler, out_of_order: int, session: int) -> dict[str, int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Client(reader, writer)
    # HeartBtInt 600: only too-high messages arrive for a while, which (as in
    # QuickFIX) do not count as "data received"; a slow acceptor must not time out.
    await client.send(client.message(b"A", [(98, 0), (108, 600), (141, b"Y")]))
    await client.sync(b"logon")
    figures = {"after_logon": sampler.take()}

    # 1. out of order: MsgSeqNum GAP.. above the expected number, never filled
    first = client.seq + GAP
    batch: list[bytes] = []
    for i in range(out_of_order):
        batch.append(client.order(i, seq=first + i))
        if len(batch) == 1_000:
            await client.send(b"".join(batch))
            batch.clear()
    await client.send(b"".join(batch))
    # SequenceReset-Reset is not sequence-checked: it moves past the flood, and
    # the TestRequest after it shows the acceptor has handled everything.
    client.seq = first + out_of_order
    await client.send(client.message(b"4", [(36, client.seq)], seq=client.seq - 1))
    await client.sync(b"gap")
    figures["out_of_order_peak"] = sampler.take()

    # 2. a long session in sequence, every order answered and stored for resend
    sent = 0
    window = 5_000  # orders in flight: the client reads as fast as it writes
    while sent < session:
        while sent - client.reports > window:
            await asyncio.sleep(0.005)
        n = min(1_000, session - sent)
        await client.send(b"".join(client.order(sent + i) for i in range(n)))
        sent += n
    deadline = time.monotonic() + 600
    while client.reports < session and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await client.sync(b"session")
    figures["session_peak"] = sampler.take()
    figures["reports"] = client.reports
    writer.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acceptor-root", type=Path, default=ROOT)
    parser.add_argument("--out-of-order", type=int, default=100_000)
    parser.add_argument("--session", type=int, default=300_000)
    args = parser.parse_args(argv)
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(args.acceptor_root))
    proc = subprocess.Popen(
        [sys.executable, "-m", "fix.acceptor", "--port", str(port), "--app", "fill"],
        cwd=args.acceptor_root,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("acceptor did not start") from None
                time.sleep(0.05)
        sampler = Sampler(proc.pid)
        idle = sampler.now()
        sampler.start()
        started = time.monotonic()
        figures = asyncio.run(flood(port, sampler, args.out_of_order, args.session))
        elapsed = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(10)
    print(f"acceptor from {args.acceptor_root}")
    print(f"  idle, listening:                         {idle / MB:6.1f} MB")
    print(f"  after Logon:                             {figures['after_logon'] / MB:6.1f} MB")
    print(
        f"  peak, {args.out_of_order:,} out-of-order messages:     "
        f"{figures['out_of_order_peak'] / MB:6.1f} MB"
    )
    print(
        f"  peak, {args.session:,}-message session ({figures['reports']:,} reports):"
        f" {figures['session_peak'] / MB:6.1f} MB"
    )
    worst = max(figures["out_of_order_peak"], figures["session_peak"]) / MB
    verdict = "met" if worst < TARGET_MB else "NOT met"
    print(f"  target < {TARGET_MB} MB: {verdict} (worst {worst:.1f} MB), {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
