"""``python -m gateway [pause|resume|flatten] --config FILE [--check]``.

Without a command: run the gateway (``--check``: validate and test the
connections, then exit). With one: send that operator command to the gateway
already running with this config, through its dashboard API
(``gateway.dashboard.client``), and print its answer.

Exit codes: 0 ok; 1 a connectivity check, the run or the command failed; 2 bad
arguments or an invalid configuration (the message names ``section.key`` and
the value).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import BadInput
from core.operator import OPERATOR_ACTIONS
from gateway.config import Config, load_config
from gateway.secrets import Secret, SecretMaskingFilter

if TYPE_CHECKING:  # imported lazily at run time: --help and --check stay fast
    from gateway.brokers.base import Broker
    from gateway.notify import Notifier
    from gateway.storage import Storage

log = logging.getLogger("gateway")
_MASK = SecretMaskingFilter()


def say(text: str, *, error: bool = False) -> None:
    """Print for the operator, with every known credential masked (exception texts
    from libraries may carry a URL with the bot token in it)."""
    print(_MASK.mask(text), file=sys.stderr if error else sys.stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description=(
            "Sovereign production gateway: runs the trading engine live against the"
            " broker(s) in the config (Alpaca, Interactive Brokers through TWS / IB"
            " Gateway, a FIX 4.2/4.4 prime broker, or tiered by account size), keeps"
            " orders and executions in SQLite and alerts over Telegram."
        ),
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=OPERATOR_ACTIONS,
        help="send an operator command to the running gateway (pause: no new entries;"
        " resume; flatten: close every position and pause)",
    )
    parser.add_argument("--config", required=True, type=Path, help="path to config.toml")
    parser.add_argument(
        "--check", action="store_true", help="validate the config and connectivity, then exit"
    )
    return parser


def _make_broker(config: Config, storage: object = None) -> Broker:
    if config.broker.type == "tiered":  # one broker per tier, docs/tiers.md
        from gateway.brokers.tiered import build_tiered

        return build_tiered(config, storage)
    if config.broker.type == "ibkr":  # semi-institutional alone: orders and bars
        from gateway.brokers.ibkr import IbkrBroker

        assert config.ibkr is not None
        return IbkrBroker(config.ibkr, config.symbols)
    if config.broker.type == "fix":
        raise BadInput(
            "broker.type",
            config.broker.type,
            'the prime broker sends no market data: use type = "tiered" with [fix] for'
            ' the orders and [alpaca] (or [ibkr] with bars = "ibkr") for the bars',
        )
    from gateway.brokers.alpaca import AlpacaBroker

    assert config.alpaca is not None
    return AlpacaBroker(config.alpaca, config.broker.paper, config.symbols)


def _make_notifier(config: Config) -> Notifier | None:
    if not config.telegram.enabled:
        return None
    from gateway.notify import Notifier

    return Notifier(
        config.telegram.api_url,
        config.telegram.bot_token,
        config.telegram.chat_id,
        per_minute=config.telegram.per_minute,
    )


async def _check(config: Config) -> int:
    ok = True
    broker = _make_broker(config)
    try:
        account = await broker.account()
        clock = await broker.clock()
        print(
            f"broker {broker.name}: ok (account {account.status}, market "
            f"{'open' if clock.is_open else 'closed'})"
        )
    except Exception as exc:
        ok = False
        say(f"broker {broker.name}: FAILED: {exc}", error=True)
    notifier = _make_notifier(config)
    if notifier is not None:
        try:
            me = await notifier.get_me()
            print(f"telegram: ok (bot @{me.get('username', '?')})")
        except Exception as exc:
            ok = False
            say(f"telegram: FAILED: {exc}", error=True)
    else:
        print("telegram: disabled")
    return 0 if ok else 1


def _open_storage(path: Path) -> Storage:
    """The database, or ``BadInput`` naming ``database.path`` (a folder that cannot
    be created, a file this user may not write, something that is not SQLite)."""
    import sqlite3

    from gateway.storage import Storage

    try:
        return Storage(path)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInput("database.path", str(path), f"cannot be opened: {reason}") from None


def _command(config: Config, action: str) -> int:
    from gateway.dashboard.client import Refused, Unreachable, send

    try:
        answer = send(config, action)
    except (Unreachable, Refused) as exc:
        say(f"{action}: {exc}", error=True)
        return 1
    positions = answer.get("positions") or {}
    say(
        f"{action}: done ({answer.get('command_id')}); entries"
        f" {'paused' if answer.get('paused') else 'allowed'}; positions"
        f" {positions or 'none'}; open orders {answer.get('open_orders')}"
    )
    return 0


async def _run(config: Config, dashboard_token: Secret | None) -> int:
    from gateway.runtime import Gateway

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    storage = _open_storage(config.database.path)
    broker = _make_broker(config, storage)
    notifier = _make_notifier(config)
    if notifier is not None:
        await notifier.start()
    # binds a tiered broker's tier
    gateway = Gateway(config, broker, storage, notifier, dashboard_token=dashboard_token)
    try:
        await gateway.start()
        await stop.wait()
        log.info("signal received: stopping")
    finally:
        await gateway.stop()
        if notifier is not None:
            await notifier.close()
        storage.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how to see where a
    # live process is stuck without stopping it.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        config = load_config(args.config)
    except BadInput as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    if args.command is not None:
        if args.check:
            print("--check cannot be combined with a command", file=sys.stderr)
            return 2
        for secret in config.secrets():
            _MASK.add(secret)
        try:
            return _command(config, args.command)
        except BadInput as exc:
            say(f"error: {exc}", error=True)
            return 2
    from gateway.files import PRIVATE_UMASK
    from gateway.logs import setup_logging

    if not args.check:
        # Whatever the shell's umask, what this process creates is owner-only
        # (each file is also created 0600 by the code that makes it: gateway.files).
        os.umask(PRIVATE_UMASK)
    log_file = config.system.log_dir / f"{config.system.name}.jsonl"
    try:
        mask = setup_logging(
            config.system.log_level, None if args.check else log_file, config.secrets()
        )
    except OSError as exc:
        where = f"system.log_dir={str(config.system.log_dir)!r}"
        reason = f"cannot be created or written: {exc.strerror}"
        print(f"config error: {where}: {reason}", file=sys.stderr)
        return 2
    for secret in config.secrets():
        _MASK.add(secret)
    dashboard_token = None
    if config.dashboard.enabled and not args.check:
        from gateway.dashboard.auth import resolve_token

        try:
            dashboard_token, _ = resolve_token(config.dashboard)
        except BadInput as exc:
            say(f"error: {exc}", error=True)
            return 2
        mask.add(dashboard_token)
        _MASK.add(dashboard_token)
    for warning in config.warnings:
        log.warning("%s", warning)
    if args.check:
        from gateway.files import gateway_paths, permission_problems

        paths = gateway_paths(config.database.path, config.system.log_dir)
        for problem in permission_problems(paths):
            log.warning("%s", problem)
    try:
        if args.check:
            print(
                f"config {args.config}: ok ({len(config.symbols)} symbols, "
                f"broker {config.broker.type}{' paper' if config.broker.paper else ' LIVE'})"
            )
            return asyncio.run(_check(config))
        return asyncio.run(_run(config, dashboard_token))
    except BadInput as exc:
        say(f"error: {exc}", error=True)
        return 2
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        with contextlib.suppress(Exception):
            log.exception("gateway failed: %s", exc)
        say(f"gateway failed: {exc}", error=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
