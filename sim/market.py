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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from core.atr import WilderATR
from core.errors import BadInput
from core.events import Bar
from core.instruments import CENT, Instrument, us_equity_tick
from core.money import price_from_decimal
from sim.calendar import exchange_sessions
from sim.rng import stream
from sim.timefmt import parse_time

MINUTE_NS = 60 * 10**9
DAY_NS = 86_400 * 10**9
EXCHANGE = "XNYS"

REGIMES: tuple[str, ...] = ("range", "trend", "capitulation", "gaps", "flash_crash")


@dataclass(frozen=True)
class UniverseEntry:
    symbol: str
    sector: str
    base_price: str  # Decimal string, dollars


@dataclass(frozen=True)
class SymbolTruth:
    """What the generator made true of a symbol's bars (nano-unit prices, ns times)."""

    symbol: str
    regime: str
    facts: dict[str, int]


@dataclass(frozen=True)
class Market:
    instruments: tuple[Instrument, ...]
    bars: tuple[Bar, ...]
    truth: dict[str, SymbolTruth]
    sessions: tuple[tuple[int, int], ...]
    start_ns: int
    end_ns: int


_IT = "Information Technology"
_COMM = "Communication Services"
_DISC = "Consumer Discretionary"
_STAPLES = "Consumer Staples"
_FIN = "Financials"
_HEALTH = "Health Care"

UNIVERSE_30: tuple[UniverseEntry, ...] = (
    # Base prices: about where each traded at the start of 2024 (NVDA before its 2024 split).
    UniverseEntry("AAPL", _IT, "185.64"),
    UniverseEntry("MSFT", _IT, "370.87"),
    UniverseEntry("GOOGL", _COMM, "138.17"),
    UniverseEntry("AMZN", _DISC, "149.93"),
    UniverseEntry("NVDA", _IT, "481.68"),
    UniverseEntry("META", _COMM, "346.29"),
    UniverseEntry("TSLA", _DISC, "248.42"),
    UniverseEntry("JPM", _FIN, "170.30"),
    UniverseEntry("V", _FIN, "259.04"),
    UniverseEntry("JNJ", _HEALTH, "156.16"),
    UniverseEntry("WMT", _STAPLES, "157.96"),
    UniverseEntry("PG", _STAPLES, "147.66"),
    UniverseEntry("XOM", "Energy", "102.12"),
    UniverseEntry("UNH", _HEALTH, "532.81"),
    UniverseEntry("HD", _DISC, "349.73"),
    UniverseEntry("MA", _FIN, "430.15"),
    UniverseEntry("BAC", _FIN, "33.84"),
    UniverseEntry("KO", _STAPLES, "59.38"),
    UniverseEntry("PEP", _STAPLES, "169.70"),
    UniverseEntry("CVX", "Energy", "149.23"),
    UniverseEntry("MRK", _HEALTH, "110.96"),
    UniverseEntry("COST", _STAPLES, "666.30"),
    UniverseEntry("DIS", _COMM, "90.85"),
    UniverseEntry("CSCO", _IT, "50.63"),
    UniverseEntry("NFLX", _COMM, "468.50"),
    UniverseEntry("CAT", "Industrials", "288.74"),
    UniverseEntry("BA", "Industrials", "259.64"),
    UniverseEntry("NEE", "Utilities", "60.74"),
    UniverseEntry("LIN", "Materials", "409.39"),
    UniverseEntry("PLD", "Real Estate", "132.51"),
)
_BY_SYMBOL = {entry.symbol: entry for entry in UNIVERSE_30}

# Bar kinds: how a bar's volume is chosen.
_ORDINARY = 0  # capped just under the spike line
_EVENT = 1  # a spike: 1.2–1.7× the smallest spiking volume
_RECORD = 2  # the largest volume the symbol has printed, by far
_RETEST = 3  # a spike against all history, the record included, below the record

# Shape constants. They describe the synthetic market, not the strategy; each
# is chosen to resemble US large caps and is documented where it is used.
_STEP_SIGMA = 0.4  # close-to-close σ in bar ranges (minute bars: bid-ask bounce widens
_WICK = (0.1, 0.5)  # the range against the close-to-close move); ATR ≈ the bar range
_CALM_KAPPA = 0.002  # mean reversion per bar in quiet trading: a ~1-day half-life
_PULL_KAPPA = 0.1  # towards an edge being approached: arrives within ~20 bars
_WALK_SPEED = 0.25  # bar-ranges a bar when heading somewhere: each price gets several bars
_BOUNCE = 1.5  # a bounce closes this many ATRs off the extreme (plus up to 0.25)


@dataclass(frozen=True)
class _Layout:
    sessions: tuple[tuple[int, int], ...]
    lengths: tuple[int, ...]  # bars per session
    starts: tuple[int, ...]  # global index of each session's first bar

    @property
    def total(self) -> int:
        return self.starts[-1] + self.lengths[-1]


class _Path:
    """One symbol's bars in cents, built bar by bar with Wilder's ATR alongside."""

    def __init__(self, rng: np.random.Generator, layout: _Layout, base: int, bar_range: float):
        self.rng = rng
        self.layout = layout
        self.base = base
        self.a = bar_range  # typical bar range, cents
        self.opens: list[int] = []
        self.highs: list[int] = []
        self.lows: list[int] = []
        self.closes: list[int] = []
        self.kinds: list[int] = []
        self.weights: list[float] = []  # volume multiplier on top of the U shape
        self._atr = WilderATR()
        self._tr_sum = 0

    @property
    def index(self) -> int:
        return len(self.closes)

    @property
    def last(self) -> int:
        return self.closes[-1] if self.closes else self.base

    @property
    def atr(self) -> float:
        """Wilder's ATR of the bars so far, in cents (the bar range until it exists)."""
        value = self._atr.value
        return self.a if value is None else value / CENT

    def session_open(self) -> bool:
        index = self.index
        return index > 0 and index in self.layout.starts

    def add(
        self, o: int, h: int, lo: int, c: int, kind: int = _ORDINARY, weight: float = 1.0
    ) -> None:
        if self.session_open() and self.kinds and kind != _EVENT:
            # The overnight gap is filled by the first bar (see the module docstring).
            prev = self.closes[-1]
            lo, h = min(lo, prev), max(h, prev)
        if not 0 < lo <= min(o, c) <= max(o, c) <= h:
            raise AssertionError(f"generator built an invalid bar {o, h, lo, c}")
        self.opens.append(o)
        self.highs.append(h)
        self.lows.append(lo)
        self.closes.append(c)
        self.kinds.append(kind)
        self.weights.append(weight)
        prev = self.closes[-2] if len(self.closes) > 1 else c
        self._tr_sum += max(h - lo, abs(h - prev), abs(lo - prev))
        self._atr.update(h * CENT, lo * CENT, c * CENT)

    def wick(self) -> int:
        return round(self.a * self.rng.uniform(*_WICK))

    def step(self, target: float, kappa: float) -> int:
        """The next close of the mean-reverting walk (not yet bounded)."""
        price = self.last
        return round(price + kappa * (target - price) + self.rng.normal(0.0, _STEP_SIGMA * self.a))

    def walk(self, target: float, speed: float) -> int:
        """The next close when heading for ``target`` at up to ``speed`` bar-ranges a bar."""
        price = self.last
        pull = max(-speed * self.a, min(speed * self.a, _PULL_KAPPA * (target - price)))
        return round(price + pull + self.rng.normal(0.0, _STEP_SIGMA * self.a))

    def ordinary(
        self,
        close: int,
        lo_wall: int | None = None,
        hi_wall: int | None = None,
        weight: float = 1.0,
    ) -> None:
        """An ordinary bar from the last close to ``close``, kept inside the walls.

        A close beyond a wall is reflected back inside; wicks are cut at the
        walls (an open already beyond a wall stays, the bar just adds no wick).
        """
        o = self.last
        if lo_wall is not None and close < lo_wall:
            close = 2 * lo_wall - close
        if hi_wall is not None and close > hi_wall:
            close = 2 * hi_wall - close
        if lo_wall is not None:
            close = max(close, lo_wall)
        if hi_wall is not None:
            close = min(close, hi_wall)
        close = max(close, 1)
        low = min(o, close) - self.wick()
        high = max(o, close) + self.wick()
        span = high - low
        # A bar pushed off a wall keeps its range (the defenders lift it), so
        # bars grinding along an edge do not shrink the ATR.
        if lo_wall is not None and low < min(lo_wall, o, close):
            low = min(lo_wall, o, close)
            high = max(high, low + span)
        if hi_wall is not None and high > max(hi_wall, o, close):
            high = max(hi_wall, o, close)
            low = min(low, high - span)
        if lo_wall is not None:
            low = max(low, min(lo_wall, o, close))
        self.add(o, high, max(low, 1), close, _ORDINARY, weight)

    def bounce(
        self, edge: int, direction: int, kind: int = _EVENT, offset: int | None = None
    ) -> None:
        """A bar that tags ``edge`` exactly and closes well back inside (a hammer).

        ``direction`` +1 tags a floor from above, −1 tags a ceiling from below.
        """
        o = self.last
        if offset is None:
            atr = self.atr
            offset = math.ceil(_BOUNCE * atr) + int(self.rng.integers(0, int(0.25 * atr) + 1))
        close = edge + direction * offset
        if direction > 0:
            self.add(o, max(o, close) + self.wick() // 2, edge, close, kind)
        else:
            self.add(o, edge, min(o, close) - self.wick() // 2, close, kind)

    @property
    def mean_range(self) -> float:
        """The mean true range over all bars so far, cents: a steadier ATR."""
        return self._tr_sum / len(self.closes) if self.closes else self.a

    def wall_away(self) -> int:
        """How close ordinary bars may come to a defended extreme, in cents.

        1.25 mean true ranges: beyond the edge's own bucket unless ATR runs 25%
        above its mean, and close enough that the strip next to the edge that
        only the touches trade stays narrower than two buckets unless ATR
        falls below 0.625 of its mean.
        """
        return math.ceil(1.25 * self.mean_range)

    def time_ns(self, index: int) -> int:
        return _time_of(self.layout, index)


def _time_of(layout: _Layout, index: int) -> int:
    for k in range(len(layout.starts) - 1, -1, -1):
        if index >= layout.starts[k]:
            return layout.sessions[k][0] + (index - layout.starts[k]) * MINUTE_NS
    raise IndexError(index)


# --------------------------------------------------------------------------- regimes


def _range(path: _Path) -> dict[str, int]:
    """Range-bound: mean reversion to the middle; edges touched, never broken.

    Quiet trading reverts to the middle. From time to time the price sets
    off for the edge it did not touch last (a ping-pong range) at a walking
    pace (at most 0.25 bar-ranges a bar, so each
    price on the way is traded by several bars), grinds just inside it, then
    a touch bar tags the edge to the cent on a volume spike and closes back
    inside; the price then drifts back towards the middle. The first session
    goes to both edges (establishing the range, unless an early close cuts
    it short); later sessions plan up to two excursions each.
    """
    rng, layout = path.rng, path.layout
    half = round(path.a * rng.uniform(12.0, 18.0))
    floor, ceiling = path.base - half, path.base + half
    middle = float(path.base)
    planned = {int(rng.integers(5, 30))}  # bars at which an excursion may set off
    for k in range(1, len(layout.lengths)):
        length, start = layout.lengths[k], layout.starts[k]
        for _ in range(int(rng.integers(0, 3))):
            planned.add(start + int(rng.integers(0, length - 60)))
    last_edge = 1 if rng.random() < 0.5 else -1  # excursions alternate: a ping-pong range
    seen: set[int] = set()
    established = -1
    touches = 0
    edge = 0  # the edge being approached: +1 floor, −1 ceiling, 0 none
    inner = 0.0
    linger = need = 0
    recover = 0  # +1 / −1: walking back up / down to the middle after a touch
    for index in range(layout.total):
        away = path.wall_away()
        lo_wall, hi_wall = floor + away, ceiling - away
        if edge == 0 and recover == 0 and (index in planned or len(seen) == 1):
            edge = -last_edge
        if edge != 0:
            if linger == 0:
                # Grind just outside the wall, so the prices next to the edge trade a lot.
                inner = (floor if edge > 0 else ceiling) + edge * path.atr * rng.uniform(1.4, 2.0)
                need = int(rng.integers(5, 20))
            near = abs(path.last - inner) <= path.a or (path.last - inner) * edge < 0
            linger += 1 if near else 0
            linger = max(linger, 1)
            if linger > need and not path.session_open():
                path.bounce(floor if edge > 0 else ceiling, edge)
                touches += 1
                seen.add(edge)
                recover = edge
                last_edge, edge, linger = edge, 0, 0
                continue
            close = path.walk(inner, _WALK_SPEED)
        elif recover != 0:
            close = path.walk(middle, _WALK_SPEED)
            if (close - middle) * recover >= 0:  # back in the middle
                recover = 0
                if established < 0 and len(seen) == 2:
                    # Both edges have held and the price is back in the middle: every
                    # price inside has now been traded on at least two passes.
                    established = index
        else:
            close = path.step(middle, _CALM_KAPPA)
        path.ordinary(close, lo_wall, hi_wall)
    return {
        "floor": floor * CENT,
        "ceiling": ceiling * CENT,
        # A run too short for both edges to hold reports the end of its last session.
        "established_ns": path.time_ns(established) if established >= 0 else layout.sessions[-1][1],
        "touches": touches,
    }


def _trend(path: _Path) -> dict[str, int]:
    """A steady drift (0.6–1.5% of the price a session) with bounded noise around it."""
    rng, layout = path.rng, path.layout
    sign = 1 if rng.random() < 0.5 else -1
    # Bounded so the line never loses more than half the price over the run.
    rate = min(rng.uniform(0.006, 0.015), 0.5 / len(layout.lengths))
    drift = sign * round(path.base * rate)
    band = round(8 * path.a)
    deviation = 0.0
    for k, length in enumerate(layout.lengths):
        for m in range(length):
            line = path.base + drift * (k + m / length)
            deviation += -0.02 * deviation + rng.normal(0.0, _STEP_SIGMA * path.a)
            deviation = max(-band, min(band, deviation))
            path.ordinary(round(line + deviation), round(line) - band, round(line) + band)
    return {"drift_per_day": drift * CENT, "start": path.base * CENT, "band": band * CENT}


def _gaps(path: _Path) -> dict[str, int]:
    """Overnight gaps of 1.5–4% at some session opens; quiet mean reversion between."""
    rng, layout = path.rng, path.layout
    gapped = [k for k in range(1, len(layout.lengths)) if rng.random() < 0.6]
    if not gapped and len(layout.lengths) > 1:
        gapped = [int(rng.integers(1, len(layout.lengths)))]
    target = float(path.base)
    smallest = None
    for k, length in enumerate(layout.lengths):
        for m in range(length):
            if m == 0 and k in gapped:
                prev = path.last
                size = max(2, round(prev * rng.uniform(0.015, 0.04)))
                sign = 1 if rng.random() < 0.5 else -1
                if prev < path.base // 2 or prev > path.base * 2:  # keep the walk in bounds
                    sign = 1 if prev < path.base else -1
                smallest = size if smallest is None else min(smallest, size)
                o = prev + sign * size
                c = o + round(rng.normal(0.0, _STEP_SIGMA * path.a))
                if sign > 0:  # the first bar stays clear of the previous close: an unfilled gap
                    low = max(prev + 1, min(o, c) - path.wick())
                    c = max(c, low)
                    path.add(o, max(o, c) + path.wick(), low, c, _EVENT)
                else:
                    high = min(prev - 1, max(o, c) + path.wick())
                    c = min(c, high)
                    path.add(o, high, min(o, c) - path.wick(), c, _EVENT)
                target += path.last - prev
                continue
            path.ordinary(path.step(target, _CALM_KAPPA))
    return {"gap_count": len(gapped), "min_gap": (smallest or 0) * CENT}


def _flash_crash(path: _Path) -> dict[str, int]:
    """Quiet trading, then one session drops 5–9% in minutes and recovers within it."""
    rng, layout = path.rng, path.layout
    k = len(layout.lengths) // 2
    length, start = layout.lengths[k], layout.starts[k]
    crash_start = start + int(rng.integers(min(60, length // 4), length - 90))
    drop_bars = int(rng.integers(3, 9))
    recover_bars = int(rng.integers(15, 46))
    session_end = start + length
    target = float(path.base)
    facts: dict[str, int] = {}
    index = 0
    while index < layout.total:
        if index != crash_start:
            lo_wall = facts["crash_low"] // CENT + 1 if facts and index < session_end else None
            path.ordinary(path.step(target, _CALM_KAPPA), lo_wall)
            index += 1
            continue
        pre = path.last
        session_low = min(path.lows[start:index], default=pre)
        drop = max(round(pre * rng.uniform(0.05, 0.09)), pre - session_low + round(pre * 0.01))
        low_price = pre - drop
        weights = [(j + 1) ** 1.5 for j in range(drop_bars)]
        total = sum(weights)
        level = float(pre)
        for j in range(drop_bars):
            level -= drop * weights[j] / total
            o = path.last
            c = low_price if j == drop_bars - 1 else max(low_price + 1, round(level))
            kind = _EVENT if j == drop_bars - 1 else _ORDINARY
            close = c + (round(drop * 0.15) if kind == _EVENT else 0)
            path.add(o, o + path.wick() // 2, c, close, kind, 3.0)
        facts["crash_low"] = low_price * CENT
        facts["crash_time_ns"] = path.time_ns(path.index - 1)
        facts["pre_crash"] = pre * CENT
        facts["crash_start_ns"] = path.time_ns(crash_start)
        recovered = pre - round(drop * rng.uniform(0.0, 0.05))
        begin = path.last
        for j in range(recover_bars):
            level = begin + (recovered - begin) * (j + 1) / recover_bars
            o = path.last
            c = round(level)
            path.add(o, max(o, c) + path.wick(), min(o, c), c, _ORDINARY, 2.0)
            if "recovered_ns" not in facts and c >= pre - drop // 10:
                facts["recovered_ns"] = path.time_ns(path.index - 1)
        index = path.index
    return facts


def _capitulation(path: _Path) -> dict[str, int]:
    """Drift down, sell off into a record-volume low, rebound, then retest the low.

    The sell-off bars close on their lows; the capitulation bar tags the low
    on the largest volume the symbol has printed and closes 1.5 ATR (of the
    calm before the storm) off it. The rebound makes higher lows and
    retraces 35–55% of the decline; the price consolidates, then grinds back
    down to within 1.25 mean true ranges of the low, and the retest bar tags
    the low to the cent and closes back above it on a volume spike. The low
    is never broken.
    """
    rng, layout = path.rng, path.layout
    sessions = len(layout.lengths)
    sell_session = (sessions - 1) * 2 // 5
    retest_session = min(sessions - 1, sell_session + max(1, round(sessions * 0.3)))
    sell_len = int(rng.integers(20, 36))
    rebound_len = int(rng.integers(15, 31))
    length = layout.lengths[sell_session]
    latest = length - sell_len - rebound_len - 10
    if retest_session == sell_session:
        latest -= 150
    if latest < 20:
        raise BadInput("days", sessions, "capitulation needs two sessions, or one full session")
    sell_start = layout.starts[sell_session] + int(rng.integers(20, max(21, min(latest, 200))))
    record_index = sell_start + sell_len
    rebound_end = record_index + rebound_len
    if retest_session == sell_session:
        retest = int(rng.integers(rebound_end + 100, layout.starts[sell_session] + length - 10))
    else:
        r_len = layout.lengths[retest_session]
        retest = layout.starts[retest_session] + int(rng.integers(r_len // 4, r_len - 20))
    approach_from = retest - int(rng.integers(40, 80))
    # Drift down 0.3–0.8% a session before the sell-off (at most 20% in all).
    decline = path.base * min(rng.uniform(0.003, 0.008), 0.2 / max(1, sell_session))
    facts: dict[str, int] = {}
    low = top = 0
    calm_atr = path.a
    rebound_level = 0.0
    index = 0
    while index < layout.total:
        if index < sell_start:
            k = max(j for j in range(sessions) if layout.starts[j] <= index)
            line = path.base - decline * (k + (index - layout.starts[k]) / layout.lengths[k])
            path.ordinary(path.step(line, 0.02))
            index += 1
            continue
        if index == sell_start:
            calm_atr = path.atr
            top = path.last
            drop = top * rng.uniform(0.06, 0.1)
            weights = [(j + 1) ** 1.5 for j in range(sell_len + 1)]
            total = sum(weights)
            level = float(top)
            for j in range(sell_len):
                level -= drop * weights[j] / total
                o = path.last
                c = min(o - 1, round(level))
                path.add(o, o + path.wick() // 3, c, c, _ORDINARY, 1.5 + 2.0 * j / sell_len)
            low = round(top - drop)
            facts["selloff_start_ns"] = path.time_ns(sell_start)
            path.bounce(low, 1, _RECORD, math.ceil(_BOUNCE * calm_atr))
            facts["low"] = low * CENT
            facts["low_time_ns"] = path.time_ns(record_index)
            rise = (top - low) * rng.uniform(0.35, 0.55)
            begin = path.last
            for j in range(rebound_len):
                frac = 1 - (1 - (j + 1) / rebound_len) ** 2  # fast first, then slowing
                o = path.last
                c = max(o, round(begin + rise * frac))
                # The first three bars probe back down with higher lows (0.6, 1.2 and
                # 1.8 calm ATRs above the low): buyers step in ever higher, so the
                # prices just above the low trade more than the low itself.
                probe = low + round(0.6 * (j + 1) * calm_atr) if j < 3 else o
                path.add(o, c + path.wick(), min(o, probe), c, _ORDINARY, 2.0)
            rebound_level = float(path.last)
            index = path.index
            continue
        floor_wall = low + path.wall_away()
        if index == retest:
            offset = max(math.ceil(_BOUNCE * path.atr), math.ceil(_BOUNCE * calm_atr))
            offset += int(rng.integers(0, int(0.25 * path.atr) + 1))
            path.bounce(low, 1, _RETEST, offset)
            facts["retest_time_ns"] = path.time_ns(retest)
        elif approach_from <= index < retest:
            target = low + path.a * rng.uniform(1.8, 2.6)
            path.ordinary(path.step(target, _PULL_KAPPA), floor_wall)
        else:
            target = rebound_level if index < retest else rebound_level + 0.3 * (top - low)
            path.ordinary(path.step(target, 0.02), max(floor_wall, low + round(2.5 * calm_atr)))
        index += 1
    return facts


_BUILDERS: dict[str, Callable[[_Path], dict[str, int]]] = {
    "range": _range,
    "trend": _trend,
    "capitulation": _capitulation,
    "gaps": _gaps,
    "flash_crash": _flash_crash,
}


# --------------------------------------------------------------------------- volume


def _u_shape(minute: int, length: int) -> float:
    """Relative volume by time of day: an opening burst decaying over ~30 minutes,
    a quiet middle, and a build into the close (the well-known intraday U)."""
    x = (minute + 0.5) / length
    return 1.0 + 1.4 * math.exp(-x / 0.07) + 0.9 * math.exp(-(1.0 - x) / 0.05)


def _largest_ordinary(n: int, total: int, total_sq: int) -> int:
    """The largest volume that is *not* a spike against this history (SPEC §4.4).

    Not a spike ⇔ n·v − S ≤ isqrt(4·(n·Q − S²)) for integers.
    """
    return (total + math.isqrt(4 * (n * total_sq - total * total))) // n


def _volumes(path: _Path, base_volume: float) -> list[int]:
    rng, layout = path.rng, path.layout
    n = total = total_sq = 0
    record = 0
    out: list[int] = []
    for k, length in enumerate(layout.lengths):
        for m in range(length):
            index = layout.starts[k] + m
            kind = path.kinds[index]
            noise = math.exp(rng.normal(0.0, 0.3))
            v = max(1, round(base_volume * _u_shape(m, length) * path.weights[index] * noise))
            ceiling = _largest_ordinary(n, total, total_sq) if n >= 2 else None
            if kind == _ORDINARY:
                if ceiling is not None:
                    v = min(v, ceiling)
            elif ceiling is None:
                raise AssertionError("an event needs at least two bars of volume history")
            elif kind == _EVENT:
                v = math.ceil((ceiling + 1) * rng.uniform(1.2, 1.7))
            elif kind == _RECORD:
                v = math.ceil(max(record * rng.uniform(1.6, 2.2), (ceiling + 1) * 1.2))
            else:  # _RETEST
                v = min(math.ceil((ceiling + 1) * rng.uniform(1.15, 1.4)), record - 1)
                if v <= ceiling:
                    raise AssertionError("the retest cannot be a spike below the record")
            out.append(v)
            n += 1
            total += v
            total_sq += v * v
            record = max(record, v)
    return out


# --------------------------------------------------------------------------- assembly


def _layout(start: str, days: int) -> _Layout:
    start_ns = parse_time(start, "start")
    start_day = start_ns - start_ns % DAY_NS
    horizon = start_day + (days * 7 // 5 + 14) * DAY_NS
    spans = [s for s in exchange_sessions(EXCHANGE, start_day, horizon) if s[0] >= start_day]
    if len(spans) < days:
        raise BadInput("days", days, f"the {EXCHANGE} calendar has only {len(spans)} sessions")
    chosen = tuple((int(o), int(c)) for o, c in spans[:days])
    lengths = tuple((c - o) // MINUTE_NS for o, c in chosen)
    starts = tuple(sum(lengths[:k]) for k in range(days))
    return _Layout(chosen, lengths, starts)


def _check_args(
    seed: int, symbols: Sequence[str], regimes: Mapping[str, str] | str, days: int
) -> dict[str, str]:
    if type(seed) is not int or seed < 0:
        raise BadInput("seed", seed, "must be an integer >= 0")
    if type(days) is not int or days < 1:
        raise BadInput("days", days, "must be an integer >= 1")
    if isinstance(symbols, str) or not symbols:
        raise BadInput("symbols", symbols, "must be a non-empty sequence of symbols")
    if len(set(symbols)) != len(symbols):
        raise BadInput("symbols", list(symbols), "must not repeat a symbol")
    for symbol in symbols:
        if not isinstance(symbol, str) or not symbol or symbol != symbol.strip():
            raise BadInput("symbols", symbol, "must be a non-empty symbol without spaces")
    if isinstance(regimes, str):
        regimes = dict.fromkeys(symbols, regimes)
    chosen: dict[str, str] = {}
    for symbol in symbols:
        if symbol not in regimes:
            raise BadInput("regimes", symbol, "has no regime")
        regime = regimes[symbol]
        if regime not in REGIMES:
            raise BadInput(f"regimes[{symbol}]", regime, f"must be one of {', '.join(REGIMES)}")
        chosen[symbol] = regime
    return chosen


def generate_market(
    seed: int,
    symbols: Sequence[str],
    regimes: Mapping[str, str] | str,
    days: int,
    start: str = "2024-01-02",
) -> Market:
    """``days`` XNYS sessions of 1-minute bars from the first session on/after ``start``.

    ``regimes`` is one regime for every symbol or a mapping symbol → regime.
    Bars are sorted by time, then by the symbol's position in ``symbols``.
    """
    chosen = _check_args(seed, symbols, regimes, days)
    layout = _layout(start, days)
    instruments = []
    truth: dict[str, SymbolTruth] = {}
    columns: list[list[Bar]] = []
    times = [o + m * MINUTE_NS for o, c in layout.sessions for m in range((c - o) // MINUTE_NS)]
    for symbol in symbols:
        rng = stream(seed, "market", symbol)
        entry = _BY_SYMBOL.get(symbol)
        drawn = Decimal(round(float(rng.uniform(20.0, 200.0)), 2)).quantize(Decimal("0.01"))
        base_text = entry.base_price if entry is not None else str(drawn)
        base_nano = price_from_decimal(base_text, "base_price")
        base = base_nano // CENT
        instruments.append(
            Instrument(
                symbol,
                tick=us_equity_tick(base_nano),
                sector=entry.sector if entry is not None else "Unknown",
            )
        )
        bar_range = max(3.0, base * rng.uniform(0.0006, 0.001))  # 6–10 bps a minute
        path = _Path(rng, layout, base, bar_range)
        facts = _BUILDERS[chosen[symbol]](path)
        volumes = _volumes(path, base_volume=float(rng.uniform(20_000, 120_000)))
        columns.append(
            [
                Bar(symbol, t, o * CENT, h * CENT, lo * CENT, c * CENT, v)
                for t, o, h, lo, c, v in zip(
                    times, path.opens, path.highs, path.lows, path.closes, volumes, strict=True
                )
            ]
        )
        if _RECORD in path.kinds:
            facts["record_volume"] = volumes[path.kinds.index(_RECORD)]
        truth[symbol] = SymbolTruth(symbol, chosen[symbol], facts)
    bars = tuple(bar for row in zip(*columns, strict=True) for bar in row)
    return Market(
        tuple(instruments),
        bars,
        truth,
        layout.sessions,
        layout.sessions[0][0],
        layout.sessions[-1][1],
    )
