"""The state the page and ``GET /api/state`` show, built from the live objects.

A pure read of the engine, the shared runtime state and the dashboard's
history: it changes nothing and holds no lock (everything runs on the one
event loop, so an input is never half-applied while this reads). Money is
decimal text, as the database's readable columns are; quantities are the
engine's integers (shares; 1e-9 units for crypto); times are epoch
milliseconds for the page's charts.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from core.engine import Engine
from core.execution.engine import ParentOrder
from core.money import format_price
from core.portfolio import BPS
from gateway.brokers.base import ConnectionReport
from gateway.config import Config
from gateway.dashboard.connections import describe
from gateway.dashboard.history import History
from gateway.inputs import InputPipeline
from gateway.state import LiveState

CHILDREN_SHOWN = 20
SCHEDULE_SHOWN = 60


class GatewayView(Protocol):
    """What the dashboard reads of a ``gateway.runtime.Gateway``."""

    config: Config
    engine: Engine
    state: LiveState
    broker: Any
    inputs: InputPipeline


def _ms(time_ns: int | None) -> int | None:
    return None if time_ns is None else time_ns // 1_000_000


def _money(value: int | None) -> str | None:
    if value is None:
        return None
    return ("-" if value < 0 else "") + format_price(abs(value))


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole > 0 else 0.0


def build_state(
    gateway: GatewayView, history: History, connections: ConnectionReport
) -> dict[str, Any]:
    engine = gateway.engine
    state = gateway.state
    return {
        "name": gateway.config.system.name,
        "broker": str(getattr(gateway.broker, "name", "?")),
        "market_time": _ms(state.market.now_ns()),
        "speed": round(state.market.rate, 2),
        "paused": engine.paused,
        "catching_up": state.catching_up,
        "account": account(engine),
        "positions": engine.positions(),
        "position_details": positions(engine),
        "working": [
            parent_view(p) for s in state.symbols for p in engine.execution.active_parents(s)
        ],
        "agents": agents(engine, state, history),
        "connections": describe(connections, state),
        "counters": {k: v for k, v in dataclasses.asdict(state.counters).items() if k != "extra"},
    }


def account(engine: Engine) -> dict[str, Any]:
    portfolio = engine.portfolio
    limits = engine.risk_limits
    equity = portfolio.equity()
    side_limit = max(0, equity) * limits.max_gross_per_side_bps // BPS
    long = portfolio.side_exposure(1, include_reservations=False)
    short = portfolio.side_exposure(-1, include_reservations=False)
    return {
        "equity": _money(equity),
        "cash": _money(portfolio.cash),
        "pnl": _money(portfolio.pnl()),
        "tier": engine.tier().tier.value,
        "long_exposure": _money(long),
        "short_exposure": _money(short),
        "net_exposure": _money(long - short),
        "long_committed": _money(portfolio.side_exposure(1)),
        "short_committed": _money(portfolio.side_exposure(-1)),
        "side_limit": _money(side_limit),
        "long_pct": _pct(long, equity),
        "short_pct": _pct(short, equity),
        "net_pct": _pct(long - short, equity),
        "limit_pct": limits.max_gross_per_side_bps * 100 / BPS,
        "open_positions": portfolio.open_position_count(include_reservations=False),
        "max_positions": limits.max_positions,
    }


def positions(engine: Engine) -> list[dict[str, Any]]:
    portfolio = engine.portfolio
    rows = []
    for symbol, position in portfolio.positions.items():
        quantity = position.quantity
        if not quantity:
            continue
        average = abs(position.cost) * 10**position.decimals // abs(quantity)
        agent = engine.agent(symbol)
        stop = getattr(agent, "position", (0, None))[1]
        rows.append(
            {
                "symbol": symbol,
                "quantity": quantity,
                "average_price": _money(average),
                "mark": _money(portfolio.marks.get(symbol)),
                "market_value": _money(portfolio.market_value(symbol)),
                "unrealized": _money(portfolio.unrealized(symbol)),
                "stop": _money(stop),
            }
        )
    return rows


def parent_view(parent: ParentOrder) -> dict[str, Any]:
    venues: dict[str, int] = {}
    for child in parent.children:
        if child.filled:
            venue = child.venue or "broker"
            venues[venue] = venues.get(venue, 0) + child.filled
    schedule = getattr(parent.algorithm, "schedule", None) or []
    return {
        "parent_id": parent.parent_id,
        "symbol": parent.symbol,
        "side": parent.side.value,
        "purpose": parent.intent.purpose,
        "urgency": parent.intent.urgency.value,
        "algo": parent.choice.algo.value,
        "state": parent.state,
        "quantity": parent.quantity,
        "filled": parent.progress.filled,
        "working_quantity": parent.progress.working,
        "start": _ms(parent.start_ns),
        "end": _ms(parent.end_ns),
        "bars": parent.choice.bars,
        "schedule": [[_ms(t), q] for t, q in schedule[:SCHEDULE_SHOWN]],
        "venues": venues,
        "children": [
            {
                "client_order_id": c.client_order_id,
                "venue": c.venue,
                "type": c.order_type.value,
                "limit_price": _money(c.limit_price),
                "quantity": c.quantity,
                "filled": c.filled,
                "status": c.status.value,
            }
            for c in parent.children[-CHILDREN_SHOWN:]
        ],
    }


def agents(engine: Engine, state: LiveState, history: History) -> list[dict[str, Any]]:
    now = state.market.now_ns()
    rows = []
    for symbol in state.symbols:
        signal = engine.last_signal(symbol)
        agent = engine.agent(symbol)
        health = signal.health if signal is not None else "warming up"
        is_stale = getattr(agent, "is_stale", None)
        if signal is not None and is_stale is not None and is_stale(now):
            health = "stale"
        rows.append(
            {
                "symbol": symbol,
                "support": _zone(signal.support if signal else None),
                "resistance": _zone(signal.resistance if signal else None),
                "volume_percentile": signal.volume_percentile if signal else None,
                "health": health,
                "last_signal": history.signals.get(symbol),
                "last_bar": _ms(signal.time_ns) if signal else None,
                "bars": getattr(agent, "bars_seen", None),
                "stop": _money(getattr(agent, "position", (0, None))[1]),
            }
        )
    return rows


def _zone(zone: Any) -> list[str] | None:
    if zone is None:
        return None
    return [format_price(zone.low), format_price(zone.high)]
