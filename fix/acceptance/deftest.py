"""Runner for QuickFIX acceptance definitions (``.def``) against a live acceptor.

``python -m fix.deftest --port PORT FOLDER_OR_FILES...`` plays each
file as the initiator (see ``shared/fix/README.md`` for the format) and
reports per file PASS / FAIL with the first difference. Each file is judged
twice from one run: *exact* (every field compared, ``fields.fmt`` patterns for
times and checksum) and *lenient* (Text(58) and BodyLength(9) ignored).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from fix import codec
from fix.paths import acceptance_dir

SOH = b"\x01"
_LINE = re.compile(rb"^([iIeE])(?:(\d+),)?(.*)$", re.DOTALL)
_TIME = re.compile(rb"<TIME([+-]\d+)?>")
LENIENT_SKIP = frozenset((b"58", b"9"))


def load_patterns(path: Path | None = None) -> dict[bytes, re.Pattern[bytes]]:
    """``fields.fmt``: tag=regex lines for fields compared by pattern."""
    path = path or acceptance_dir() / "fields.fmt"
    patterns = {}
    for line in path.read_bytes().splitlines():
        if b"=" in line:
            tag, pattern = line.split(b"=", 1)
            patterns[tag.strip()] = re.compile(pattern.strip())
    return patterns


def substitute_time(message: bytes, now_s: float) -> bytes:
    def repl(match: re.Match[bytes]) -> bytes:
        shift = int(match.group(1)) if match.group(1) else 0
        return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(now_s + shift)).encode()

    return _TIME.sub(repl, message)


def complete(message: bytes) -> bytes:
    """Insert BodyLength(9) after BeginString and CheckSum(10) at the end if absent."""
    fields = message.split(SOH)
    if fields and fields[-1] == b"":
        fields.pop()
    has_checksum = bool(fields) and fields[-1].startswith(b"10=")
    if not any(f.startswith(b"9=") for f in fields):
        body = fields[1:-1] if has_checksum else fields[1:]
        length = sum(len(f) + 1 for f in body)
        fields.insert(1, b"9=%d" % length)
    raw = SOH.join(fields) + SOH
    if not has_checksum:
        raw += b"10=%03d\x01" % codec.checksum(raw)
    return raw


def compare(
    expected: bytes, received: bytes, patterns: dict[bytes, re.Pattern[bytes]], lenient: bool
) -> str | None:
    """None when equal, else the first difference in words."""

    def fields(raw: bytes) -> list[tuple[bytes, bytes]]:
        out = []
        for chunk in raw.split(SOH):
            if chunk:
                tag, _, value = chunk.partition(b"=")
                if not (lenient and tag in LENIENT_SKIP):
                    out.append((tag, value))
        return out

    exp, rec = fields(expected), fields(received)
    for i, ((etag, evalue), (rtag, rvalue)) in enumerate(zip(exp, rec, strict=False)):
        if etag != rtag:
            return f"field {i + 1}: expected tag {etag.decode()}, received {rtag.decode()}"
        pattern = patterns.get(etag)
        ok = pattern.match(rvalue) is not None if pattern else evalue == rvalue
        if not ok:
            return (
                f"tag {etag.decode()}: expected {evalue.decode('latin-1')!r},"
                f" received {rvalue.decode('latin-1')!r}"
            )
    if len(exp) != len(rec):
        return f"field count: expected {len(exp)}, received {len(rec)}"
    return None


@dataclass
class FileResult:
    name: str
    lenient_ok: bool = True
    exact_ok: bool = True
    first_difference: str = ""
    exact_difference: str = ""
    seconds: float = 0.0


@dataclass
class _Conn:
    sock: socket.socket
    buf: bytes = b""
    closed: bool = False
    pending: list[bytes] = field(default_factory=list)

    def read_message(self, deadline: float) -> bytes | None:
        """Next framed message, or None if the peer closed first; TimeoutError on deadline."""
        while True:
            if self.pending:
                return self.pending.pop(0)
            pos = 0
            while True:
                kind, start, end, _ = codec.scan(self.buf, pos, 1 << 20)
                if kind == codec.NEED_MORE:
                    break
                if kind == codec.FRAME:
                    self.pending.append(self.buf[start:end])
                else:
                    self.pending.append(b"GARBLED:" + self.buf[start:end])
                pos = end
            self.buf = self.buf[pos:]
            if self.pending:
                continue
            if self.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise
            except OSError:
                data = b""
            if not data:
                self.closed = True
            self.buf += data


class Runner:
    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float = 10.0,
        patterns: dict[bytes, re.Pattern[bytes]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s
        self.patterns = patterns if patterns is not None else load_patterns()

    def run_file(self, path: Path) -> FileResult:
        result = FileResult(path.name)
        conns: dict[int, _Conn] = {}
        started = time.monotonic()
        try:
            for lineno, line in enumerate(path.read_bytes().split(b"\n"), 1):
                line = line.rstrip(b"\r")
                if not line.strip() or line.startswith(b"#"):
                    continue
                match = _LINE.match(line)
                if match is None:
                    continue
                kind, index, rest = match.group(1), int(match.group(2) or 1), match.group(3)
                problem = self._step(kind, index, rest, conns, result)
                if problem is not None:
                    result.lenient_ok = result.exact_ok = False
                    result.first_difference = f"line {lineno}: {problem}"
                    break
        finally:
            for conn in conns.values():
                conn.sock.close()
        if not result.exact_ok and not result.first_difference:
            result.first_difference = result.exact_difference
        result.seconds = time.monotonic() - started
        return result

    def _step(
        self, kind: bytes, index: int, rest: bytes, conns: dict[int, _Conn], result: FileResult
    ) -> str | None:
        if kind == b"i":
            if rest == b"CONNECT":
                sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conns[index] = _Conn(sock)
            elif rest == b"DISCONNECT" and index in conns:
                conns.pop(index).sock.close()
                time.sleep(0.05)
            return None
        if kind == b"I":
            conn = conns.get(index)
            if conn is None:
                return f"send on connection {index} which is not open"
            message = complete(substitute_time(rest, time.time()))
            # The acceptor may already have closed; a later step will judge.
            with contextlib.suppress(OSError):
                conn.sock.sendall(message)
            return None
        conn = conns.get(index)
        if conn is None:
            return f"expectation on connection {index} which is not open"
        deadline = time.monotonic() + self.timeout_s
        if rest == b"DISCONNECT":
            try:
                received = conn.read_message(deadline)
            except TimeoutError:
                return "expected disconnect, connection still open"
            if received is not None:
                return f"expected disconnect, received {_show(received)}"
            conns.pop(index).sock.close()
            return None
        if kind == b"e":
            return None  # eCONNECT: the server suite never asks the engine to connect
        expected = complete(substitute_time(rest, time.time()))
        try:
            received = conn.read_message(deadline)
        except TimeoutError:
            return f"timed out waiting for {_show(expected)}"
        if received is None:
            return f"connection closed, expected {_show(expected)}"
        lenient = compare(expected, received, self.patterns, lenient=True)
        if lenient is not None:
            return f"{lenient}; expected {_show(expected)} received {_show(received)}"
        exact = compare(expected, received, self.patterns, lenient=False)
        if exact is not None and result.exact_ok:
            result.exact_ok = False
            result.exact_difference = (
                f"{exact}; expected {_show(expected)} received {_show(received)}"
            )
        return None


def _show(raw: bytes) -> str:
    return raw.replace(SOH, b"|").decode("latin-1")


def collect(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(path.glob("*.def")))
        elif path.suffix == ".def" and path.exists():
            files.append(path)
        else:
            raise SystemExit(f"path={name!r}: not a .def file or a folder of them")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fix.deftest", description=__doc__)
    parser.add_argument("paths", nargs="*", help="folders or .def files (default: FIX 4.4 suite)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per expectation")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not 0 < args.port <= 65535:
        parser.error(f"--port={args.port}: must be 1..65535")
    if args.timeout <= 0:
        parser.error(f"--timeout={args.timeout}: must be positive")
    files = collect(args.paths or [str(acceptance_dir() / "fix44")])
    runner = Runner(args.host, args.port, args.timeout)
    exact = lenient = 0
    for path in files:
        result = runner.run_file(path)
        exact += result.exact_ok
        lenient += result.lenient_ok
        if result.exact_ok:
            status = "PASS"
        elif result.lenient_ok:
            status = "PASS (lenient only)"
        else:
            status = "FAIL"
        detail = "" if result.exact_ok else f"  -- {result.first_difference}"
        print(f"{status:20} {result.name} ({result.seconds:.1f}s){detail}", flush=True)
    print(f"exact: {exact}/{len(files)}  lenient: {lenient}/{len(files)}", flush=True)
    return 0 if exact == len(files) else 1


if __name__ == "__main__":
    raise SystemExit(main())
