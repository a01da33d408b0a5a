"""Subprocess harness for end-to-end tests: the real ``python -m standins`` and
the real ``python -m gateway`` talking to each other over local sockets."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["SOVEREIGN_NO_STATUS"] = "1"
    for name in (
        "SOVEREIGN_ALPACA_API_KEY",
        "SOVEREIGN_ALPACA_SECRET_KEY",
        "SOVEREIGN_TELEGRAM_BOT_TOKEN",
        "SOVEREIGN_TELEGRAM_CHAT_ID",
    ):
        env.pop(name, None)
    env.update(extra or {})
    return env


class StandIn:
    """``python -m standins`` as a subprocess; its endpoints from its first line."""

    def __init__(self, workdir: Path, *args: str) -> None:
        self.log = open(workdir / "standin.err", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "standins", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=_env(),
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"standins did not start: {(workdir / 'standin.err').read_text()}")
        self.endpoints: dict[str, Any] = json.loads(line)
        self.rest = self.endpoints["alpaca_rest"]

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.endpoints["control"],
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"{}")

    def state(self) -> dict[str, Any]:
        url = self.endpoints["control"].rstrip("/") + "/state"
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def write_config(
    workdir: Path,
    standin: StandIn,
    *,
    key: str | None = "test",
    secret: str | None = "test",
    token: str | None = "123456:test-token",
    balance: int = 50_000,
    symbols: tuple[str, ...] = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"),
) -> Path:
    """A config for the stand-in; a credential given as None is left to the environment."""
    rest = standin.rest
    creds = (f'api_key = "{key}"\n' if key else "") + (
        f'secret_key = "{secret}"\n' if secret else ""
    )
    token_line = f'bot_token = "{token}"\n' if token else ""
    text = f"""
[system]
name = "e2e"
log_level = "info"
log_dir = "logs"

[broker]
type = "alpaca"
paper = true

[alpaca]
{creds}rest_url = "{rest}"
data_url = "{rest}"
data_ws_url = "{standin.endpoints["alpaca_data_ws"]}"
trading_ws_url = "{standin.endpoints["alpaca_trading_ws"]}"

[telegram]
enabled = true
{token_line}chat_id = "4242"
per_minute = 60
api_url = "{standin.endpoints["telegram"]}"

[database]
path = "gateway.db"

[portfolio]
initial_balance = {balance}

[universe]
symbols = {json.dumps(list(symbols))}
"""
    return _write(workdir, text)


def _write(workdir: Path, text: str) -> Path:
    path = workdir / "config.toml"
    path.write_text(text)
    path.chmod(0o600)  # owner-only: the gateway warns about readable credentials
    return path


def write_tiered_config(
    workdir: Path,
    standin: StandIn,
    *,
    name: str,
    balance: int,
    ibkr: bool = False,
    fix: bool = False,
    client_id: int = 5,
    symbols: tuple[str, ...] = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"),
) -> Path:
    """``[broker] type = "tiered"``: Alpaca (retail, bars) plus the stand-in's TWS
    and/or FIX prime broker; logs in ``logs/<name>.jsonl``."""
    rest = standin.rest
    sections = ""
    if ibkr:
        host, port = standin.endpoints["tws"].split(":")
        sections += (
            f'[ibkr]\nhost = "{host}"\nport = {port}\nclient_id = {client_id}\n'
            'account_id = "DU0000001"\n\n'
        )
    if fix:
        host, port = standin.endpoints["fix"].split(":")
        sections += (
            f'[fix]\nhost = "{host}"\nport = {port}\nsender_comp_id = "SOVEREIGN"\n'
            'target_comp_id = "PRIMEBROKER"\n\n'
        )
    text = f"""
[system]
name = "{name}"
log_dir = "logs"

[broker]
type = "tiered"
paper = true

[alpaca]
api_key = "test"
secret_key = "test"
rest_url = "{rest}"
data_url = "{rest}"
data_ws_url = "{standin.endpoints["alpaca_data_ws"]}"
trading_ws_url = "{standin.endpoints["alpaca_trading_ws"]}"

{sections}[database]
path = "gateway.db"

[portfolio]
initial_balance = {balance}

[universe]
symbols = {json.dumps(list(symbols))}
"""
    return _write(workdir, text)


class GatewayProc:
    def __init__(self, config: Path, env: dict[str, str] | None = None, tag: str = "") -> None:
        self.stderr_path = config.parent / f"gateway{tag}.err"
        self.err = open(self.stderr_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(config)],
            cwd=ROOT,
            stdout=self.err,
            stderr=self.err,
            env=_env(env),
        )

    def kill9(self) -> None:
        if self.err.closed:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.err.close()

    def terminate(self, timeout: float = 20) -> int:
        if self.err.closed:
            return self.proc.wait()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.err.close()
        return code


def wait_for(predicate, timeout: float, interval: float = 0.25) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def db_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
