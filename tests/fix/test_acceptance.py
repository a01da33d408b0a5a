"""QuickFIX FIX 4.4 server acceptance suite against ``python -m fix.acceptor``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from fix.acceptance.deftest import Runner, collect
from fix.paths import REPO_ROOT, acceptance_dir

EXACT_PASS_FLOOR = 59  # what this engine achieves; never lower it silently


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def acceptor_port():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fix.acceptor", "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"acceptor exited: {proc.stdout.read().decode()}")
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.slow
def test_all_fix44_definitions(acceptor_port, capsys) -> None:
    files = collect([str(acceptance_dir() / "fix44")])
    assert len(files) == 59
    runner = Runner("127.0.0.1", acceptor_port, timeout_s=10.0)
    results = [runner.run_file(path) for path in files]
    exact = sum(r.exact_ok for r in results)
    lenient = sum(r.lenient_ok for r in results)
    with capsys.disabled():
        for r in results:
            if not r.exact_ok:
                print(
                    f"\n{'lenient-only' if r.lenient_ok else 'FAIL'} {r.name}: {r.first_difference}"
                )
        print(f"\nFIX 4.4 acceptance: exact {exact}/59, lenient {lenient}/59")
    assert exact >= EXACT_PASS_FLOOR, [r.first_difference for r in results if not r.exact_ok]
