"""``python -m standins``: arguments, start-up, the endpoints line, graceful stop.

Run by ``standins/__main__.py``. Heavy imports (aiohttp, the servers) stay
inside the functions so ``--help`` and bad input answer at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from standins.market import SessionMarket

EXIT_OK, EXIT_BAD_INPUT = 0, 2
ENV_FIX_PASSWORD = "STANDINS_FIX_PASSWORD"  # keeps the password out of `ps`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="default", help="simulated market (see `list`)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--days", type=int, help="trading days (default: the scenario's)")
    parser.add_argument("--balance", help="starting cash in dollars (default: the scenario's)")
    parser.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="simulated seconds per real second (default 60: a minute bar per second)",
    )
    parser.add_argument(
        "--history-days",
        type=int,
        default=2,
        help="sessions published as history before live streaming starts (default 2)",
    )
    parser.add_argument(
        "--pre-open",
        type=int,
        default=0,
        metavar="MINUTES",
        help="start the clock this many market minutes before the first live open (default 0)",
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help='keep market time at its start until POST /_control {"action": "release"}'
        " (a test starts the live market once its client is ready)",
    )
    parser.add_argument(
        "--overnight",
        type=float,
        default=2.0,
        help="real seconds the market stays closed between sessions (default 2)",
    )
    parser.add_argument("--key", default="test", help="the only API key accepted (default test)")
    parser.add_argument("--secret", default="test", help="its secret (default test)")
    parser.add_argument(
        "--telegram-token", default="123456:test-token", help="the only bot token accepted"
    )
    parser.add_argument("--port", type=int, default=0, help="port for everything (default: free)")
    parser.add_argument(
        "--tws-port", type=int, default=0, help="TWS API socket port (default: free)"
    )
    parser.add_argument(
        "--fix-port", type=int, default=0, help="FIX prime-broker acceptor port (default: free)"
    )
    parser.add_argument(
        "--fix-username",
        default="",
        help="Username(553) the prime broker's Logon must carry (default: no check)",
    )
    parser.add_argument(
        "--fix-password",
        default=os.environ.get(ENV_FIX_PASSWORD, ""),
        help=f"Password(554) it must carry (default: ${ENV_FIX_PASSWORD}, else no check)",
    )
    parser.add_argument(
        "--fault-429", type=float, default=0.0, metavar="RATE", help="fraction of REST calls → 429"
    )
    parser.add_argument(
        "--drop-after", type=int, metavar="N", help="drop each stream connection after N frames"
    )
    parser.add_argument(
        "--silence-after",
        type=int,
        metavar="MINUTES",
        help="streams go silent after this many live minutes",
    )
    parser.add_argument(
        "--silence-seconds", type=float, default=10.0, help="how long (real seconds, default 10)"
    )
    parser.add_argument(
        "--dark-fill-rate",
        type=float,
        metavar="P",
        help="chance a contra shows up in a dark pool each bar"
        " (default: a seeded draw per pool in [0.25, 0.65])",
    )
    parser.add_argument(
        "--bars-page-max",
        type=int,
        default=10_000,
        help="most bars per /v2/stocks/bars page (Alpaca: 10000)",
    )


def _check(args: argparse.Namespace) -> str | None:
    """The first bad argument, described; None when all are usable."""
    if args.seed < 0:
        return f"--seed {args.seed}: must be >= 0"
    if not 0 < args.speed <= 1_000_000:
        return f"--speed {args.speed}: must be in (0, 1000000]"
    if args.days is not None and not 1 <= args.days <= 260:
        return f"--days {args.days}: must be between 1 and 260"
    if args.history_days < 0:
        return f"--history-days {args.history_days}: must be >= 0"
    if not 0 <= args.pre_open <= 960:
        return f"--pre-open {args.pre_open}: must be between 0 and 960 minutes"
    if not 0 <= args.overnight <= 3600:
        return f"--overnight {args.overnight}: must be in [0, 3600] seconds"
    if not 0 <= args.port <= 65535:
        return f"--port {args.port}: must be in [0, 65535]"
    if not 0 <= args.tws_port <= 65535:
        return f"--tws-port {args.tws_port}: must be in [0, 65535]"
    if not 0 <= args.fix_port <= 65535:
        return f"--fix-port {args.fix_port}: must be in [0, 65535]"
    for name in ("fix_username", "fix_password"):
        value = getattr(args, name)
        if value and not re.fullmatch(r"[\x20-\x7e]{1,128}", value):
            flag = "--" + name.replace("_", "-")
            return f"{flag}: must be 1-128 printable ASCII characters"
    if args.dark_fill_rate is not None and not 0 <= args.dark_fill_rate <= 1:
        return f"--dark-fill-rate {args.dark_fill_rate}: must be a probability in [0, 1]"
    if not 0 <= args.fault_429 <= 1:
        return f"--fault-429 {args.fault_429}: must be a rate in [0, 1]"
    if args.drop_after is not None and args.drop_after < 1:
        return f"--drop-after {args.drop_after}: must be >= 1"
    if args.silence_after is not None and args.silence_after < 1:
        return f"--silence-after {args.silence_after}: must be >= 1"
    if not 0 <= args.silence_seconds <= 86_400:
        return f"--silence-seconds {args.silence_seconds}: must be in [0, 86400]"
    if not 1 <= args.bars_page_max <= 10_000:
        return f"--bars-page-max {args.bars_page_max}: must be between 1 and 10000"
    for name in ("key", "secret", "telegram_token"):
        if not getattr(args, name):
            return f"--{name.replace('_', '-')}: must not be empty"
    return None


def serve(args: argparse.Namespace) -> int:
    problem = _check(args)
    if problem is not None:
        print(f"python -m standins: error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from core.errors import BadInput
    from standins.market import load_market

    try:
        market = load_market(args.scenario, args.seed, args.history_days, args.days, args.balance)
    except BadInput as exc:
        print(f"python -m standins: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", args.port))
    except OSError as exc:
        print(f"python -m standins: error: --port {args.port}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    asyncio.run(_serve(args, market, sock))
    return EXIT_OK


def endpoints(port: int) -> dict[str, str]:
    base = f"127.0.0.1:{port}"
    return {
        "alpaca_rest": f"http://{base}",
        "alpaca_data_ws": f"ws://{base}/v2/iex",
        "alpaca_trading_ws": f"ws://{base}/stream",
        "telegram": f"http://{base}",
        "control": f"http://{base}/_control",
    }


async def _serve(args: argparse.Namespace, market: SessionMarket, sock: socket.socket) -> None:
    from aiohttp import web

    from standins.faults import Faults
    from standins.server import Options, StandIn

    faults = Faults(
        seed=args.seed,
        rate_429=args.fault_429,
        drop_after=args.drop_after,
        silence_after_bars=args.silence_after,
        silence_seconds=args.silence_seconds,
    )
    options = Options(
        key=args.key,
        secret=args.secret,
        telegram_token=args.telegram_token,
        speed=args.speed,
        overnight_s=args.overnight,
        bars_page_max=args.bars_page_max,
        seed=args.seed,
        pre_open_minutes=args.pre_open,
        hold=args.hold,
    )
    standin = StandIn(market, options, faults)
    runner = web.AppRunner(
        standin.app(), handle_signals=False, access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from standins.tws.server import TwsServer

    tws = TwsServer(standin)
    tws_port = await tws.start("127.0.0.1", args.tws_port)
    standin.tws = tws  # /_control can drop its sockets and report its book
    from standins.fix_pb.server import FixPrimeBroker

    fix = FixPrimeBroker(
        standin,
        dark_fill_rate=args.dark_fill_rate,
        username=args.fix_username,
        password=args.fix_password,
    )
    fix_port = await fix.start("127.0.0.1", args.fix_port)
    standin.start()
    line = endpoints(sock.getsockname()[1])
    line["tws"] = f"127.0.0.1:{tws_port}"
    line["fix"] = f"127.0.0.1:{fix_port}"
    line.update(scenario=args.scenario, seed=args.seed, speed=args.speed)
    print(json.dumps(line), flush=True)
    try:
        await stop.wait()
    finally:
        await fix.stop()
        await tws.stop()
        await runner.cleanup()
