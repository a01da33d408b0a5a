"""The two real processes of a soak, `python -m standins` and `python -m gateway`,
and the gateway's JSON-lines log read as it grows.

Nothing here sleeps to hope: callers wait on conditions (``wait_for``) with
generous deadlines, so a loaded machine makes a soak slower, never wrong.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
_CREDENTIALS = (
    "SOVEREIGN_ALPACA_API_KEY",
    "SOVEREIGN_ALPACA_SECRET_KEY",
    "SOVEREIGN_TELEGRAM_BOT_TOKEN",
    "SOVEREIGN_TELEGRAM_CHAT_ID",
    "SOVEREIGN_FIX_USERNAME",
    "SOVEREIGN_FIX_PASSWORD",
)


def child_env() -> dict[str, str]:
    """This checkout first on the path; no status lines; no credentials from outside."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["SOVEREIGN_NO_STATUS"] = "1"
    for name in _CREDENTIALS:
        env.pop(name, None)
    return env


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` real seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class StandInProc:
    """`python -m standins` as a subprocess, its endpoints from its first stdout line."""

    def __init__(self, workdir: Path, args: list[str]) -> None:
        self._err: IO[str] = open(workdir / "standin.err", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "standins", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=child_env(),
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # generating a year of 30 symbols takes a while
        if not line:
            self._err.close()
            raise RuntimeError(
                f"standins did not start: {(workdir / 'standin.err').read_text()[-2000:]}"
            )
        self.endpoints: dict[str, Any] = json.loads(line)

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.endpoints["control"],
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
        if not answer.get("ok", False):
            raise RuntimeError(f"/_control {body} refused: {answer}")
        return answer

    def state(self) -> dict[str, Any]:
        url = self.endpoints["control"].rstrip("/") + "/state"
        with urllib.request.urlopen(url, timeout=120) as response:
            state: dict[str, Any] = json.loads(response.read())
        return state

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()


class GatewayProc:
    """One life of `python -m gateway --config F`: started, then killed or stopped."""

    def __init__(self, config: Path, stderr_path: Path) -> None:
        self.stderr_path = stderr_path
        self._err: IO[bytes] = open(stderr_path, "wb")  # noqa: SIM115
        self.started_wall = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(config)],
            cwd=ROOT,
            stdout=self._err,
            stderr=self._err,
            env=child_env(),
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._err.close()

    def terminate(self, timeout: float = 60.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._err.close()
        return code

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass(frozen=True)
class LogEvent:
    event: str
    wall: float  # the line's own timestamp, seconds since the epoch
    fields: dict[str, Any]


class LogTail:
    """The gateway's JSON-lines log, read incrementally (a year's log is large).

    A line cut by kill -9 is glued to the next process's first line and fails
    to parse: it is skipped, as a person reading the log would."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self.counts: dict[str, int] = {}
        self.last: dict[str, LogEvent] = {}

    def poll(self) -> list[LogEvent]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        out: list[LogEvent] = []
        for raw in lines:
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if not isinstance(record, dict) or "event" not in record:
                continue
            event = LogEvent(str(record["event"]), _wall(record.get("ts")), record)
            self.counts[event.event] = self.counts.get(event.event, 0) + 1
            self.last[event.event] = event
            out.append(event)
        return out

    def count(self, event: str) -> int:
        self.poll()
        return self.counts.get(event, 0)


def _wall(ts: object) -> float:
    if not isinstance(ts, str):
        return 0.0
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class Database:
    """Read-only looks at the gateway's SQLite while it runs (WAL: never blocks it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not self.path.exists():
            return []
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []  # not yet migrated
        finally:
            db.close()

    def scalar(self, sql: str) -> int:
        rows = self.rows(sql)
        return int(rows[0][0] or 0) if rows else 0

    def inputs(self) -> int:
        return self.scalar("SELECT MAX(seq) FROM inputs")

    def executions(self) -> int:
        return self.scalar("SELECT COUNT(*) FROM executions")

    def in_flight(self) -> int:
        return self.scalar(
            "SELECT COUNT(*) FROM orders WHERE sent=1"
            " AND status IN ('pending_new', 'new', 'partially_filled')"
        )
