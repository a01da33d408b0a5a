"""Engine order ids ↔ broker client ids, and the engine the gateway runs.

The engine numbers its orders from 1 in every new database; the broker keeps
client ids unique per account forever. A per-database prefix (made once,
stored in ``meta``) keeps a new database from colliding with an old one's
orders while staying a pure function of the engine's id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.agent import SymbolAgent
from core.clock import Clock
from core.engine import Engine
from core.instruments import AssetClass, Instrument
from gateway.config import Config
from gateway.session import CalendarSchedule


class Ids:
    """Engine order ids ↔ broker client ids (``prefix`` + engine id)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def broker(self, engine_id: str) -> str:
        """The broker client id of an engine order id."""
        return f"{self.prefix}{engine_id}"

    def engine(self, broker_id: str) -> str | None:
        """The engine order id of a broker client id; None for a foreign order."""
        if broker_id.startswith(self.prefix):
            return broker_id[len(self.prefix) :]
        return None


def instruments_for(symbols: Sequence[str]) -> list[Instrument]:
    """Configured symbols as instruments: ``BTC/USD``-style pairs are crypto."""
    result = []
    for symbol in symbols:
        if "/" in symbol:
            result.append(Instrument(symbol, AssetClass.CRYPTO, qty_decimals=9))
        else:
            result.append(Instrument(symbol))
    return result


def build_engine(config: Config, seed: int, clock: Clock, calendar: CalendarSchedule) -> Engine:
    """The engine of a gateway process: the same seed always builds the same one,
    which is what lets a restart rebuild it from the journal exactly."""
    return Engine(
        instruments_for(config.symbols),
        config.initial_balance,
        clock,
        np.random.default_rng(seed),
        limits=config.risk,
        agent_factory=lambda i: SymbolAgent(
            i,
            self_tracking=False,
            schedule=None if i.asset_class is AssetClass.CRYPTO else calendar,
        ),
        resting_stops=config.broker.resting_stops,
    )
