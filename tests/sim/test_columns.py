"""BarColumns / SignalColumns convert to and from the object forms exactly."""

from __future__ import annotations

import numpy as np

from core.events import Bar
from sim.columns import NO_PRICE, BarColumns, SignalColumns
from sim.market import generate_market
from sim.signals_cli import run_agents


def _market_bars() -> tuple[tuple[str, ...], list[Bar]]:
    market = generate_market(7, ["AAPL", "MSFT", "XYZ"], "capitulation", 3)
    return tuple(i.symbol for i in market.instruments), list(market.bars)


def test_bar_columns_round_trip_every_bar() -> None:
    symbols, bars = _market_bars()
    bars.append(Bar("AAPL", bars[-1].time_ns + 60 * 10**9, 5, 9, 4, 6, 10, vwap=7, trades=3))
    columns = BarColumns.from_bars(bars, symbols)
    assert len(columns) == len(bars)
    assert list(columns.bars()) == bars
    assert columns.vwap[0] == NO_PRICE and columns.vwap[-1] == 7


def test_bar_columns_take_keeps_order() -> None:
    symbols, bars = _market_bars()
    columns = BarColumns.from_bars(bars, symbols)
    mask = columns.sym == 1
    assert list(columns.take(mask).bars()) == [b for b in bars if b.symbol == "MSFT"]


def test_signal_columns_round_trip_every_verdict() -> None:
    symbols, bars = _market_bars()
    signals = list(run_agents(bars, span=(bars[0].time_ns, bars[-1].time_ns + 10**12)))
    columns = SignalColumns.from_signals(signals, symbols)
    assert list(columns.signals()) == signals
    kinds = {s.signal for s in signals}
    assert len(kinds) > 1  # the capitulation market makes the agents act, not only HOLD
    assert any(s.support is not None for s in signals)
    again = columns.take(np.arange(len(columns)))
    assert list(again.signals()) == signals
