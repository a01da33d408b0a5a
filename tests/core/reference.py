"""Brute-force restatements of SPEC §4, written from the SPEC's text alone.

Nothing here shares code with ``core/``: each function recomputes its answer
from the whole history with exact ``Fraction`` arithmetic, so a test that
compares the core against these can fail for any disagreement with the SPEC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import pairwise

WILDER = 14


def travel_count(intervals: Sequence[tuple[int, int]], bucket: int, g: int) -> int:
    """#bars with ``low < high`` that touch bucket ``[bucket·g, (bucket+1)·g)``."""
    return sum(
        1 for low, high in intervals if low < high and low < (bucket + 1) * g and high > bucket * g
    )


def brute_levels(
    intervals: Sequence[tuple[int, int]], price: int, g: int
) -> tuple[int | None, int | None]:
    """(support bucket, resistance bucket) by scanning every domain bucket."""
    if not intervals:
        return None, None
    lowest = min(low for low, _ in intervals) // g
    highest = max(high for _, high in intervals) // g
    here = price // g
    support = resistance = None
    support_score = resistance_score = None
    for bucket in range(lowest, highest + 1):
        score = -travel_count(intervals, bucket, g)
        # support: highest score, ties to the nearest (= highest) bucket below
        if bucket < here and (support_score is None or score >= support_score):
            support, support_score = bucket, score
        # resistance: highest score, ties to the nearest (= lowest) bucket above
        if bucket > here and (resistance_score is None or score > resistance_score):
            resistance, resistance_score = bucket, score
    return support, resistance


def brute_percentile(history: Sequence[int], volume: int) -> float | None:
    if not history:
        return None
    less = sum(1 for v in history if v < volume)
    equal = sum(1 for v in history if v == volume)
    return float(Fraction(2 * less + equal, 2 * len(history)))


def brute_spike(history: Sequence[int], volume: int) -> bool:
    """``v > mean + 2σ`` with population σ, decided exactly (no square roots)."""
    n = len(history)
    if n < 2:
        return False
    mean = Fraction(sum(history), n)
    variance = sum((Fraction(v) - mean) ** 2 for v in history) / n
    return volume > mean and (volume - mean) ** 2 > 4 * variance


def true_ranges(bars: Sequence[tuple[int, int, int]]) -> list[int]:
    """TR of each (high, low, close)."""
    out = []
    prev = None
    for high, low, close in bars:
        if prev is None:
            out.append(high - low)
        else:
            out.append(max(high - low, abs(high - prev), abs(low - prev)))
        prev = close
    return out


def brute_atr(bars: Sequence[tuple[int, int, int]]) -> int | None:
    """Wilder ATR after all of ``bars``, each division rounded half to even."""
    trs = true_ranges(bars)
    if len(trs) < WILDER:
        return None
    atr = round(Fraction(sum(trs[:WILDER]), WILDER))  # Fraction rounds half to even
    for tr in trs[WILDER:]:
        atr = round(Fraction(13 * atr + tr, WILDER))
    return atr


def brute_granularity_ticks(atr: int, tick: int) -> int:
    """ATR / tick rounded half up, at least 1."""
    exact = Fraction(atr, tick)
    whole = exact.numerator // exact.denominator
    if exact - whole >= Fraction(1, 2):
        whole += 1
    return max(1, whole)


@dataclass(frozen=True)
class RawBar:
    time_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True)
class Verdict:
    signal: str
    reason: str | None
    support: tuple[int, int] | None
    resistance: tuple[int, int] | None
    percentile: float | None
    spike: bool
    granularity: int | None
    stop: int | None
    health: str


def brute_health(times: Sequence[int]) -> str:
    """Health of the last time in ``times`` on a 24/7 schedule.

    The bar period is the shortest spacing seen so far; missing slots between
    the last two bars are ``ceil(spacing / period) − 1``.
    """
    if len(times) < 2:
        return "ok"
    period = min(b - a for a, b in pairwise(times))
    spacing = times[-1] - times[-2]
    missing = -(-spacing // period) - 1
    return "ok" if missing == 0 else ("gap" if missing == 1 else "stale")


def brute_agent(bars: Sequence[RawBar], tick: int) -> list[Verdict]:
    """SPEC §4.5 from scratch for every bar, self-tracking its own position.

    Every per-bar input (granularity, zones, percentile, spike) is recomputed
    from the full list of earlier bars; only the position carries over.
    """
    verdicts: list[Verdict] = []
    direction, stop_price = 0, None
    for t, bar in enumerate(bars):
        past = bars[:t]
        atr = brute_atr([(b.high, b.low, b.close) for b in past])
        g = None if atr is None else brute_granularity_ticks(atr, tick) * tick
        support = resistance = None
        if g is not None:
            # Domain and travel on raw nano-unit prices; the zones are
            # tick-aligned because g is a whole number of ticks.
            s, r = brute_levels([(b.low, b.high) for b in past], past[-1].close, g)
            support = None if s is None else (s * g, (s + 1) * g)
            resistance = None if r is None else (r * g, (r + 1) * g)
        volumes = [b.volume for b in past]
        percentile = brute_percentile(volumes, bar.volume)
        spike = brute_spike(volumes, bar.volume)
        health = brute_health([b.time_ns for b in bars[: t + 1]])
        signal, reason, stop = "HOLD", None, None
        long_ok = support is not None and bar.low < support[1] and bar.close >= support[1]
        short_ok = (
            resistance is not None and bar.high > resistance[0] and bar.close <= resistance[0]
        )
        if direction == 1 and bar.low <= stop_price:
            signal, reason, stop = "EXIT_LONG", "stop", stop_price
        elif direction == -1 and bar.high >= stop_price:
            signal, reason, stop = "EXIT_SHORT", "stop", stop_price
        elif direction == 1:
            if short_ok:
                signal, reason, stop = "EXIT_LONG", "level", stop_price
        elif direction == -1:
            if long_ok:
                signal, reason, stop = "EXIT_SHORT", "level", stop_price
        elif spike and health != "stale" and long_ok != short_ok:
            if long_ok:
                signal, reason, stop = "ENTER_LONG", "level", support[0] - tick
            else:
                signal, reason, stop = "ENTER_SHORT", "level", resistance[1]
        if signal == "ENTER_LONG":
            direction, stop_price = 1, stop
        elif signal == "ENTER_SHORT":
            direction, stop_price = -1, stop
        elif signal in ("EXIT_LONG", "EXIT_SHORT"):
            direction, stop_price = 0, None
        verdicts.append(
            Verdict(signal, reason, support, resistance, percentile, spike, g, stop, health)
        )
    return verdicts
