"""``[fix] username``/``password``: from the file or the environment, the
password a ``Secret`` (masked in repr, errors and logs), both or neither."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.errors import BadInput
from gateway.brokers.prime_fix import PrimeFixSettings
from gateway.config import ENV_FIX_PASSWORD, ENV_FIX_USERNAME
from gateway.logs import setup_logging
from tests.gateway.test_config import BASE, parse

FIX = (
    '\n[fix]\nhost = "127.0.0.1"\nport = 9878\nsender_comp_id = "SOVEREIGN"\n'
    'target_comp_id = "PRIMEBROKER"\n'
)
PASSWORD = "pb-Passw0rd-from-file"


def test_username_and_password_from_the_file() -> None:
    config = parse(BASE + FIX + f'username = "sov1"\npassword = "{PASSWORD}"\n')
    assert config.fix is not None
    assert config.fix.username == "sov1" and config.fix.password.reveal() == PASSWORD
    assert PASSWORD not in repr(config.fix) and PASSWORD not in repr(config)
    assert config.fix.password in config.secrets()
    settings = PrimeFixSettings.from_config(config.fix, Path("x.sqlite"))
    assert settings.username == "sov1" and settings.password.reveal() == PASSWORD
    assert PASSWORD not in repr(settings)


def test_the_environment_wins_and_may_hold_both() -> None:
    env = {ENV_FIX_USERNAME: "env-user", ENV_FIX_PASSWORD: "env-Password-1"}
    config = parse(BASE + FIX + f'username = "sov1"\npassword = "{PASSWORD}"\n', env)
    assert config.fix is not None
    assert (config.fix.username, config.fix.password.reveal()) == ("env-user", "env-Password-1")
    only_env = parse(BASE + FIX, env)
    assert only_env.fix is not None and only_env.fix.password.reveal() == "env-Password-1"


def test_no_credentials_is_allowed() -> None:
    config = parse(BASE + FIX)
    assert config.fix is not None and config.fix.username == "" and not config.fix.password


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('username = "sov1"\n', "fix.password"),
        (f'password = "{PASSWORD}"\n', "fix.username"),
        ('username = "sov1"\npassword = "bad\\u0001pw"\n', "fix.password"),
        ('username = "a b\\u0001"\npassword = "x"\n', "fix.username"),
        ('username = "sov1"\npassword = 5\n', "fix.password"),
        ('username = "your-username"\npassword = "x"\n', "fix.username"),
    ],
)
def test_bad_credentials_name_the_key_and_never_show_the_password(extra: str, field: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse(BASE + FIX + extra)
    assert caught.value.field == field
    assert "bad\x01pw" not in str(caught.value)


def test_fix42_with_credentials_is_refused() -> None:
    text = BASE + FIX + f'begin_string = "FIX.4.2"\nusername = "u"\npassword = "{PASSWORD}"\n'
    with pytest.raises(BadInput) as caught:
        parse(text)
    assert caught.value.field == "fix.username"


def test_the_password_is_masked_in_every_log_line(tmp_path: Path) -> None:
    config = parse(BASE + FIX + f'username = "sov1"\npassword = "{PASSWORD}"\n')
    log_file = tmp_path / "logs" / "gw.jsonl"
    setup_logging("info", log_file, config.secrets(), stderr=False)
    try:
        logging.getLogger("fix.any").info("logon sent: 554=%s|", PASSWORD)
    finally:
        for handler in list(logging.getLogger().handlers):
            handler.close()
            logging.getLogger().removeHandler(handler)
    text = log_file.read_text()
    assert "554=***|" in text and PASSWORD not in text
