"""Start ``python -m standins`` as a subprocess on a free port; stop it after.

Each test module shares one server (start-up generates the market, ~1 s);
fault tests run against their own so a switched fault cannot leak.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET, TOKEN = "test", "test", "123456:test-token"
BASE_ARGS = ("--scenario", "default", "--seed", "3", "--days", "4", "--history-days", "2")


@contextmanager
def running_server(*args: str, timeout: float = 60.0) -> Iterator[dict[str, str]]:
    """The endpoints line of a started server; the process is stopped on exit.

    stderr goes to a temporary file, never an unread pipe a chatty server could fill.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile(mode="w+") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "standins", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        try:
            ready: list[str] = []
            reader = threading.Thread(
                target=lambda: ready.append(process.stdout.readline()),  # type: ignore[union-attr]
                daemon=True,
            )
            reader.start()
            reader.join(timeout)
            if not ready or not ready[0]:
                errors.seek(0)
                raise RuntimeError(
                    f"server printed no endpoints within {timeout}s "
                    f"(rc={process.poll()}): {errors.read()[-2000:]}"
                )
            endpoints = json.loads(ready[0])
            endpoints["pid"] = str(process.pid)
            yield endpoints
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout:
                process.stdout.close()


def control(endpoints: dict[str, str], body: dict[str, object]) -> dict[str, object]:
    answer = requests.post(endpoints["control"], json=body, timeout=5)
    answer.raise_for_status()
    return answer.json()


def state(endpoints: dict[str, str]) -> dict[str, object]:
    answer = requests.get(endpoints["control"] + "/state", timeout=5)
    answer.raise_for_status()
    return answer.json()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll until ``predicate()`` is truthy; return its value or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, str]]:
    """A quiet server: 300× real time (a minute bar every 0.2 s), small bar pages."""
    with running_server(*BASE_ARGS, "--speed", "300", "--bars-page-max", "50") as endpoints:
        yield endpoints
