"""The real ``python -m gateway`` with its dashboard on, over the real
``python -m standins``, and a real headless Chromium driven by selenium."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.harness import ROOT, GatewayProc, StandIn, _env, wait_for, write_config

TOKEN = "dash-e2e-token-7f3c9b2d41e0a5"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1600,2100",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dashboard_config(
    workdir: Path, standin: StandIn, port: int, *, enabled: bool = True, **kw: Any
) -> Path:
    """The e2e config of ``tests.gateway.harness`` plus a ``[dashboard]`` section."""
    path = write_config(workdir, standin, **kw)
    with path.open("a") as handle:
        handle.write(
            f'\n[dashboard]\nenabled = {"true" if enabled else "false"}\nhost = "127.0.0.1"\n'
            f'port = {port}\ntoken = "{TOKEN}"\n'
        )
    return path


def log_lines(workdir: Path, name: str = "e2e") -> list[dict[str, Any]]:
    path = workdir / "logs" / f"{name}.jsonl"
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:  # a line being written right now
            continue
    return lines


def logged(workdir: Path, event: str) -> bool:
    return any(x.get("event") == event for x in log_lines(workdir))


@dataclass
class Running:
    workdir: Path
    standin: StandIn
    gateway: GatewayProc
    config: Path
    url: str
    db: Path = field(init=False)

    def __post_init__(self) -> None:
        self.db = self.workdir / "gateway.db"

    def api(self, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def state(self) -> dict[str, Any]:
        status, body = self.api("/api/state")
        assert status == 200, body
        return dict(body)

    def cli(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", action, "--config", str(self.config)],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )


@contextmanager
def running(workdir: Path, *standin_args: str, **config_kw: Any) -> Iterator[Running]:
    """Stand-in and gateway (dashboard on a free port), until the block ends."""
    standin = StandIn(workdir, *standin_args)
    gateway = None
    try:
        port = free_port()
        config = dashboard_config(workdir, standin, port, **config_kw)
        gateway = GatewayProc(config)
        ok = wait_for(lambda: logged(workdir, "ready") or gateway.proc.poll() is not None, 60)
        assert ok and gateway.proc.poll() is None, (workdir / "gateway.err").read_text()
        assert logged(workdir, "dashboard_ready")
        yield Running(workdir, standin, gateway, config, f"http://127.0.0.1:{port}")
    finally:
        if gateway is not None:
            gateway.terminate()
        standin.stop()


def chrome(workdir: Path) -> Any:
    """A fresh headless Chromium (own profile) with console and network logs."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='chrome-', dir=workdir)}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    service = Service(CHROMEDRIVER, log_output=str(workdir / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    return driver


def requested_urls(performance_log: list[dict[str, Any]]) -> list[str]:
    """Every URL the page asked for (HTTP requests and websockets)."""
    urls = []
    for entry in performance_log:
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


class SseReader(threading.Thread):
    """An event-stream client in a thread: counts ``event:`` lines as they come
    (``read=True``), or connects with a tiny receive buffer and never reads."""

    def __init__(self, url: str, *, read: bool = True) -> None:
        super().__init__(daemon=True)
        host, port = url.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.read = read
        self.events: list[tuple[float, str]] = []
        self.closed_at: float | None = None
        self.stop = threading.Event()
        self.sock = socket.socket()
        if not read:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(self.address)
        self.sock.sendall(
            (
                f"GET /events HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {TOKEN}"
                "\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )

    def run(self) -> None:
        if not self.read:
            self.stop.wait()
            return
        buffer = b""
        self.sock.settimeout(1.0)
        while not self.stop.is_set():
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            now = time.monotonic()
            for line in lines:
                if line.startswith(b"event: "):
                    self.events.append((now, line[7:].decode()))
        self.closed_at = time.monotonic()

    def drained_to_eof(self, timeout: float) -> bool:
        """Read what the server left in the socket: does it end (we were dropped)?"""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not self.sock.recv(1 << 16):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        return False

    def close(self) -> None:
        self.stop.set()
        with suppress(OSError):
            self.sock.close()
