"""The six execution algorithms of SPEC §8 as deterministic schedulers.

Each algorithm answers one question: *how much of the parent may have been
released (filled + working) by now?* — its ``allowance``. The parent order
releases ``allowance − filled − working`` (whole lots) as a child whenever an
event arrives, so fills, partial fills, rejects and cancels need no special
cases: a rejected or cancelled child's quantity simply becomes releasable
again, and a schedule that falls behind catches up.

Schedules that are fixed in advance (TWAP, VWAP, IS, Adaptive) are lists of
``(time_ns, cumulative_quantity)`` whose last entry is exactly the parent
quantity, built from whole-lot slices with largest-remainder rounding.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from core.execution.cost_model import Algo, ac_holdings


def split_lots(total: int, weights: list[int] | list[float], lot: int) -> list[int]:
    """Split ``total`` (a multiple of ``lot``) into whole-lot parts ∝ ``weights``.

    Largest-remainder (Hamilton) rounding: every part is within one lot of its
    exact proportional share and the parts sum exactly to ``total``. Ties go to
    the earlier slice, so the split is deterministic.
    """
    if total % lot:
        raise ValueError(f"total {total} is not a whole number of lots of {lot}")
    lots = total // lot
    weight_sum = sum(weights)
    if not weights:
        raise ValueError("no slices to split into")
    if weight_sum <= 0:
        weights = [1] * len(weights)
        weight_sum = len(weights)
    exact = [lots * w / weight_sum for w in weights]
    base = [int(e) for e in exact]
    short = lots - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[:short]:
        base[i] += 1
    return [b * lot for b in base]


def split_with_odd_lot(quantity: int, weights: list[int] | list[float], lot: int) -> list[int]:
    """``split_lots`` for any quantity: the odd remainder (< one lot) goes last.

    Entries are sized in whole lots, but an exit must close whatever the
    position is, and fills (late ones included) need not come in lots.
    """
    round_part = quantity // lot * lot
    parts = split_lots(round_part, weights, lot)
    parts[-1] += quantity - round_part
    return parts


def cumulative(times: list[int], slices: list[int]) -> list[tuple[int, int]]:
    total = 0
    schedule = []
    for t, q in zip(times, slices, strict=True):
        total += q
        schedule.append((t, total))
    return schedule


def twap_schedule(
    quantity: int, lot: int, start_ns: int, period_ns: int, bars: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Equal whole-lot slices; slice k at a seeded-random time in its interval."""
    slices = split_with_odd_lot(quantity, [1] * bars, lot)
    offsets = rng.integers(0, period_ns, size=bars)
    times = [start_ns + k * period_ns + int(offsets[k]) for k in range(bars)]
    return cumulative(times, slices)


def vwap_schedule(
    quantity: int, lot: int, start_ns: int, period_ns: int, weights: list[int]
) -> list[tuple[int, int]]:
    """Slices proportional to the symbol's learned volume profile, one per bar."""
    slices = split_with_odd_lot(quantity, weights, lot)
    times = [start_ns + k * period_ns for k in range(len(weights))]
    return cumulative(times, slices)


def is_schedule(
    quantity: int, lot: int, start_ns: int, period_ns: int, bars: int, kappa: float
) -> list[tuple[int, int]]:
    """Almgren–Chriss trajectory, holdings rounded to the nearest lot.

    Trades are differences of rounded holdings, so they are whole lots, never
    negative (holdings are non-increasing) and sum exactly to ``quantity``.
    """
    lots = quantity // lot
    holdings = ac_holdings(float(lots), bars, kappa)
    rounded = [round(h) for h in holdings]
    rounded[0], rounded[-1] = lots, 0
    for j in range(1, len(rounded)):  # guard monotonicity against float ties
        rounded[j] = min(rounded[j], rounded[j - 1])
    times = [start_ns + k * period_ns for k in range(bars)]
    schedule = [(times[k], (lots - rounded[k + 1]) * lot) for k in range(bars)]
    schedule[-1] = (schedule[-1][0], quantity)  # the odd lot, if any, goes last
    return schedule


@dataclass(slots=True)
class Progress:
    """Where a parent order stands; ``working`` = leaves of its live children."""

    quantity: int
    filled: int = 0
    working: int = 0

    @property
    def released(self) -> int:
        return self.filled + self.working

    @property
    def unreleased(self) -> int:
        return self.quantity - self.released


class Algorithm:
    """Base: a fixed cumulative schedule. Subclasses override ``allowance``."""

    algo: Algo = Algo.MARKET
    resting: ClassVar[bool] = False  # children are limit orders at the reference price

    @property
    def passive(self) -> bool:
        """Whether the next child rests (a non-marketable limit): maker, stays lit."""
        return self.resting

    def __init__(self, schedule: list[tuple[int, int]]) -> None:
        self.schedule = schedule
        self._times = [t for t, _ in schedule]
        # Wake only when something becomes releasable (zero slices need no timer).
        previous = 0
        self._wakes: list[int] = []
        for t, total in schedule:
            if total > previous:
                self._wakes.append(t)
            previous = total

    def allowance(self, now_ns: int, progress: Progress) -> int:
        i = bisect.bisect_right(self._times, now_ns)
        return self.schedule[i - 1][1] if i else 0

    def next_wakeup(self, now_ns: int) -> int | None:
        i = bisect.bisect_right(self._wakes, now_ns)
        return self._wakes[i] if i < len(self._wakes) else None

    def on_market_volume(self, volume: int) -> None:
        """Bar volume of the symbol while the parent is open (POV listens)."""

    def slices(self) -> list[int]:
        previous = 0
        out = []
        for _, total in self.schedule:
            out.append(total - previous)
            previous = total
        return out


class Market(Algorithm):
    algo = Algo.MARKET


class Twap(Algorithm):
    algo = Algo.TWAP


class Vwap(Algorithm):
    algo = Algo.VWAP


class ImplementationShortfall(Algorithm):
    algo = Algo.IS


class Pov(Algorithm):
    """Participation of volume: released ≤ ρ/(1−ρ) × market volume since start.

    ρ = ``rate_num / rate_den`` is kept as an exact fraction and the allowance
    rounds *down* to a lot, so the order's share of the volume never exceeds ρ.
    """

    algo = Algo.POV

    def __init__(self, quantity: int, lot: int, rate: float, start_ns: int) -> None:
        super().__init__([(start_ns, quantity)])
        self.quantity = quantity
        self.lot = lot
        # ρ as an exact ratio in parts per million: the rate is a statistic,
        # its exact representation keeps the cap decidable on integers.
        self.rate_num = max(1, int(rate * 1_000_000))
        self.rate_den = 1_000_000
        self.market_volume = 0

    def on_market_volume(self, volume: int) -> None:
        self.market_volume += volume

    def allowance(self, now_ns: int, progress: Progress) -> int:
        cap = self.market_volume * self.rate_num // (self.rate_den - self.rate_num)
        if cap >= self.quantity:
            return self.quantity  # includes an odd-lot remainder, if any
        return cap // self.lot * self.lot

    def next_wakeup(self, now_ns: int) -> int | None:
        return None  # bars, not timers, drive POV


class Iceberg(Algorithm):
    """Show ``display`` at most; each fill lets the same quantity back on show."""

    algo = Algo.ICEBERG
    resting = True

    def __init__(self, quantity: int, display: int, start_ns: int) -> None:
        super().__init__([(start_ns, quantity)])
        self.quantity = quantity
        self.display = display

    def allowance(self, now_ns: int, progress: Progress) -> int:
        return min(self.quantity, progress.filled + self.display)

    def next_wakeup(self, now_ns: int) -> int | None:
        return None


@dataclass(slots=True)
class AdaptiveState:
    ratio: float = 1.0  # current ATR / historical mean ATR
    released_target: int = 0
    last_interval: int = -1
    history: list[float] = field(default_factory=list)


class Adaptive(Algorithm):
    """Uniform plan whose slice size and limit offset scale with volatility.

    At each interval the target grows by ``base slice × r`` where r is the
    current ATR over the symbol's historical mean ATR: more volatile → trade
    faster (less exposure to the move) and cross further (``round(r) − 1``
    ticks, so in ordinary volatility it rests at the last price).
    """

    algo = Algo.ADAPTIVE

    def __init__(self, quantity: int, lot: int, start_ns: int, period_ns: int, bars: int) -> None:
        base = split_with_odd_lot(quantity, [1] * bars, lot)
        super().__init__(cumulative([start_ns + k * period_ns for k in range(bars)], base))
        self.quantity = quantity
        self.lot = lot
        self.start_ns = start_ns
        self.period_ns = period_ns
        self.bars = bars
        self.base_slice = quantity / bars
        self.state = AdaptiveState()

    def set_ratio(self, ratio: float) -> None:
        self.state.ratio = max(0.0, ratio)

    def allowance(self, now_ns: int, progress: Progress) -> int:
        if now_ns < self.start_ns:
            return 0
        interval = min(self.bars - 1, (now_ns - self.start_ns) // self.period_ns)
        state = self.state
        while state.last_interval < interval:
            state.last_interval += 1
            step = max(self.lot, int(self.base_slice * state.ratio) // self.lot * self.lot)
            state.released_target = min(self.quantity, state.released_target + step)
            state.history.append(state.ratio)
        if interval == self.bars - 1:  # the last interval releases what is left
            state.released_target = self.quantity
        return state.released_target

    def offset_ticks(self) -> int:
        """Ticks through the last price: ``max(0, round(r) − 1)``.

        In ordinary volatility (r ≈ 1) the limit sits at the last price, which
        is not marketable (a buy below the ask): it rests and earns the maker
        rebate. From r ≥ 1.5 it crosses the spread by ``round(r) − 1`` ticks and
        pays the take fee, trading faster when the price moves more.
        """
        return max(0, round(self.state.ratio) - 1)

    @property
    def passive(self) -> bool:
        """Resting (maker) when the limit does not cross: what the router scores."""
        return self.offset_ticks() <= 0
