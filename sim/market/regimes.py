"""The five regimes: how each one steers a path, and the ground truth it records.

One function per regime, each returning its facts (true range edges, the
capitulation low, ...) so tests and reports can hold the agents to what the
market really was; ``BUILDERS`` is the table ``generate_market`` dispatches on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from core.errors import BadInput
from core.instruments import CENT
from sim.market.path import (
    BOUNCE,
    CALM_KAPPA,
    EVENT,
    ORDINARY,
    PULL_KAPPA,
    RECORD,
    RETEST,
    STEP_SIGMA,
    WALK_SPEED,
    PricePath,
)

REGIMES: tuple[str, ...] = ("range", "trend", "capitulation", "gaps", "flash_crash")


# --------------------------------------------------------------------------- regimes


def _range(path: PricePath) -> dict[str, int]:
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
            close = path.walk(inner, WALK_SPEED)
        elif recover != 0:
            close = path.walk(middle, WALK_SPEED)
            if (close - middle) * recover >= 0:  # back in the middle
                recover = 0
                if established < 0 and len(seen) == 2:
                    # Both edges have held and the price is back in the middle: every
                    # price inside has now been traded on at least two passes.
                    established = index
        else:
            close = path.step(middle, CALM_KAPPA)
        path.ordinary(close, lo_wall, hi_wall)
    return {
        "floor": floor * CENT,
        "ceiling": ceiling * CENT,
        # A run too short for both edges to hold reports the end of its last session.
        "established_ns": path.time_ns(established) if established >= 0 else layout.sessions[-1][1],
        "touches": touches,
    }


def _trend(path: PricePath) -> dict[str, int]:
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
            deviation += -0.02 * deviation + rng.normal(0.0, STEP_SIGMA * path.a)
            deviation = max(-band, min(band, deviation))
            path.ordinary(round(line + deviation), round(line) - band, round(line) + band)
    return {"drift_per_day": drift * CENT, "start": path.base * CENT, "band": band * CENT}


def _gaps(path: PricePath) -> dict[str, int]:
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
                c = o + round(rng.normal(0.0, STEP_SIGMA * path.a))
                if sign > 0:  # the first bar stays clear of the previous close: an unfilled gap
                    low = max(prev + 1, min(o, c) - path.wick())
                    c = max(c, low)
                    path.add(o, max(o, c) + path.wick(), low, c, EVENT)
                else:
                    high = min(prev - 1, max(o, c) + path.wick())
                    c = min(c, high)
                    path.add(o, high, min(o, c) - path.wick(), c, EVENT)
                target += path.last - prev
                continue
            path.ordinary(path.step(target, CALM_KAPPA))
    return {"gap_count": len(gapped), "min_gap": (smallest or 0) * CENT}


def _flash_crash(path: PricePath) -> dict[str, int]:
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
            path.ordinary(path.step(target, CALM_KAPPA), lo_wall)
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
            kind = EVENT if j == drop_bars - 1 else ORDINARY
            close = c + (round(drop * 0.15) if kind == EVENT else 0)
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
            path.add(o, max(o, c) + path.wick(), min(o, c), c, ORDINARY, 2.0)
            if "recovered_ns" not in facts and c >= pre - drop // 10:
                facts["recovered_ns"] = path.time_ns(path.index - 1)
        index = path.index
    return facts


def _capitulation(path: PricePath) -> dict[str, int]:
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
                path.add(o, o + path.wick() // 3, c, c, ORDINARY, 1.5 + 2.0 * j / sell_len)
            low = round(top - drop)
            facts["selloff_start_ns"] = path.time_ns(sell_start)
            path.bounce(low, 1, RECORD, math.ceil(BOUNCE * calm_atr))
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
                path.add(o, c + path.wick(), min(o, probe), c, ORDINARY, 2.0)
            rebound_level = float(path.last)
            index = path.index
            continue
        floor_wall = low + path.wall_away()
        if index == retest:
            path.bounce(low, 1, RETEST)
            facts["retest_time_ns"] = path.time_ns(retest)
        elif approach_from <= index < retest:
            target = low + path.a * rng.uniform(1.8, 2.6)
            path.ordinary(path.step(target, PULL_KAPPA), floor_wall)
        else:
            target = rebound_level if index < retest else rebound_level + 0.3 * (top - low)
            path.ordinary(path.step(target, 0.02), max(floor_wall, low + round(2.5 * calm_atr)))
        index += 1
    return facts


BUILDERS: dict[str, Callable[[PricePath], dict[str, int]]] = {
    "range": _range,
    "trend": _trend,
    "capitulation": _capitulation,
    "gaps": _gaps,
    "flash_crash": _flash_crash,
}
