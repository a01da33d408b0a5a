"""Market data requests: historical bars (with IB's pacing rules) and live bars.

History is read from the stand-in's tape, so a client sees the same minutes the
other stand-ins publish; keepUpToDate and 5-second real-time subscriptions are
fed each minute by ``push``. The pacing limits are module constants so tests
can shorten them.
"""

from __future__ import annotations

import time
from bisect import bisect_left, bisect_right
from collections import deque
from typing import TYPE_CHECKING

from core.events import Bar
from standins import history
from standins.tws import protocol as p
from standins.tws.records import Session
from standins.tws.values import NS, bar_fields, five_second_bars, ib_time, parse_ib_time

if TYPE_CHECKING:
    from standins.tws.server import TwsServer

MINUTE_BARS = ("1 min", "1 mins")
DAY_BARS = ("1 day", "1 days")
HIST_WINDOW_S = 600.0  # IB: at most 60 historical requests per 10 minutes
HIST_MAX = 60
HIST_IDENTICAL_S = 15.0  # IB: identical requests at least 15 s apart


class BarRequests:
    """reqHistoricalData (1-min and daily TRADES, keepUpToDate), reqRealTimeBars, their cancels.

    ``pace`` enforces IB's historical-data pacing with the wall clock, so a
    client that ignores it finds out as it would against TWS.
    """

    def __init__(self, tws: TwsServer) -> None:
        self.tws = tws
        self._hist_times: deque[float] = deque()
        self._hist_last: dict[tuple[object, ...], float] = {}

    def historical(self, session: Session, f: p.Fields) -> None:
        req_id = f.integer("reqId")
        contract = p.read_contract(f)
        f.skip("includeExpired")
        end_text = f.text("endDateTime")
        bar_size = f.text("barSizeSetting")
        duration = f.text("durationStr")
        f.skip("useRTH")
        what = f.text("whatToShow")
        format_date = f.integer("formatDate", 1)
        keep_up = f.flag("keepUpToDate")
        symbol = contract.symbol or self.tws.symbols.get(contract.con_id, "")
        problem = None
        if symbol not in self.tws.con_ids:
            problem = (200, "No security definition has been found for the request")
        elif bar_size.strip() not in MINUTE_BARS + DAY_BARS:
            problem = (321, f"Error validating request:-'bar size' {bar_size!r}: 1 min or 1 day")
        elif what != "TRADES":
            problem = (321, f"Error validating request:-'whatToShow' {what!r}: TRADES only")
        elif keep_up and end_text:
            problem = (321, "Error validating request:-'keepUpToDate' needs an empty endDateTime")
        elif format_date not in (1, 2):
            problem = (321, f"Error validating request:-'formatDate' {format_date}")
        if problem is None and self.tws.pacing:
            problem = self._pace((symbol, end_text, bar_size, duration, what, keep_up))
        if problem is not None:
            self.tws.send(session, p.error(req_id, *problem))
            return
        now = self.tws.now()
        end = parse_ib_time(end_text, "endDateTime") if end_text else now
        start = self._duration_start(duration, end)
        daily = bar_size.strip() in DAY_BARS
        tape = self.tws.standin.tape
        first = start
        if daily:  # one bar per session, stamped at its New York midnight, once it closed
            closes = history.session_closes(self.tws.market.calendar)
            tape = history.daily_tape(tape, [symbol], closes, now)
            first = history.new_york_midnight(start)
        times = tape.times.get(symbol, [])
        bars = tape.bars.get(symbol, [])
        chosen = bars[bisect_left(times, first) : bisect_right(times, end - 1)]
        fields: list[object] = [17, req_id, ib_time(start), ib_time(end), len(chosen)]
        for bar in chosen:
            fields += bar_fields(bar, format_date, daily)
        self.tws.send(session, fields)
        if keep_up:
            session.keep_up[req_id] = (symbol, format_date)

    def _pace(self, key: tuple[object, ...]) -> tuple[int, str] | None:
        """IB's historical-data pacing, enforced so a client that ignores it finds out."""
        wall = time.monotonic()
        while self._hist_times and wall - self._hist_times[0] > HIST_WINDOW_S:
            self._hist_times.popleft()
        last = self._hist_last.get(key)
        if len(self._hist_times) >= HIST_MAX or (
            last is not None and wall - last < HIST_IDENTICAL_S
        ):
            self.tws.count("pacing_violations")
            return (162, "Historical Market Data Service error message:pacing violation")
        self._hist_times.append(wall)
        self._hist_last[key] = wall
        return None

    def _duration_start(self, duration: str, end: int) -> int:
        parts = duration.split()
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in ("S", "D", "W"):
            raise p.ProtocolError(20, "durationStr", duration, "is not '<n> S|D|W'")
        n, unit = int(parts[0]), parts[1]
        if unit == "S":
            return end - n * NS
        sessions = n * (5 if unit == "W" else 1)
        opens = [o for o, _ in self.tws.market.calendar if o < end]
        return opens[-sessions] if len(opens) >= sessions else (opens[0] if opens else end)

    def cancel_historical(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.keep_up.pop(f.integer("reqId"), None)

    def realtime(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        contract = p.read_contract(f)
        bar_size = f.integer("barSize")
        what = f.text("whatToShow")
        symbol = contract.symbol or self.tws.symbols.get(contract.con_id, "")
        if symbol not in self.tws.con_ids:
            self.tws.send(session, p.error(req_id, 200, "No security definition has been found"))
        elif bar_size != 5 or what != "TRADES":
            self.tws.send(
                session, p.error(req_id, 321, "Error validating request:-5 s TRADES only")
            )
        else:
            session.realtime[req_id] = symbol

    def cancel_realtime(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.realtime.pop(f.integer("reqId"), None)

    def push(self, bars: list[Bar]) -> None:
        """A minute ended: its 5-second bars and keepUpToDate updates to the subscribers."""
        for session in list(self.tws.sessions):
            for bar in bars:
                for req_id, symbol in session.realtime.items():
                    if symbol == bar.symbol:
                        for sub in five_second_bars(bar):
                            self.tws.send(session, [50, 3, req_id, *sub])
                for req_id, (symbol, fmt) in session.keep_up.items():
                    if symbol == bar.symbol:
                        date, o, h, low, c, v, wap, n = bar_fields(bar, fmt)
                        self.tws.send(session, [90, req_id, n, date, o, c, h, low, wap, v])
