"""``python -m standins`` arguments, the endpoints line, and a graceful stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from tests.standins.conftest import ROOT


def _serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "standins", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--speed", "0"), "--speed"),
        (("--speed", "fast"), "--speed"),
        (("--scenario", "atlantis"), "scenario"),
        (("--days", "3", "--history-days", "3"), "--history-days"),
        (("--port", "70000"), "--port"),
        (("--fault-429", "2"), "--fault-429"),
        (("--dark-fill-rate", "1.5"), "--dark-fill-rate"),
        (("--drop-after", "0"), "--drop-after"),
        (("--key", ""), "--key"),
        (("--seed", "-1"), "--seed"),
        (("--pre-open", "-5"), "--pre-open"),
        (("--balance", "-5"), "--balance"),
        (("--balance", "lots"), "--balance"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(args: tuple[str, ...], named: str) -> None:
    result = _serve(*args)
    assert result.returncode == 2
    assert named in result.stderr
    assert result.stdout == ""


def test_a_taken_port_is_refused_with_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--days", "3", "--port", str(port))
    assert result.returncode == 2
    assert f"--port {port}" in result.stderr


def test_endpoints_line_then_graceful_stop_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "standins", "--days", "3", "--history-days", "1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        for name in ("alpaca_rest", "telegram", "control"):
            assert line[name].startswith("http://127.0.0.1:")
        assert line["alpaca_data_ws"].startswith("ws://127.0.0.1:")
        assert line["alpaca_data_ws"].endswith("/v2/iex")
        assert line["alpaca_trading_ws"].endswith("/stream")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
