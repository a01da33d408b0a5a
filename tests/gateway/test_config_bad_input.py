"""Bad gateway configs (issue 11): exit 2 with ``section.key`` and the value, never
a traceback; transport failures in ``--check`` say what failed and only what a
retry can fix is retried."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from gateway.brokers.alpaca import AlpacaBroker, TransportFailure, transport_failure
from gateway.config import AlpacaConfig, parse_config
from gateway.secrets import Secret
from tests.gateway.test_config import BASE, error, with_line

ROOT = Path(__file__).resolve().parents[2]


def run_gateway(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in list(env):
        if name.startswith("SOVEREIGN_"):
            del env[name]
    return subprocess.run(
        [sys.executable, "-m", "gateway", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


# ------------------------------------------------------------ TOML limits


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("x = " + "[" * 5000 + "]" * 5000, "too deeply"),  # RecursionError
        ("max_positions = " + "9" * 5000, "out of range"),  # int over 4,300 digits
    ],
    ids=["array nested 5000 deep", "5000-digit integer"],
)
def test_tomllib_errors_beyond_decode_errors_are_bad_input(line: str, words: str) -> None:
    exc = error(BASE + "\n[risk]\n" + line + "\n")
    assert exc.field == "config" and words in exc.reason


def test_a_float_decimal_cannot_hold_is_bad_input() -> None:
    text = BASE.replace("initial_balance = 100000", "initial_balance = 1e99999999999999999999")
    exc = error(text)
    assert exc.field == "config" and "out of range" in exc.reason


# ------------------------------------------------------------ values


@pytest.mark.parametrize(
    ("section", "line", "field"),
    [
        ("alpaca", 'rest_url = "http://127.0.0.1:99999"', "alpaca.rest_url"),
        ("alpaca", 'rest_url = "http://127.0.0.1:abc"', "alpaca.rest_url"),
        ("alpaca", 'data_url = "http://[::1"', "alpaca.data_url"),
        ("alpaca", 'data_ws_url = "ws://:80/x"', "alpaca.data_ws_url"),
        ("telegram", 'api_url = "https://api.telegram.org:0"', "telegram.api_url"),
        ("system", 'log_dir = "logs\\nmore"', "system.log_dir"),
    ],
)
def test_invalid_urls_and_paths_name_the_key(section: str, line: str, field: str) -> None:
    assert error(with_line(section, line)).field == field


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('sender_comp_id = "SOV\\u0001EREIGN"', "fix.sender_comp_id"),
        ('target_comp_id = "PRIME BROKER"', "fix.target_comp_id"),
        ('host = "bad host"', "fix.host"),
    ],
)
def test_a_fix_comp_id_with_soh_or_space_is_refused(line: str, field: str) -> None:
    fix = '\n[fix]\nsender_comp_id = "SOVEREIGN"\ntarget_comp_id = "PRIMEBROKER"\n'
    key = line.split(" =")[0]
    fix = "\n".join(x for x in fix.splitlines() if not x.startswith(key + " ")) + "\n"
    assert error(BASE + fix + line + "\n").field == field


@pytest.mark.parametrize("token", ["test-token", "abc:def", "123456:", "123:has space", ":x"])
def test_a_telegram_bot_token_that_cannot_be_one_is_refused(token: str) -> None:
    text = BASE.replace('bot_token = "123456:FILETOKEN"', f'bot_token = "{token}"')
    exc = error(text)
    assert exc.field == "telegram.bot_token" and token not in str(exc)  # and never shown


def test_a_database_path_with_a_nul_is_refused() -> None:
    exc = error(BASE.replace('path = "sovereign.db"', 'path = "a\\u0000b.db"'))
    assert exc.field == "database.path"


def test_a_database_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    with pytest.raises(BadInput) as info:
        parse_config(BASE.replace('"sovereign.db"', '"db"'), env={}, base=tmp_path)
    assert info.value.field == "database.path" and "folder" in info.value.reason


def test_an_empty_top_level_key_is_named_not_blank() -> None:
    """Found by fuzz/fuzz_config.py: ``"" = [...]`` gave a message with no field."""
    exc = error('"" = ["AAPL"]\n' + BASE)
    assert exc.field == "''" and "not a known section" in exc.reason


# ------------------------------------------------------------ the CLI


def _base_file(tmp_path: Path, extra: str = "", db: str = "gateway.db") -> Path:
    text = (
        BASE.replace("enabled = true", "enabled = false")
        .replace('path = "sovereign.db"', f'path = "{db}"')
        .replace("[alpaca]\n", '[alpaca]\nrest_url = "http://no-such-host.invalid"\n')
    )
    return write(tmp_path, text + extra)


@pytest.mark.parametrize(
    ("db", "log_dir", "field"),
    [
        ("/proc/sovereign.db", "logs", "database.path"),  # nobody may create files there
        ("sub/\\u0000.db", "logs", "database.path"),
        ("gateway.db", "/proc/logs", "system.log_dir"),
    ],
    ids=["unwritable database", "NUL in database.path", "log_dir that cannot be created"],
)
def test_bad_paths_exit_2_naming_the_key_not_a_traceback(tmp_path, db, log_dir, field) -> None:
    config = _base_file(tmp_path, db=db)
    text = config.read_text().replace(
        'log_level = "info"', f'log_level = "info"\nlog_dir = "{log_dir}"'
    )
    write(tmp_path, text)
    done = run_gateway(config)
    assert done.returncode == 2, done.stdout + done.stderr
    assert field in done.stderr and "Traceback" not in done.stderr


def test_check_on_a_tiered_config_whose_database_folder_does_not_exist(tmp_path: Path) -> None:
    """It used to crash opening the FIX session store there; --check writes nothing."""
    fix = (
        '\n[fix]\nhost = "127.0.0.1"\nport = 1\nsender_comp_id = "SOVEREIGN"\n'
        'target_comp_id = "PRIMEBROKER"\n'
    )
    config = _base_file(tmp_path, fix, db="not/yet/there/gateway.db")
    text = config.read_text().replace('type = "alpaca"', 'type = "tiered"')
    config.write_text(text)
    done = run_gateway(config, "--check")
    assert done.returncode == 1, done.stderr  # the brokers are unreachable: a check failure
    assert "Traceback" not in done.stderr
    assert "DNS lookup failed (no-such-host.invalid)" in done.stderr
    assert not (tmp_path / "not").exists()


def test_check_reports_a_dns_failure_at_once_not_as_http_429(tmp_path: Path) -> None:
    start = time.monotonic()
    done = run_gateway(_base_file(tmp_path), "--check")
    assert done.returncode == 1
    assert "DNS lookup failed (no-such-host.invalid)" in done.stderr
    assert "429" not in done.stderr and "retries" not in done.stderr
    assert time.monotonic() - start < 60  # no 8 back-offs (it took 23 s)


# ------------------------------------------------------------ transport


def _broker(retries: int = 3) -> AlpacaBroker:
    config = AlpacaConfig(Secret("k"), Secret("s"), rest_url="http://127.0.0.1:9")
    return AlpacaBroker(config, True, ["AAPL"], max_retries=retries, max_backoff=0.001)


def _count_calls(exc: BaseException) -> tuple[int, str]:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise exc

    async def go() -> str:
        try:
            await _broker()._call("account", fn)
        except TransportFailure as failure:
            return str(failure)
        return "no error"

    message = asyncio.run(go())
    return len(calls), message


def _wrapped(inner: BaseException) -> requests.exceptions.ConnectionError:
    outer = requests.exceptions.ConnectionError("HTTPConnectionPool: Max retries exceeded")
    outer.__context__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "calls", "words"),
    [
        (_wrapped(socket.gaierror(-2, "Name or service not known")), 1, "DNS lookup failed"),
        (requests.exceptions.SSLError(ssl.SSLError(1, "CERTIFICATE_VERIFY_FAILED")), 1, "TLS"),
        (_wrapped(ConnectionRefusedError(111, "refused")), 4, "connection refused"),
        (requests.exceptions.ReadTimeout("read timed out"), 4, "timed out"),
    ],
    ids=["dns", "tls", "refused", "timeout"],
)
def test_only_what_a_retry_can_fix_is_retried(exc, calls, words) -> None:
    made, message = _count_calls(exc)
    assert made == calls and words in message, message
    assert "HTTP 429" not in message
    if calls > 1:
        assert "still failing after 3 retries" in message


def test_transport_failure_names_the_host_when_urllib3_knows_it() -> None:
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    class Pool:
        host = "broker.example"

    refused = NewConnectionError(None, "Failed to establish a new connection")  # type: ignore[arg-type]
    refused.__context__ = ConnectionRefusedError(111, "refused")
    outer = MaxRetryError(Pool(), "/v2/account", refused)  # type: ignore[arg-type]
    what, retry = transport_failure(outer)
    assert retry and "connection refused (broker.example)" in what


# ------------------------------------------------------------ fuzz

_keys = st.sampled_from(
    ["type", "paper", "path", "rest_url", "port", "host", "symbols", "initial_balance",
     "bot_token", "chat_id", "sender_comp_id", "max_positions", "risk_per_trade", "x"]
)  # fmt: skip
_values = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.text(max_size=12).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(["true", "[]", "[1, [2]]", "1e999", "-0.0", "inf", "nan", '"\\u0000"', "{}"]),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)
_sections = st.sampled_from(
    ["system", "broker", "alpaca", "ibkr", "fix", "telegram", "database", "portfolio", "risk"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(st.tuples(_sections, _keys, _values), max_size=4),
    noise=st.text(max_size=16),
    cut=st.integers(0, len(BASE)),
)
def test_fuzz_the_loader_answers_bad_input_naming_a_field_or_a_config(edits, noise, cut) -> None:
    """Whatever the text: a Config, or BadInput with a field and a reason; never
    another exception (which the CLI would print as a traceback)."""
    text = BASE
    for section, key, value in edits:
        text = with_line(section, f"{key} = {value}", text)
    text = text[:cut] + noise + text[cut:]
    try:
        parse_config(text, env={}, base=Path("/srv"))
    except BadInput as exc:
        assert exc.field and exc.reason
