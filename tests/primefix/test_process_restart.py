"""kill -9 the adapter's process mid-order; restart it on the same store.

Against the real ``python -m standins``: the second process logs on without a
reset (its sequence numbers continue from the store), the fills made while
no process was there arrive by resend, and the two processes' booked fills
are exactly the prime broker's executions — none lost, none twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import requests

from tests.standins.conftest import BASE_ARGS, ROOT, running_server


def _start(*args: str) -> tuple[subprocess.Popen[str], list[dict], threading.Thread]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.primefix.adapter_proc", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[dict] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, lines, reader


def _wait(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.02)


def _executions(endpoints: dict[str, str]) -> list[str]:
    state = requests.get(endpoints["control"] + "/state", timeout=5).json()["fix"]
    return [e["exec_id"] for e in state["executions"]]


def test_kill_9_mid_order_and_restart_on_the_same_store(tmp_path):
    store, known = tmp_path / "fix.sqlite", tmp_path / "booked.jsonl"
    with running_server(*BASE_ARGS, "--speed", "600") as endpoints:
        port = endpoints["fix"].split(":")[1]
        first, lines1, reader1 = _start("--port", port, "--store", str(store), "--order")
        _wait(lambda: len([x for x in lines1 if "exec_id" in x]) >= 3)  # mid-order
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        reader1.join(10)  # every line the process printed before it died
        assert not reader1.is_alive()
        fills1 = [x for x in lines1 if "exec_id" in x]
        known.write_text("".join(json.dumps(x) + "\n" for x in fills1))
        start_exec = len(_executions(endpoints))
        # the order keeps filling with nobody there
        _wait(lambda: len(_executions(endpoints)) > start_exec)
        second, lines2, reader = _start(
            "--port", port, "--store", str(store), "--known", str(known), "--seconds", "4"
        )
        assert second.wait(30) == 0
        reader.join(5)
        head1, head2 = lines1[0], lines2[0]
        assert head1["start_sender_seq"] == 1
        assert head2["start_sender_seq"] > 2  # resumed from the store, not reset
        fills2 = [x for x in lines2 if "exec_id" in x]
        booked = [x["exec_id"] for x in fills1 + fills2]
        broker = _executions(endpoints)
        assert len(booked) == len(set(booked))  # nothing twice
        assert booked == broker  # nothing lost, in the broker's order
        assert len(fills2) > 0
