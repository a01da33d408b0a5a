"""``config.toml`` → frozen dataclasses, validated key by key.

Infrastructure only (broker, credentials, FIX session, Telegram, database,
universe, initial balance, optional tighter risk limits): no strategy
parameters exist to be set. Every problem is reported as ``BadInput`` whose
field is ``section.key``, so a person can find the line to fix; unknown
sections and keys are refused rather than silently ignored (a typo in
``max_positons`` must not leave the default in force).

Credentials may come from the file or from the environment; the environment
wins, so a file with placeholders can be committed while the real values live
in the service's environment:

=================================  ======================
variable                           overrides
=================================  ======================
``SOVEREIGN_ALPACA_API_KEY``       ``[alpaca] api_key``
``SOVEREIGN_ALPACA_SECRET_KEY``    ``[alpaca] secret_key``
``SOVEREIGN_TELEGRAM_BOT_TOKEN``   ``[telegram] bot_token``
``SOVEREIGN_TELEGRAM_CHAT_ID``     ``[telegram] chat_id``
``SOVEREIGN_DASHBOARD_TOKEN``      ``[dashboard] token``
``SOVEREIGN_FIX_USERNAME``         ``[fix] username``
``SOVEREIGN_FIX_PASSWORD``         ``[fix] password``
=================================  ======================
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from core.errors import BadInput
from core.money import price_from_decimal
from core.portfolio import BPS, RiskLimits
from core.universe import MAX_SYMBOLS
from gateway.config_fields import PLACEHOLDERS as _PLACEHOLDERS
from gateway.config_fields import Section as _Section
from gateway.config_fields import credential as _credential
from gateway.config_fields import decimal as _decimal
from gateway.config_fields import path_text as _path_text
from gateway.config_fields import to_bps as _to_bps
from gateway.secrets import MASK, Secret

ENV_ALPACA_KEY = "SOVEREIGN_ALPACA_API_KEY"
ENV_ALPACA_SECRET = "SOVEREIGN_ALPACA_SECRET_KEY"
ENV_TELEGRAM_TOKEN = "SOVEREIGN_TELEGRAM_BOT_TOKEN"
ENV_TELEGRAM_CHAT = "SOVEREIGN_TELEGRAM_CHAT_ID"
ENV_DASHBOARD_TOKEN = "SOVEREIGN_DASHBOARD_TOKEN"
ENV_FIX_USERNAME = "SOVEREIGN_FIX_USERNAME"
ENV_FIX_PASSWORD = "SOVEREIGN_FIX_PASSWORD"

LOG_LEVELS = ("debug", "info", "warning", "error")
BROKERS = ("alpaca", "ibkr", "fix", "tiered")
BAR_SOURCES = ("alpaca", "ibkr")  # [broker] bars, for type "tiered" (docs/tiers.md)
FIX_VERSIONS = ("FIX.4.2", "FIX.4.4")
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,9}(/[A-Z]{2,5})?$")  # AAPL, BRK.B, BTC/USD
_FIX_CREDENTIAL = re.compile(r"[\x20-\x7e]{1,128}", re.ASCII)  # printable: no SOH
# Telegram: "<bot id>:<secret>", e.g. 123456789:AAE... (digits, a colon, URL-safe text)
_BOT_TOKEN = re.compile(r"\d{1,20}:[A-Za-z0-9_-]{1,128}", re.ASCII)


@dataclass(frozen=True)
class SystemConfig:
    name: str = "sovereign"
    log_level: str = "info"
    log_dir: Path = Path("logs")


@dataclass(frozen=True)
class BrokerConfig:
    type: str = "alpaca"
    paper: bool = True
    bars: str = "alpaca"  # tiered: which broker's bars the engine sees
    # Protective stops rest at the broker as stop orders (core.execution.stops)
    # instead of being checked at the bar's close. Part of the engine's identity:
    # a database keeps the value it was first started with (gateway.runtime).
    resting_stops: bool = True


@dataclass(frozen=True)
class AlpacaConfig:
    api_key: Secret
    secret_key: Secret
    rest_url: str | None = None  # trading REST base (stand-ins, tests)
    data_url: str | None = None  # market-data REST base
    data_ws_url: str | None = None  # market-data websocket
    trading_ws_url: str | None = None  # trade-updates websocket
    feed: str = "iex"


@dataclass(frozen=True)
class IbkrConfig:
    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 1
    account_id: str = ""


@dataclass(frozen=True)
class FixConfig:
    host: str = "127.0.0.1"
    port: int = 9878
    sender_comp_id: str = "SOVEREIGN"
    target_comp_id: str = "PRIMEBROKER"
    begin_string: str = "FIX.4.4"
    heartbeat_interval: int = 30
    # Sent in Logon as Username(553)/Password(554); both empty: none sent.
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool = False
    bot_token: Secret = field(default_factory=lambda: Secret(""))
    chat_id: str = ""
    api_url: str = "https://api.telegram.org"
    per_minute: int = 20  # Telegram's group-chat ceiling; private chats allow up to ~60


@dataclass(frozen=True)
class DatabaseConfig:
    path: Path = Path("sovereign.db")


@dataclass(frozen=True)
class DashboardConfig:
    """The live web dashboard (docs/dashboard.md). ``token`` empty: the one in
    ``token_file``, made at first start (owner-only) if there is none."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8765
    token: Secret = field(default_factory=lambda: Secret(""))
    token_file: Path = Path("sovereign.db.dashboard-token")


@dataclass(frozen=True)
class SnapshotsConfig:
    """Engine snapshots (docs/snapshots.md): one every ``every_inputs`` inputs
    and at each session close; the newest ``keep`` are kept."""

    every_inputs: int = 50_000
    keep: int = 3


@dataclass(frozen=True)
class Config:
    system: SystemConfig
    broker: BrokerConfig
    alpaca: AlpacaConfig | None
    ibkr: IbkrConfig | None
    fix: FixConfig | None
    telegram: TelegramConfig
    database: DatabaseConfig
    initial_balance: int  # nano-units
    symbols: tuple[str, ...]
    risk: RiskLimits
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)
    snapshots: SnapshotsConfig = field(default_factory=SnapshotsConfig)
    source: Path | None = None
    warnings: tuple[str, ...] = ()

    def secrets(self) -> list[Secret]:
        """Every credential value, for the log masking filter."""
        found = []
        if self.alpaca is not None:
            found += [self.alpaca.api_key, self.alpaca.secret_key]
        if self.telegram.bot_token:
            found.append(self.telegram.bot_token)
        if self.dashboard.token:
            found.append(self.dashboard.token)
        if self.fix is not None:
            found.append(self.fix.password)
        return [s for s in found if s]


# ------------------------------------------------------------------ sections


def _system(raw: dict[str, Any], base: Path) -> SystemConfig:
    s = _Section("system", raw.get("system", {}))
    name = s.string("name", "sovereign")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise BadInput("system.name", name, "must be 1-64 letters, digits, '_', '.' or '-'")
    level = s.string("log_level", "info").lower()
    if level not in LOG_LEVELS:
        raise BadInput("system.log_level", level, f"must be one of {', '.join(LOG_LEVELS)}")
    log_dir = Path(_path_text(s, "log_dir", "logs"))
    if not log_dir.is_absolute():
        log_dir = base / log_dir
    s.finish()
    return SystemConfig(name, level, log_dir)


def _broker(raw: dict[str, Any]) -> BrokerConfig:
    if "broker" not in raw:
        raise BadInput("broker", None, "section is required")
    s = _Section("broker", raw["broker"])
    kind = s.string("type")
    if kind not in BROKERS:
        raise BadInput("broker.type", kind, f"must be one of {', '.join(BROKERS)}")
    paper = s.boolean("paper", True)
    bars = s.string("bars", "alpaca")
    if bars not in BAR_SOURCES:
        raise BadInput("broker.bars", bars, f"must be one of {', '.join(BAR_SOURCES)}")
    resting_stops = s.boolean("resting_stops", True)
    s.finish()
    return BrokerConfig(kind, paper, bars, resting_stops)


def _alpaca(raw: dict[str, Any], env: Mapping[str, str]) -> AlpacaConfig:
    s = _Section("alpaca", raw.get("alpaca", {}))
    key = _credential(s, "api_key", ENV_ALPACA_KEY, env)
    secret = _credential(s, "secret_key", ENV_ALPACA_SECRET, env)
    rest = s.url("rest_url", ("http", "https"))
    data = s.url("data_url", ("http", "https"))
    data_ws = s.url("data_ws_url", ("ws", "wss"))
    trading_ws = s.url("trading_ws_url", ("ws", "wss"))
    feed = s.string("feed", "iex")
    if feed not in ("iex", "sip"):
        raise BadInput("alpaca.feed", feed, "must be iex or sip")
    s.finish()
    return AlpacaConfig(key, secret, rest, data, data_ws, trading_ws, feed)


def _ibkr(raw: dict[str, Any]) -> IbkrConfig:
    s = _Section("ibkr", raw.get("ibkr", {}))
    result = IbkrConfig(
        s.host("host", "127.0.0.1"),
        s.integer("port", 7497, 1, 65535),
        s.integer("client_id", 1, 0, 2**31 - 1),
        s.string("account_id"),
    )
    s.finish()
    return result


def _fix_credentials(s: _Section, env: Mapping[str, str]) -> tuple[str, Secret]:
    """``[fix] username``/``password`` (or their variables): both or neither."""
    values: dict[str, str] = {}
    for key, env_name in (("username", ENV_FIX_USERNAME), ("password", ENV_FIX_PASSWORD)):
        secret = key == "password"
        value = s.string(key, secret=secret) if s.has(key) else ""
        s.used.add(key)
        value = env.get(env_name) or value
        if value and not _FIX_CREDENTIAL.fullmatch(value):
            shown = MASK if secret else value
            raise BadInput(s.field(key), shown, "must be 1-128 printable ASCII characters")
        if value in _PLACEHOLDERS or value in ("your-username", "your-password"):
            raise BadInput(s.field(key), value, "is still the example's placeholder")
        values[key] = value
    if bool(values["username"]) != bool(values["password"]):
        missing = "password" if values["username"] else "username"
        env_name = ENV_FIX_PASSWORD if missing == "password" else ENV_FIX_USERNAME
        raise BadInput(s.field(missing), None, f"is required with the other (or ${env_name})")
    return values["username"], Secret(values["password"])


def _fix(raw: dict[str, Any], env: Mapping[str, str]) -> FixConfig:
    s = _Section("fix", raw.get("fix", {}))
    begin = s.string("begin_string", "FIX.4.4")
    if begin not in FIX_VERSIONS:
        raise BadInput("fix.begin_string", begin, f"must be one of {', '.join(FIX_VERSIONS)}")
    result = FixConfig(
        s.host("host", "127.0.0.1"),
        s.integer("port", 9878, 1, 65535),
        s.comp_id("sender_comp_id"),
        s.comp_id("target_comp_id"),
        begin,
        s.integer("heartbeat_interval", 30, 1, 3600),
        *_fix_credentials(s, env),
    )
    if result.username and begin == "FIX.4.2":
        raise BadInput("fix.username", result.username, "FIX.4.2 Logon has no Username(553)")
    s.finish()
    return result


def _telegram(raw: dict[str, Any], env: Mapping[str, str]) -> TelegramConfig:
    s = _Section("telegram", raw.get("telegram", {}))
    enabled = s.boolean("enabled", False)
    api_url = s.url("api_url", ("http", "https")) or "https://api.telegram.org"
    per_minute = s.integer("per_minute", 20, 1, 60)
    if not enabled:
        s.used.update({"bot_token", "chat_id"})
        s.finish()
        return TelegramConfig(False, Secret(""), "", api_url, per_minute)
    token = _credential(s, "bot_token", ENV_TELEGRAM_TOKEN, env)
    if not _BOT_TOKEN.fullmatch(token.reveal()):
        shape = "(<bot id digits>:<letters, digits, _ ->)"
        raise BadInput("telegram.bot_token", MASK, f"is not a bot token {shape}")
    s.used.add("chat_id")
    chat = env.get(ENV_TELEGRAM_CHAT) or s.string("chat_id")
    if not re.fullmatch(r"-?\d{1,20}|@[A-Za-z0-9_]{4,64}", chat):
        raise BadInput("telegram.chat_id", chat, "must be a numeric chat id or @channel")
    if chat in _PLACEHOLDERS:
        raise BadInput("telegram.chat_id", chat, "is still the example's placeholder")
    s.finish()
    return TelegramConfig(True, token, chat, api_url, per_minute)


def _database(raw: dict[str, Any], base: Path) -> DatabaseConfig:
    s = _Section("database", raw.get("database", {}))
    path = Path(_path_text(s, "path", "sovereign.db"))
    if not path.is_absolute():
        path = base / path
    if path.is_dir():
        raise BadInput("database.path", str(path), "is a folder, not a database file")
    s.finish()
    return DatabaseConfig(path)


_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")


def _dashboard(raw: dict[str, Any], env: Mapping[str, str], database: Path) -> DashboardConfig:
    s = _Section("dashboard", raw.get("dashboard", {}))
    enabled = s.boolean("enabled", False)
    host = s.string("host", "127.0.0.1")
    if not _HOST.fullmatch(host):
        raise BadInput("dashboard.host", host, "is not a host name or IP address")
    port = s.integer("port", 8765, 0, 65535)
    token = ""
    if s.has("token"):
        token = s.string("token", secret=True)
    else:
        s.used.add("token")
    token = env.get(ENV_DASHBOARD_TOKEN) or token
    if token and not re.fullmatch(r"[A-Za-z0-9._~+/=-]{16,256}", token):
        raise BadInput(
            "dashboard.token", MASK, "must be 16-256 URL-safe characters (letters, digits, -._~+/=)"
        )
    token_file = Path(s.string("token_file", f"{database.name}.dashboard-token"))
    if not token_file.is_absolute():
        token_file = database.parent / token_file
    s.finish()
    return DashboardConfig(enabled, host, port, Secret(token), token_file)


def _initial_balance(raw: dict[str, Any]) -> int:
    if "portfolio" not in raw:
        raise BadInput("portfolio", None, "section is required")
    s = _Section("portfolio", raw["portfolio"])
    if not s.has("initial_balance"):
        raise BadInput("portfolio.initial_balance", None, "is required")
    number = _decimal(s, "initial_balance")
    if number <= 0:
        raise BadInput("portfolio.initial_balance", number, "must be positive")
    nano = price_from_decimal(number, "portfolio.initial_balance")
    s.finish()
    return nano


def _symbols(raw: dict[str, Any]) -> tuple[str, ...]:
    if "universe" not in raw:
        raise BadInput("universe", None, "section is required")
    s = _Section("universe", raw["universe"])
    symbols = s.get("symbols")
    if not isinstance(symbols, list) or not symbols:
        raise BadInput("universe.symbols", symbols, "must be a non-empty list of symbols")
    if len(symbols) > MAX_SYMBOLS:
        raise BadInput("universe.symbols", len(symbols), f"has more than {MAX_SYMBOLS} symbols")
    seen: set[str] = set()
    for symbol in symbols:
        if not isinstance(symbol, str) or not _SYMBOL.fullmatch(symbol):
            raise BadInput("universe.symbols", symbol, "is not a symbol like AAPL or BTC/USD")
        if symbol in seen:
            raise BadInput("universe.symbols", symbol, "appears twice")
        seen.add(symbol)
    s.finish()
    return tuple(symbols)


def _risk(raw: dict[str, Any]) -> RiskLimits:
    defaults = RiskLimits()
    if "risk" not in raw:
        return defaults
    s = _Section("risk", raw["risk"])
    overrides: dict[str, int] = {}
    names: dict[str, str] = {}
    if s.has("risk_per_trade"):
        overrides["risk_per_trade_bps"] = _to_bps(s, "risk_per_trade", BPS)
        names["risk_per_trade_bps"] = "risk.risk_per_trade"
    if s.has("max_positions"):
        overrides["max_positions"] = s.integer("max_positions", None, 1, 10**6)
        names["max_positions"] = "risk.max_positions"
    if s.has("max_gross_per_side"):
        overrides["max_gross_per_side_bps"] = _to_bps(s, "max_gross_per_side", BPS)
        names["max_gross_per_side_bps"] = "risk.max_gross_per_side"
    s.finish()
    try:
        return defaults.tightened(overrides)
    except BadInput as exc:
        internal = exc.field.removeprefix("risk.")
        shown = names.get(internal, exc.field)
        value = exc.value
        if internal.endswith("_bps") and isinstance(value, int):
            value = Decimal(value) / BPS
            limit = getattr(defaults, internal)
            reason = f"may only tighten the limit (at most {Decimal(limit) / BPS})"
            raise BadInput(shown, value, reason) from None
        raise BadInput(shown, value, exc.reason) from None


# ------------------------------------------------------------------ loading


KNOWN_SECTIONS = (
    "system",
    "broker",
    "alpaca",
    "ibkr",
    "fix",
    "telegram",
    "database",
    "portfolio",
    "universe",
    "risk",
    "dashboard",
    "snapshots",
)


def _snapshots(raw: dict[str, Any]) -> SnapshotsConfig:
    s = _Section("snapshots", raw.get("snapshots", {}))
    every = s.integer("every_inputs", 50_000, 100, 100_000_000)
    keep = s.integer("keep", 3, 1, 100)
    s.finish()
    return SnapshotsConfig(every, keep)


def parse_config(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    base: Path = Path("."),
    source: Path | None = None,
    warnings: tuple[str, ...] = (),
) -> Config:
    """Validate TOML text; raises ``BadInput`` naming ``section.key`` and the value."""
    env = os.environ if env is None else env
    where = str(source or "<text>")
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput("config", where, f"is not valid TOML: {exc}") from None
    except RecursionError:
        raise BadInput("config", where, "nests arrays or tables too deeply") from None
    except (ValueError, ArithmeticError) as exc:
        # an integer over Python's 4,300-digit limit, a float Decimal cannot hold
        reason = str(exc).split(";")[0]
        if isinstance(exc, InvalidOperation) or not reason:
            reason = "a decimal this large or this precise cannot be represented"
        raise BadInput("config", where, f"holds a number out of range: {reason}") from None
    for name in raw:
        if name not in KNOWN_SECTIONS:
            raise BadInput(
                name if name.strip() else repr(name),  # "" = 1 is a legal TOML key
                raw[name] if not isinstance(raw[name], dict) else "[table]",
                "is not a known section",
            )
    broker = _broker(raw)
    # Sections of brokers not in use are still validated when present, so a
    # switch of broker.type never meets a config error for the first time live.
    # type "tiered" (docs/tiers.md): [alpaca] is the retail broker, always needed.
    alpaca = _alpaca(raw, env) if broker.type in ("alpaca", "tiered") or "alpaca" in raw else None
    ibkr = _ibkr(raw) if broker.type == "ibkr" or "ibkr" in raw else None
    fix = _fix(raw, env) if broker.type == "fix" or "fix" in raw else None
    if broker.type == "tiered" and broker.bars == "ibkr" and ibkr is None:
        raise BadInput("broker.bars", broker.bars, "needs an [ibkr] section")
    database = _database(raw, base)
    return Config(
        system=_system(raw, base),
        broker=broker,
        alpaca=alpaca,
        ibkr=ibkr,
        fix=fix,
        telegram=_telegram(raw, env),
        database=database,
        initial_balance=_initial_balance(raw),
        symbols=_symbols(raw),
        risk=_risk(raw),
        dashboard=_dashboard(raw, env, database.path),
        snapshots=_snapshots(raw),
        source=source,
        warnings=warnings,
    )


def permission_warning(path: Path) -> str | None:
    """A config holding credentials must be readable by its owner alone."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            f"{path} is readable by group/others (mode {stat.S_IMODE(mode):o}); "
            f"it may hold credentials: chmod 600 {path}"
        )
    return None


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput("config", str(path), f"cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput("config", str(path), "is not UTF-8 text") from None
    warning = permission_warning(path)
    return parse_config(
        text,
        env=env,
        base=path.parent,
        source=path,
        warnings=(warning,) if warning else (),
    )
