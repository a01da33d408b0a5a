"""One symbol's price path in cents, built bar by bar, and the constants that shape it.

The regimes (``sim.market.regimes``) steer a ``PricePath`` with targets and events;
the path owns the mean-reverting step, the wicks, Wilder's ATR alongside and each
bar's kind (ordinary, event, record, retest), which ``sim.market.volume`` turns
into volumes. Every draw comes from the symbol's own stream, in bar order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.atr import WilderATR
from core.instruments import CENT

MINUTE_NS = 60 * 10**9

# Bar kinds: how a bar's volume is chosen.
ORDINARY = 0  # capped just under the spike line
EVENT = 1  # a spike: 1.2–1.7× the smallest spiking volume
RECORD = 2  # the largest volume the symbol has printed, by far
RETEST = 3  # a spike against all history, the record included, below the record

# Shape constants. They describe the synthetic market, not the strategy; each
# is chosen to resemble US large caps and is documented where it is used.
STEP_SIGMA = 0.4  # close-to-close σ in bar ranges (minute bars: bid-ask bounce widens
_WICK = (0.1, 0.5)  # the range against the close-to-close move); ATR ≈ the bar range
CALM_KAPPA = 0.002  # mean reversion per bar in quiet trading: a ~1-day half-life
PULL_KAPPA = 0.1  # towards an edge being approached: arrives within ~20 bars
WALK_SPEED = 0.25  # bar-ranges a bar when heading somewhere: each price gets several bars
BOUNCE = 1.5  # a bounce closes this many ATRs off the extreme (plus up to 0.25)


@dataclass(frozen=True)
class SessionLayout:
    sessions: tuple[tuple[int, int], ...]
    lengths: tuple[int, ...]  # bars per session
    starts: tuple[int, ...]  # global index of each session's first bar

    @property
    def total(self) -> int:
        return self.starts[-1] + self.lengths[-1]


class PricePath:
    """One symbol's bars in cents, built bar by bar with Wilder's ATR alongside."""

    def __init__(
        self, rng: np.random.Generator, layout: SessionLayout, base: int, bar_range: float
    ):
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
        self, o: int, h: int, lo: int, c: int, kind: int = ORDINARY, weight: float = 1.0
    ) -> None:
        if self.session_open() and self.kinds and kind != EVENT:
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
        return round(price + kappa * (target - price) + self.rng.normal(0.0, STEP_SIGMA * self.a))

    def walk(self, target: float, speed: float) -> int:
        """The next close when heading for ``target`` at up to ``speed`` bar-ranges a bar."""
        price = self.last
        pull = max(-speed * self.a, min(speed * self.a, PULL_KAPPA * (target - price)))
        return round(price + pull + self.rng.normal(0.0, STEP_SIGMA * self.a))

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
        self.add(o, high, max(low, 1), close, ORDINARY, weight)

    def bounce(
        self, edge: int, direction: int, kind: int = EVENT, offset: int | None = None
    ) -> None:
        """A bar that tags ``edge`` exactly and closes well back inside (a hammer).

        ``direction`` +1 tags a floor from above, −1 tags a ceiling from below.
        """
        o = self.last
        if offset is None:
            atr = self.atr
            offset = math.ceil(BOUNCE * atr) + int(self.rng.integers(0, int(0.25 * atr) + 1))
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


def _time_of(layout: SessionLayout, index: int) -> int:
    for k in range(len(layout.starts) - 1, -1, -1):
        if index >= layout.starts[k]:
            return layout.sessions[k][0] + (index - layout.starts[k]) * MINUTE_NS
    raise IndexError(index)
