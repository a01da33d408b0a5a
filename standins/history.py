"""``/v2/stocks/bars`` beyond 1-minute raw bars: daily bars and the adjustment parameter.

Alpaca serves ``timeframe=1Day`` bars stamped at midnight New York of each
session (``2024-01-02T05:00:00Z``) and takes ``adjustment=raw|split|dividend|all``.
The simulated market has no corporate actions, so every adjustment serves the
same prices; an unknown one is refused the way Alpaca refuses it. Daily bars
are built from the tape's minute bars of each New York session date, so they
follow the same "nothing from the future" rule: a session's bar appears once
its last minute has been published.
"""

from __future__ import annotations

from datetime import datetime

from core.events import Bar
from standins import wire
from standins.tape import Tape

MINUTE_TIMEFRAMES = ("1Min", "1T", "1Minute")
DAY_TIMEFRAMES = ("1Day", "1D")
ADJUSTMENTS = ("raw", "split", "dividend", "all")
_NS = 10**9


def timeframe_problem(timeframe: str) -> str | None:
    if timeframe in MINUTE_TIMEFRAMES or timeframe in DAY_TIMEFRAMES:
        return None
    return f"invalid timeframe {timeframe!r}: the stand-in serves 1Min and 1Day bars"


def adjustment_problem(adjustment: str | None) -> str | None:
    if adjustment is None or adjustment in ADJUSTMENTS:
        return None
    return f"invalid adjustment {adjustment!r}: must be one of {', '.join(ADJUSTMENTS)}"


def new_york_midnight(time_ns: int) -> int:
    """Midnight New York of the day ``time_ns`` falls on: how daily bars are stamped."""
    local = datetime.fromtimestamp(time_ns // _NS, tz=wire.NEW_YORK)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp()) * _NS


def daily_tape(tape: Tape, symbols: list[str], closes: dict[int, int], now_ns: int) -> Tape:
    """Daily bars of ``symbols`` for every session whose close has passed by ``now_ns``.

    ``closes`` maps a session's New York midnight to its close (UTC ns).
    """
    out = Tape()
    for symbol in sorted(set(symbols)):
        day: list[Bar] = []
        current = None
        for bar in tape.bars.get(symbol, []):
            stamp = new_york_midnight(bar.time_ns)
            if current is not None and stamp != current:
                _flush(out, symbol, current, day, closes, now_ns)
                day = []
            current = stamp
            day.append(bar)
        if current is not None:
            _flush(out, symbol, current, day, closes, now_ns)
    return out


def _flush(
    out: Tape, symbol: str, stamp: int, day: list[Bar], closes: dict[int, int], now_ns: int
) -> None:
    close = closes.get(stamp)
    if not day or close is None or close > now_ns:
        return
    volume = sum(b.volume for b in day)
    out.append(
        Bar(
            symbol,
            stamp,
            day[0].open,
            max(b.high for b in day),
            min(b.low for b in day),
            day[-1].close,
            volume,
        )
    )


def session_closes(calendar: tuple[tuple[int, int], ...]) -> dict[int, int]:
    return {new_york_midnight(open_ns): close_ns for open_ns, close_ns in calendar}


__all__ = [
    "adjustment_problem",
    "daily_tape",
    "new_york_midnight",
    "session_closes",
    "timeframe_problem",
]
