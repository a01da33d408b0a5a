"""Turns a scenario or a CSV file into a ``RunSpec`` the runner can execute."""

from __future__ import annotations

import shlex

from core.errors import BadInput
from core.health import SessionSchedule
from core.instruments import Instrument, us_equity_tick
from core.money import price_from_decimal
from sim.calendar import exchange_sessions
from sim.data.source import LoadedBars
from sim.faults import FaultRates
from sim.financing import FinancingRates
from sim.runner import MarketFeed, RunSpec, feed_from_bars
from sim.scenarios import Scenario, pick_symbols, scenario

SYNTHETIC_NOTE = (
    "SYNTHETIC MARKET: seeded bars built with the very patterns this strategy trades "
    "(ranges, capitulations, trends); the return tests the machinery, it is not evidence of an edge"
)


def parse_balance(text: str, field: str = "--balance") -> int:
    balance = price_from_decimal(text, field)
    if balance <= 0:
        raise BadInput(field, text, "must be a positive amount of dollars")
    return balance


def scenario_spec(
    name: str,
    seed: int = 1,
    days: int | None = None,
    symbols: str | None = None,
    balance: str | None = None,
    faults: FaultRates | None = None,
    urgency: str = "medium",
    broker: str | None = None,
) -> RunSpec:
    from sim.market import generate_market  # pandas-heavy: only when a scenario runs

    base: Scenario = scenario(name)
    if seed < 0:
        raise BadInput("--seed", seed, "must be >= 0")
    if days is not None and not 1 <= days <= 260:
        raise BadInput("--days", days, "must be between 1 and 260 trading days")
    chosen = pick_symbols(base, symbols)
    market = generate_market(
        seed, chosen, base.regime_map(chosen), days or base.days, start=base.start
    )
    closes = frozenset(close for _, close in market.sessions)
    feed = MarketFeed(
        market.instruments, market.bars, closes, 60_000_000_000, SessionSchedule(market.sessions)
    )
    command = ["python", "-m", "sim", "run", name, "--seed", str(seed)]
    if days is not None:
        command += ["--days", str(days)]
    if symbols is not None:
        command += ["--symbols", symbols]
    if balance is not None:
        command += ["--balance", balance]
    check_urgency(urgency)
    if urgency != "medium":
        command += ["--urgency", urgency]
    if broker is not None:
        command += ["--broker", broker]
    return RunSpec(
        scenario=name,
        seed=seed,
        feed=feed,
        initial_cash=parse_balance(balance or base.balance),
        faults=faults if faults is not None else base.faults,
        reproduce=shlex.join(command),
        urgency=urgency,
        broker=broker,
        financing=FinancingRates(hard_to_borrow=base.hard_to_borrow),
        provenance=f"{SYNTHETIC_NOTE} (scenario {name}, seed {seed})",
    )


URGENCIES = ("low", "medium", "high")


def check_urgency(urgency: str) -> None:
    if urgency not in URGENCIES:
        raise BadInput("--urgency", urgency, "must be one of low, medium, high")


def replay_spec(
    loaded: LoadedBars,
    command: list[str],
    balance: str = "1000000",
    seed: int = 1,
    urgency: str = "medium",
    broker: str | None = None,
) -> RunSpec:
    """A run over real bars (files or the catalog) on the XNYS calendar."""
    if not loaded.bars:
        raise BadInput("FILE", loaded.label or "input", "holds no bars")
    first_close: dict[str, int] = {}
    for bar in loaded.bars:
        first_close.setdefault(bar.symbol, bar.close)
    instruments = [Instrument(s, tick=us_equity_tick(c)) for s, c in first_close.items()]
    times = [bar.time_ns for bar in loaded.bars]
    sessions = exchange_sessions("XNYS", min(times), max(times))
    feed = feed_from_bars(loaded.bars, instruments, sessions)
    check_urgency(urgency)
    options = ["--balance", balance]
    if urgency != "medium":
        options += ["--urgency", urgency]
    if broker is not None:
        options += ["--broker", broker]
    return RunSpec(
        scenario=f"replay:{loaded.label}",
        seed=seed,
        feed=feed,
        initial_cash=parse_balance(balance),
        faults=FaultRates(),
        reproduce=shlex.join(["python", "-m", "sim", "replay", *command, *options]),
        urgency=urgency,
        broker=broker,
        provenance=loaded.description,
    )
