"""The simulated market a stand-in session plays: history to warm up on, then live bars.

The scenario picks the market (``sim.scenarios``) and ``sim.market`` generates
it; the first ``history_days`` sessions are published before the server
starts, so a gateway can warm its agents up from ``/v2/stocks/bars`` the way it
would against the real API, and the rest streams live.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import BadInput
from core.events import Bar
from core.instruments import Instrument

if TYPE_CHECKING:
    from sim.scenarios import Scenario

MINUTE_NS = 60 * 10**9


@dataclass(frozen=True)
class SessionMarket:
    """Everything the stand-ins serve, split at the live start."""

    scenario: str
    instruments: dict[str, Instrument]
    history: tuple[Bar, ...]  # bars of the warm-up sessions, time-sorted
    live: tuple[Bar, ...]  # bars still to be published, time-sorted
    sessions: tuple[tuple[int, int], ...]  # every (open_ns, close_ns), sorted
    live_start_ns: int  # the open of the first live session
    balance: int  # the account's starting cash, nano-units
    calendar: tuple[tuple[int, int], ...]  # exchange sessions past the data, for /v2/clock


def load_market(
    name: str,
    seed: int,
    history_days: int,
    days: int | None = None,
    balance: str | None = None,
) -> SessionMarket:
    """Generate scenario ``name`` and split it into warm-up history and live bars.

    ``balance`` (dollars) overrides the scenario's starting cash.
    """
    from sim.build import parse_balance
    from sim.scenarios import scenario

    base = scenario(name)
    if seed < 0:
        raise BadInput("--seed", seed, "must be >= 0")
    total_days = days if days is not None else base.days
    if history_days < 0:
        raise BadInput("--history-days", history_days, "must be >= 0")
    if total_days <= history_days:
        raise BadInput(
            "--history-days",
            history_days,
            f"leaves no live session: scenario {name} has {total_days} trading days",
        )
    bars, sessions, instruments = _generate(base, seed, total_days)
    sessions = sorted(sessions)
    live_start = sessions[history_days][0]
    history = tuple(b for b in bars if b.time_ns < live_start)
    live = tuple(b for b in bars if b.time_ns >= live_start)
    return SessionMarket(
        scenario=name,
        instruments={i.symbol: i for i in instruments},
        history=history,
        live=live,
        sessions=tuple(sessions),
        live_start_ns=live_start,
        balance=parse_balance(balance) if balance is not None else parse_balance(base.balance),
        calendar=tuple(_calendar(sessions)),
    )


def _calendar(sessions: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The NYSE calendar from the data's first session to a month past its last.

    ``/v2/clock`` must name a next open and close even after the scenario's
    last bar, as the real clock always does.
    """
    from sim.calendar import exchange_sessions

    extra = exchange_sessions("XNYS", sessions[0][0], sessions[-1][1] + 30 * 86_400 * 10**9)
    merged = {s for s in extra if s[0] >= sessions[0][0]} | set(sessions)
    return sorted(merged)


def _generate(
    base: Scenario, seed: int, days: int
) -> tuple[list[Bar], list[tuple[int, int]], list[Instrument]]:
    """The scenario's market, exactly as ``python -m sim run`` generates it."""
    from sim.market import generate_market

    market = generate_market(
        seed, base.symbols, base.regime_map(base.symbols), days, start=base.start
    )
    bars = sorted(market.bars, key=lambda b: b.time_ns)
    return bars, list(market.sessions), list(market.instruments)
