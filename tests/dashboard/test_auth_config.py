"""Who gets in, in process: the ``[dashboard]`` config, the token file the first
start makes (owner-only, reused, never shortened), the limits on guessing and
on operator commands, the Origin check; and ``python -m gateway pause`` when
there is no dashboard to talk to (a clear message, no traceback)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import BadInput
from gateway.config import DashboardConfig
from gateway.dashboard.auth import (
    CommandLimiter,
    FailureLimiter,
    Sessions,
    bearer,
    resolve_token,
    same_origin,
    token_matches,
)
from gateway.secrets import Secret
from tests.dashboard.harness import free_port
from tests.gateway.test_config import BASE, parse

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "a-dashboard-token-0123456789"


def _with_dashboard(body: str) -> str:
    return BASE + "\n[dashboard]\n" + body + "\n"


def test_the_dashboard_is_off_by_default_and_listens_on_loopback() -> None:
    config = parse().dashboard
    assert (config.enabled, config.host, config.port) == (False, "127.0.0.1", 8765)
    assert config.token.reveal() == ""
    assert config.token_file == Path("/srv/sovereign.db.dashboard-token")


def test_the_environment_token_wins_and_is_a_secret() -> None:
    text = _with_dashboard(f'enabled = true\nport = 9100\ntoken = "{TOKEN}"')
    config = parse(text, {"SOVEREIGN_DASHBOARD_TOKEN": "from-the-environment-42"})
    assert config.dashboard.token.reveal() == "from-the-environment-42"
    assert "from-the-environment-42" not in repr(config.dashboard)
    assert config.dashboard.token in config.secrets()


@pytest.mark.parametrize(
    ("body", "field", "shown"),
    [
        ('enabled = "yes"', "dashboard.enabled", "yes"),
        ("port = 70000", "dashboard.port", "70000"),
        ('host = "evil host"', "dashboard.host", "evil host"),
        ('token = "short"', "dashboard.token", None),
        ('token = "has spaces in it, sixteen+"', "dashboard.token", None),
        ("colour = 1", "dashboard.colour", None),
    ],
)
def test_bad_dashboard_settings_name_the_field(body: str, field: str, shown: str | None) -> None:
    with pytest.raises(BadInput) as info:
        parse(_with_dashboard(body))
    message = str(info.value)
    assert field in message
    if shown is not None:
        assert shown in message
    assert "short" not in message and "has spaces" not in message  # a token is never echoed


def test_the_first_start_makes_an_owner_only_token_file_and_reuses_it(tmp_path: Path) -> None:
    config = DashboardConfig(enabled=True, token_file=tmp_path / "db" / "x.dashboard-token")
    token, source = resolve_token(config)
    assert source == "generated" and len(token.reveal()) >= 40
    assert stat.S_IMODE(config.token_file.stat().st_mode) == 0o600
    again, source = resolve_token(config)
    assert (again.reveal(), source) == (token.reveal(), "file")


def test_a_token_file_others_can_read_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    token, source = resolve_token(DashboardConfig(enabled=True, token_file=path))
    assert (token.reveal(), source) == (TOKEN, "file")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_short_token_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text("tiny\n")
    path.chmod(0o600)
    with pytest.raises(BadInput, match=r"dashboard\.token_file.*shorter than 16"):
        resolve_token(DashboardConfig(enabled=True, token_file=path))


def test_tokens_and_headers() -> None:
    assert token_matches(TOKEN, Secret(TOKEN)) and not token_matches(TOKEN[:-1], Secret(TOKEN))
    assert not token_matches("ünïcode", Secret(TOKEN))
    assert bearer(f"Bearer {TOKEN}") == TOKEN and bearer(f"bearer  {TOKEN} ") == TOKEN
    assert bearer(f"Basic {TOKEN}") is None and bearer("Bearer ") is None and bearer(None) is None
    assert same_origin(None, "127.0.0.1:8765")  # no Origin header sent: the CSRF token decides
    assert same_origin("http://127.0.0.1:8765", "127.0.0.1:8765")
    assert not same_origin("http://evil.example", "127.0.0.1:8765")
    assert not same_origin("null", "127.0.0.1:8765")


def test_guessing_is_limited_per_address_for_a_minute() -> None:
    limiter = FailureLimiter(limit=3, window_s=60.0)
    for _ in range(3):
        assert limiter.blocked_for("10.0.0.1") == 0
        limiter.fail("10.0.0.1")
    assert 59 < limiter.blocked_for("10.0.0.1") <= 60
    assert limiter.blocked_for("10.0.0.2") == 0  # another address is not punished


def test_operator_commands_are_limited_for_everyone_together() -> None:
    limiter = CommandLimiter(limit=2, window_s=10.0)
    assert limiter.allow() == 0 and limiter.allow() == 0
    assert 9 < limiter.allow() <= 10


def test_sessions_are_random_bounded_and_expire() -> None:
    sessions = Sessions(ttl_s=0.2, limit=2)
    first, _ = sessions.create()
    second, session = sessions.create()
    assert first != second and session.csrf not in (first, second)
    sessions.create()
    assert len(sessions) == 2 and sessions.get(first) is None  # the oldest made room
    deadline = time.monotonic() + 30
    while sessions.get(second) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sessions.get(second) is None


def _cli(tmp_path: Path, body: str, action: str = "pause") -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.toml"
    path.write_text(BASE.replace('"sovereign.db"', f'"{tmp_path / "g.db"}"') + body)
    path.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOVEREIGN_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "gateway", action, "--config", str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_shell_command_without_the_dashboard_says_how_to_enable_it(tmp_path: Path) -> None:
    done = _cli(tmp_path, "")
    assert done.returncode == 2
    assert "dashboard.enabled" in done.stderr and "Traceback" not in done.stderr


def test_a_shell_command_without_a_token_file_says_so(tmp_path: Path) -> None:
    done = _cli(tmp_path, f"\n[dashboard]\nenabled = true\nport = {free_port()}\n", "flatten")
    assert done.returncode == 2
    assert "dashboard.token_file" in done.stderr and "start the gateway once" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_shell_command_with_no_gateway_running_says_so(tmp_path: Path) -> None:
    port = free_port()
    body = f'\n[dashboard]\nenabled = true\nport = {port}\ntoken = "{TOKEN}"\n'
    done = _cli(tmp_path, body, "resume")
    assert done.returncode == 1
    assert f"no gateway answered at http://127.0.0.1:{port}/api/control" in done.stderr
    assert TOKEN not in done.stderr + done.stdout and "Traceback" not in done.stderr
