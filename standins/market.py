"""The simulated market a stand-in session plays: history to warm up on, then live bars.

The scenario picks the market (``sim.scenarios``) and ``sim.market`` generates
it; the first ``history_days`` sessions are published before the server
starts, so a gateway can warm its agents up from ``/v2/stocks/bars`` the way it
would against the real API, and the rest streams live.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import BadInput
from core.events import Bar
from core.instruments import Instrument, us_equity_tick
from core.money import price_from_decimal

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


def load_market(name: str, seed: int, history_days: int, days: int | None = None) -> SessionMarket:
    """Generate scenario ``name`` and split it into warm-up history and live bars."""
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
        balance=price_from_decimal(base.balance, "balance"),
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
    base: object, seed: int, days: int
) -> tuple[list[Bar], list[tuple[int, int]], list[Instrument]]:
    """The scenario's market from ``sim.market``; the demo market if it is not there yet."""
    try:
        from sim.market import generate_market
    except ImportError:
        return _demo_market(seed, days)
    symbols = base.symbols  # type: ignore[attr-defined]
    market = generate_market(
        seed,
        symbols,
        base.regime_map(symbols),  # type: ignore[attr-defined]
        days,
        start=base.start,  # type: ignore[attr-defined]
    )
    bars = sorted(market.bars, key=lambda b: b.time_ns)
    return bars, list(market.sessions), list(market.instruments)


def _demo_market(seed: int, days: int) -> tuple[list[Bar], list[tuple[int, int]], list[Instrument]]:
    from sim.demo import demo_bars

    bars = demo_bars(seed, days)
    opens: dict[int, int] = {}
    for bar in bars:
        day = bar.time_ns // (86_400 * 10**9)
        opens[day] = min(opens.get(day, bar.time_ns), bar.time_ns)
    closes: dict[int, int] = {}
    for bar in bars:
        day = bar.time_ns // (86_400 * 10**9)
        closes[day] = max(closes.get(day, 0), bar.time_ns + MINUTE_NS)
    sessions = [(opens[d], closes[d]) for d in sorted(opens)]
    first: dict[str, int] = {}
    for bar in bars:
        first.setdefault(bar.symbol, bar.close)
    instruments = [Instrument(s, tick=us_equity_tick(c)) for s, c in first.items()]
    return bars, sessions, instruments
