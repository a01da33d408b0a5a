"""Config validation: every section, errors name section.key and the value."""

from __future__ import annotations

import logging
import os
from decimal import Decimal
from pathlib import Path

import pytest

from core.errors import BadInput
from core.portfolio import RiskLimits
from gateway.config import (
    ENV_ALPACA_KEY,
    ENV_ALPACA_SECRET,
    ENV_TELEGRAM_CHAT,
    ENV_TELEGRAM_TOKEN,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[2]

BASE = """
[system]
name = "sovereign"
log_level = "info"

[broker]
type = "alpaca"
paper = true

[alpaca]
api_key = "AKFILEKEY123"
secret_key = "FILESECRET456"

[telegram]
enabled = true
bot_token = "123456:FILETOKEN"
chat_id = "1001"

[database]
path = "sovereign.db"

[portfolio]
initial_balance = 100000

[universe]
symbols = ["AAPL", "MSFT"]
"""


def parse(text: str = BASE, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return parse_config(text, env=env or {}, base=Path("/srv"))


def with_line(section: str, line: str, text: str = BASE) -> str:
    return text.replace(f"[{section}]\n", f"[{section}]\n{line}\n", 1)


def without_line(prefix: str, text: str = BASE) -> str:
    return "\n".join(x for x in text.splitlines() if not x.startswith(prefix)) + "\n"


def error(text: str, env: dict[str, str] | None = None) -> BadInput:
    with pytest.raises(BadInput) as info:
        parse(text, env)
    return info.value


def test_valid_config_loads_with_exact_money_and_paths() -> None:
    config = parse()
    assert config.initial_balance == 100_000 * 10**9
    assert config.symbols == ("AAPL", "MSFT")
    assert config.database.path == Path("/srv/sovereign.db")
    assert config.system.log_dir == Path("/srv/logs")
    assert config.risk == RiskLimits()
    assert config.alpaca is not None and config.alpaca.api_key.reveal() == "AKFILEKEY123"
    assert config.telegram.enabled and config.telegram.chat_id == "1001"


def test_example_config_validates_with_credentials_from_the_environment() -> None:
    env = {
        ENV_ALPACA_KEY: "AKENV",
        ENV_ALPACA_SECRET: "SECRETENV",
        ENV_TELEGRAM_TOKEN: "42:abc",
        ENV_TELEGRAM_CHAT: "77",
    }
    config = load_config(ROOT / "config.toml.example", env=env)
    assert config.alpaca is not None and config.alpaca.secret_key.reveal() == "SECRETENV"
    assert config.telegram.bot_token.reveal() == "42:abc" and config.telegram.chat_id == "77"


def test_example_placeholders_are_refused_without_environment() -> None:
    with pytest.raises(BadInput) as info:
        load_config(ROOT / "config.toml.example", env={})
    assert info.value.field == "alpaca.api_key"
    assert "placeholder" in str(info.value)


def test_environment_overrides_the_file() -> None:
    config = parse(env={ENV_ALPACA_KEY: "AKFROMENV", ENV_TELEGRAM_TOKEN: "9:ENVTOKEN"})
    assert config.alpaca is not None
    assert config.alpaca.api_key.reveal() == "AKFROMENV"
    assert config.alpaca.secret_key.reveal() == "FILESECRET456"
    assert config.telegram.bot_token.reveal() == "9:ENVTOKEN"


def test_credentials_may_come_only_from_the_environment() -> None:
    text = without_line("api_key", without_line("secret_key"))
    config = parse(text, env={ENV_ALPACA_KEY: "K1234", ENV_ALPACA_SECRET: "S1234"})
    assert config.alpaca is not None and config.alpaca.api_key.reveal() == "K1234"
    err = error(text)
    assert err.field == "alpaca.api_key" and "SOVEREIGN_ALPACA_API_KEY" in err.reason


@pytest.mark.parametrize(
    ("section", "line", "field", "value"),
    [
        ("system", 'log_level = "loud"', "system.log_level", "loud"),
        ("system", 'name = "has space"', "system.name", "has space"),
        ("system", "colour = 1", "system.colour", 1),
        ("broker", 'type = "robinhood"', "broker.type", "robinhood"),
        ("broker", 'paper = "yes"', "broker.paper", "yes"),
        ("alpaca", 'feed = "otc"', "alpaca.feed", "otc"),
        ("alpaca", 'rest_url = "ftp://x"', "alpaca.rest_url", "ftp://x"),
        ("alpaca", 'data_ws_url = "http://x"', "alpaca.data_ws_url", "http://x"),
        ("telegram", 'chat_id = "not a chat"', "telegram.chat_id", "not a chat"),
        ("database", "path = 5", "database.path", 5),
        ("portfolio", "initial_balance = -5", "portfolio.initial_balance", Decimal(-5)),
        ("portfolio", 'initial_balance = "lots"', "portfolio.initial_balance", "lots"),
        ("universe", 'symbols = ["AAPL", "aapl"]', "universe.symbols", "aapl"),
        ("universe", 'symbols = ["AAPL", "AAPL"]', "universe.symbols", "AAPL"),
        ("universe", "symbols = []", "universe.symbols", []),
    ],
)
def test_bad_values_name_the_key_and_the_value(
    section: str, line: str, field: str, value: object
) -> None:
    key = line.split("=")[0].strip()
    own = BASE.split(f"[{section}]")[1].split("[")[0]
    text = without_line(f"{key} =") if f"{key} =" in own else BASE
    err = error(with_line(section, line, text))
    assert err.field == field
    assert err.value == value
    assert field in str(err)


def test_unknown_section_and_key_are_refused() -> None:
    assert error(BASE + "\n[strategy]\nthreshold = 3\n").field == "strategy"
    err = error(with_line("database", 'pth = "x.db"'))
    assert err.field == "database.pth" and "not a known key" in err.reason


def test_missing_required_sections() -> None:
    assert error(BASE.replace("[broker]", "[brokerx]")).field in ("brokerx", "broker")
    text = BASE.split("[universe]")[0]
    assert error(text).field == "universe"


@pytest.mark.parametrize(
    ("section", "body", "field"),
    [
        ("ibkr", 'host = "h"\nport = 70000\naccount_id = "U1"', "ibkr.port"),
        ("ibkr", 'host = "h"\nport = 7497', "ibkr.account_id"),
        (
            "fix",
            'sender_comp_id = "A"\ntarget_comp_id = "B"\nbegin_string = "FIX.5.0"',
            "fix.begin_string",
        ),
        (
            "fix",
            'sender_comp_id = "A"\ntarget_comp_id = "B"\nheartbeat_interval = 0',
            "fix.heartbeat_interval",
        ),
    ],
)
def test_ibkr_and_fix_sections_are_validated_when_present(
    section: str, body: str, field: str
) -> None:
    assert error(BASE + f"\n[{section}]\n{body}\n").field == field


def test_ibkr_and_fix_sections_accept_the_example_shape() -> None:
    text = BASE + (
        '\n[ibkr]\nhost = "127.0.0.1"\nport = 7497\nclient_id = 1\naccount_id = "DU1"\n'
        '\n[fix]\nhost = "127.0.0.1"\nport = 9878\nsender_comp_id = "SOVEREIGN"\n'
        'target_comp_id = "PRIMEBROKER"\nbegin_string = "FIX.4.4"\nheartbeat_interval = 30\n'
    )
    config = parse(text)
    assert config.ibkr is not None and config.ibkr.account_id == "DU1"
    assert config.fix is not None and config.fix.heartbeat_interval == 30


def test_telegram_disabled_needs_no_token() -> None:
    text = without_line("bot_token", BASE).replace("enabled = true", "enabled = false")
    config = parse(text)
    assert not config.telegram.enabled


def test_risk_may_only_tighten() -> None:
    tight = parse(
        BASE + "\n[risk]\nrisk_per_trade = 0.005\nmax_positions = 5\nmax_gross_per_side = 1.5\n"
    )
    assert tight.risk == RiskLimits(50, 5, 15_000)
    err = error(BASE + "\n[risk]\nrisk_per_trade = 0.02\n")
    assert err.field == "risk.risk_per_trade"
    assert err.value == Decimal("0.02") and "tighten" in err.reason
    err = error(BASE + "\n[risk]\nmax_positions = 21\n")
    assert err.field == "risk.max_positions" and err.value == 21
    err = error(BASE + "\n[risk]\nmax_gross_per_side = 2.5\n")
    assert err.field == "risk.max_gross_per_side" and "tighten" in err.reason
    assert error(BASE + "\n[risk]\nrisk_per_trade = 0.00001\n").field == "risk.risk_per_trade"
    assert error(BASE + "\n[risk]\nmax_drawdown = 0.1\n").field == "risk.max_drawdown"


def test_secret_values_never_appear_in_error_messages() -> None:
    err = error(BASE.replace('api_key = "AKFILEKEY123"', "api_key = 12345678"))
    assert err.field == "alpaca.api_key"
    assert "12345678" not in str(err)


def test_invalid_toml_is_reported() -> None:
    err = error("[system\nname=")
    assert err.field == "config" and "TOML" in err.reason


def test_permission_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BASE)
    path.chmod(0o644)
    config = load_config(path, env={})
    assert config.warnings and "chmod 600" in config.warnings[0]
    path.chmod(0o600)
    assert load_config(path, env={}).warnings == ()
    os.chmod(path, 0o600)
    logging.getLogger().debug("done")


def test_unreadable_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as info:
        load_config(tmp_path / "missing.toml", env={})
    assert info.value.field == "config"
