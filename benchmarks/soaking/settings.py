"""The soak's knobs: parsed from the command line, each checked with a message that
names the argument and the value (exit 2), before anything is started."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

MAX_SYMBOLS = 30  # the universe30 scenario, the engine's cap
MAX_DAYS = 260  # what `python -m standins --days` accepts


class BadArgument(ValueError):
    """An unusable argument; the text names it and its value."""


@dataclass(frozen=True)
class Settings:
    symbols: int
    days: int
    kills: int
    speed: float
    seed: int
    scenario: str
    out: Path
    balance: int  # the gateway's initial balance, dollars: picks the starting tier
    history_days: int
    fault_every: int  # one injected fault every N cycles (0: none)
    tier_every: int  # a withdrawal/deposit across $1M every N cycles (0: never)
    storm_requests: int  # REST requests answered 429 in one storm
    dead_minutes: int  # market minutes that pass while the gateway is dead
    ready_timeout: float  # real seconds a restart may take before the run fails
    kill_timeout: float  # real seconds to wait for a cycle's kill point
    settle_timeout: float  # real seconds for the books to agree at the end
    rss_interval: float
    warmup: float  # fraction of the cycles (and samples) left out of the RSS check
    final_restarts: int  # clean restarts measured at the end (median reported)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="soak.py",
        description="Long-run soak: the real gateway against the real stand-ins, with "
        "kill -9 cycles, dropped TWS/FIX/stream connections and HTTP 429 storms.",
    )
    p.add_argument("--symbols", type=int, default=30, help="symbols traded (1-30, default 30)")
    p.add_argument("--days", type=int, default=252, help="trading days of market (default 252)")
    p.add_argument("--kills", type=int, default=200, help="kill -9 cycles (default 200)")
    p.add_argument(
        "--speed", type=float, default=3000.0, help="stand-in speed: market s per real s"
    )
    p.add_argument("--seed", type=int, default=1, help="the stand-in market's seed")
    p.add_argument(
        "--scenario",
        default="",
        help="stand-in scenario (default: universe30 above 5 symbols, else range)",
    )
    p.add_argument("--out", type=Path, default=Path("out/soak"), help="output folder")
    p.add_argument(
        "--balance",
        type=int,
        default=2_000_000,
        help="gateway initial balance in dollars (default 2000000: institutional, FIX)",
    )
    p.add_argument("--history-days", type=int, default=1, help="warm-up sessions (default 1)")
    p.add_argument("--fault-every", type=int, default=1, help="a fault every N cycles (0: none)")
    p.add_argument(
        "--tier-every", type=int, default=5, help="cross $1M by a transfer every N cycles"
    )
    p.add_argument("--storm-requests", type=int, default=20, help="429s per storm (default 20)")
    p.add_argument(
        "--dead-minutes", type=int, default=5, help="market minutes played while dead (default 5)"
    )
    p.add_argument("--ready-timeout", type=float, default=600.0, help="seconds per restart")
    p.add_argument("--kill-timeout", type=float, default=30.0, help="seconds per kill point")
    p.add_argument("--settle-timeout", type=float, default=180.0, help="seconds for the books")
    p.add_argument("--rss-interval", type=float, default=1.0, help="seconds between samples")
    p.add_argument("--warmup", type=float, default=0.2, help="fraction left out of the RSS check")
    p.add_argument("--final-restarts", type=int, default=3, help="clean restarts timed at the end")
    return p


def scenario_symbols(name: str) -> tuple[str, ...]:
    from sim.scenarios import scenario

    return tuple(scenario(name).symbols)


def check(ns: argparse.Namespace) -> Settings:
    """``Settings`` from parsed arguments; raises ``BadArgument`` for the first bad one."""

    def bad(flag: str, value: object, why: str) -> BadArgument:
        return BadArgument(f"{flag} {value}: {why}")

    if not 1 <= ns.symbols <= MAX_SYMBOLS:
        raise bad("--symbols", ns.symbols, f"must be between 1 and {MAX_SYMBOLS}")
    if not 1 <= ns.history_days < MAX_DAYS:
        raise bad("--history-days", ns.history_days, f"must be between 1 and {MAX_DAYS - 1}")
    if not ns.history_days + 1 <= ns.days <= MAX_DAYS:
        raise bad(
            "--days", ns.days, f"must be between --history-days + 1 and {MAX_DAYS} trading days"
        )
    if ns.kills < 0:
        raise bad("--kills", ns.kills, "must be >= 0")
    if not 0 < ns.speed <= 1_000_000:
        raise bad("--speed", ns.speed, "must be in (0, 1000000]")
    if ns.seed < 0:
        raise bad("--seed", ns.seed, "must be >= 0")
    if not 1 <= ns.balance <= 10**9:
        raise bad("--balance", ns.balance, "must be between 1 and 1000000000 dollars")
    for flag, value in (
        ("--fault-every", ns.fault_every),
        ("--tier-every", ns.tier_every),
        ("--dead-minutes", ns.dead_minutes),
    ):
        if value < 0:
            raise bad(flag, value, "must be >= 0")
    if not 1 <= ns.storm_requests <= 10_000:
        raise bad("--storm-requests", ns.storm_requests, "must be between 1 and 10000")
    for flag, value in (
        ("--ready-timeout", ns.ready_timeout),
        ("--kill-timeout", ns.kill_timeout),
        ("--settle-timeout", ns.settle_timeout),
        ("--rss-interval", ns.rss_interval),
    ):
        if not 0 < value <= 86_400:
            raise bad(flag, value, "must be a number of seconds in (0, 86400]")
    if not 0 <= ns.warmup < 1:
        raise bad("--warmup", ns.warmup, "must be a fraction in [0, 1)")
    if not 1 <= ns.final_restarts <= 100:
        raise bad("--final-restarts", ns.final_restarts, "must be between 1 and 100")
    name = ns.scenario or ("range" if ns.symbols <= 5 else "universe30")
    from core.errors import BadInput

    try:
        available = scenario_symbols(name)
    except BadInput as exc:
        raise bad("--scenario", repr(name), f"unknown ({exc})") from None
    if ns.symbols > len(available):
        raise bad("--symbols", ns.symbols, f"scenario {name} has only {len(available)} symbols")
    if ns.out.exists() and not ns.out.is_dir():
        raise bad("--out", str(ns.out), "exists and is not a folder")
    return Settings(
        symbols=ns.symbols,
        days=ns.days,
        kills=ns.kills,
        speed=float(ns.speed),
        seed=ns.seed,
        scenario=name,
        out=ns.out,
        balance=ns.balance,
        history_days=ns.history_days,
        fault_every=ns.fault_every,
        tier_every=ns.tier_every,
        storm_requests=ns.storm_requests,
        dead_minutes=ns.dead_minutes,
        ready_timeout=float(ns.ready_timeout),
        kill_timeout=float(ns.kill_timeout),
        settle_timeout=float(ns.settle_timeout),
        rss_interval=float(ns.rss_interval),
        warmup=float(ns.warmup),
        final_restarts=ns.final_restarts,
    )


def symbols_of(settings: Settings) -> tuple[str, ...]:
    return scenario_symbols(settings.scenario)[: settings.symbols]
