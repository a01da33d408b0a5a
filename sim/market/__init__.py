"""Seeded market generators: 1-minute bars on the real exchange calendar.

Each symbol gets one regime (range, trend, capitulation, gaps, flash crash)
and its own random stream, ``stream(seed, "market", symbol)``, so adding a
symbol never shifts another symbol's numbers. Sessions come from the XNYS
calendar (holidays and early closes included); every session has one bar per
minute per symbol.

Every regime draws its price path in integer cents and records its *ground
truth* (the true range edges, the capitulation low, ...) so tests and reports
can hold the agents to what the market really was.

How the paths are shaped, and why:

- Prices move as a mean-reverting walk (Ornstein–Uhlenbeck) around a target
  that each regime moves: a range's middle, a trend line, a rebound level.
  One bar's close-to-close step has σ ≈ 0.4 bar-ranges and wicks of 0.1–0.5
  bar-ranges, so Wilder's ATR settles near the symbol's typical bar range
  (6–10 bps of the price).
- A session opens where the last one closed and its first bar covers the
  previous close (the overnight gap is filled at once), except in the
  ``gaps`` regime: a jump is not travel (SPEC §4.2), so an unfilled gap would
  leave untravelled prices that the counting algorithm rightly treats as the
  strongest levels.
- Volume is U-shaped over each session (heavy at the open, lighter at
  midday, heavier into the close) with log-normal noise. Volume *spikes*
  (above mean + 2σ of the symbol's whole history, SPEC §4.4) are reserved
  for the events a regime records: an edge touch, the capitulation bar, the
  retest, a flash-crash low, a gap open. Ordinary bars are capped just under
  the spike line, so in this market a spike always means an event.
- Events are sized by the market's own volatility (Wilder's ATR of the bars
  generated so far): a bounce closes 1.5–1.75 ATR off the extreme it tagged
  (a hammer), and the bars around an edge keep 1.25 mean true ranges away
  from it, so the extreme price is travelled by the event bars alone. That is what a
  defended level looks like: price grinds near it, pokes it on a burst of
  volume and is rejected.

Where each part lives: ``universe`` (the default symbols), ``path`` (one symbol's
price walk and its shape constants), ``regimes`` (what each regime does and records),
``volume`` (volumes and spikes), ``generate`` (``generate_market``, which runs them
per symbol in a fixed order). This package re-exports the names callers use.
"""

from sim.market.generate import DAY_NS, EXCHANGE, Market, SymbolTruth, generate_market
from sim.market.path import MINUTE_NS
from sim.market.regimes import REGIMES
from sim.market.universe import UNIVERSE_30, UniverseEntry

__all__ = [
    "DAY_NS",
    "EXCHANGE",
    "MINUTE_NS",
    "REGIMES",
    "UNIVERSE_30",
    "Market",
    "SymbolTruth",
    "UniverseEntry",
    "generate_market",
]
