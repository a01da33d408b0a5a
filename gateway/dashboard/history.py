"""What the page shows that the engine does not keep: recent bars per symbol,
the fills tape, finished parents' TCA, the last actionable signal of each
agent, operator commands, alerts, and the equity curve.

It watches the input pipeline (``InputPipeline.observers``): during the
start-up replay it sees the whole journal, so the equity curve covers all of
the database's history, not just this process's life; afterwards it sees
every live input. Each observation is a few appends (the hot path pays for
nothing else); new items are also handed to ``publish`` for the live pages.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from core.cells import as_int
from core.commands import Fill, Record
from core.engine import Engine
from core.events import Bar
from core.money import format_price

MINUTE_NS = 60 * 10**9
BARS_KEPT = 600  # per symbol: a session and a half of minute bars
FILLS_KEPT = 500
TCA_KEPT = 200
ALERTS_KEPT = 300
OPERATOR_KEPT = 100
EQUITY_KEPT = 400_000  # minute points: about four years of sessions
CHART_POINTS = 2_000

Publish = Callable[[str, object], None]


def _ms(time_ns: int) -> int:
    return time_ns // 1_000_000


def _price(value: object) -> str | None:
    """Decimal text of nano-units (TCA's averages are floats of nano-units)."""
    if isinstance(value, float) and value == value:
        value = round(value)
    return format_price(value) if isinstance(value, int) else None


class History:
    def __init__(self, symbols: list[str], engine: Engine) -> None:
        self.engine = engine
        self.bars: dict[str, deque[Bar]] = {s: deque(maxlen=BARS_KEPT) for s in symbols}
        self.new_bars: list[Bar] = []  # since the last state tick (live only)
        self.fills: deque[dict[str, Any]] = deque(maxlen=FILLS_KEPT)
        self.tca: deque[dict[str, Any]] = deque(maxlen=TCA_KEPT)
        self.alerts: deque[dict[str, Any]] = deque(maxlen=ALERTS_KEPT)
        self.operator: deque[dict[str, Any]] = deque(maxlen=OPERATOR_KEPT)
        self.signals: dict[str, dict[str, Any]] = {}  # symbol → last actionable signal
        self.equity: deque[tuple[int, int]] = deque(maxlen=EQUITY_KEPT)  # (minute ns, nano)
        self.live_from_ns: int | None = None  # first live input: the session curve starts
        self.dirty = True
        self.publish: Publish | None = None

    # ---------------------------------------------------------- observe
    def on_input(self, event: object, commands: list[object], live: bool) -> None:
        if live and self.live_from_ns is None:
            self.live_from_ns = getattr(event, "time_ns", 0)
        self.dirty = True
        time_ns = getattr(event, "time_ns", 0)
        if type(event) is Bar:  # kept as is: made into chart rows only when sent
            time_ns += MINUTE_NS
            series = self.bars.get(event.symbol)
            if series is not None:
                series.append(event)
                if live:
                    self.new_bars.append(event)
        filled = False
        for command in commands:
            if type(command) is Record:
                self._record(command, event, live)
                filled = filled or command.kind == "fill"
        self._sample_equity(time_ns, force=filled)

    def _record(self, record: Record, event: object, live: bool) -> None:
        kind = record.kind
        payload = record.payload
        if kind == "fill":
            fill = self.fill_row(payload, event.time_ns if type(event) is Fill else record.time_ns)
            self.fills.append(fill)
            if live and self.publish is not None:
                self.publish("fill", fill)
        elif kind == "signal":
            self.signals[str(payload["symbol"])] = {
                "signal": payload["signal"],
                "reason": payload.get("reason"),
                "time": _ms(as_int(payload["time_ns"])),
                "stop": _price(payload.get("stop")),
            }
        elif kind == "tca":
            row = self.tca_row(payload, record.time_ns)
            self.tca.append(row)
            if live and self.publish is not None:
                self.publish("tca", row)
        elif kind == "operator":
            row = {"time": _ms(record.time_ns), **payload}
            self.operator.append(row)

    def on_alert(self, time_ns: int, level: str, kind: str, text: str) -> None:
        """An alert as it happens (``Alerts.listeners``)."""
        row = {"time": _ms(time_ns), "level": level, "kind": kind, "text": text}
        self.alerts.append(row)
        if self.publish is not None:
            self.publish("alert", row)

    def load_alerts(self, rows: list[tuple[int, str, str, str]]) -> None:
        """The database's last alerts, oldest first (before any live one)."""
        for time_ns, level, kind, text in rows:
            self.alerts.append({"time": _ms(time_ns), "level": level, "kind": kind, "text": text})

    def _sample_equity(self, time_ns: int, *, force: bool = False) -> None:
        """One point per market minute: the equity after the minute's first
        input (and after each fill), refreshed by ``refresh_equity`` at every
        state tick. Valuing the book costs a pass over the positions, so the
        hot path pays for it once a minute, not once per bar of each symbol."""
        minute = time_ns - time_ns % MINUTE_NS
        points = self.equity
        if points and points[-1][0] >= minute:
            if force:
                points[-1] = (points[-1][0], self.engine.equity())
            return
        points.append((minute, self.engine.equity()))

    def refresh_equity(self) -> None:
        """The current minute's point is what equity is now (off the hot path)."""
        if self.equity:
            self.equity[-1] = (self.equity[-1][0], self.engine.equity())

    def take_new_bars(self) -> list[list[Any]]:
        """The bars since the last call, as ``[symbol, ms, o, h, l, c, volume]``."""
        bars, self.new_bars = self.new_bars, []
        return [[b.symbol, *_chart_row(b)] for b in bars[-5_000:]]

    # ------------------------------------------------------------ views
    @staticmethod
    def fill_row(payload: dict[str, object], time_ns: int) -> dict[str, Any]:
        return {
            "exec_id": payload["exec_id"],
            "time": _ms(time_ns),
            "symbol": payload["symbol"],
            "side": payload["side"],
            "quantity": payload["quantity"],
            "price": _price(payload["price"]),
            "fee": _price(payload.get("fee")),
            "position": payload["position"],
            "client_order_id": payload["client_order_id"],
            "parent_id": payload.get("parent_id"),
        }

    @staticmethod
    def tca_row(payload: dict[str, object], time_ns: int) -> dict[str, Any]:
        keys = (
            "parent_id",
            "symbol",
            "side",
            "algo",
            "decided",
            "filled",
            "arrival_slippage_bps",
            "vwap_performance_bps",
            "shortfall_bps",
            "fees_bps",
            "grade",
        )
        row: dict[str, Any] = {k: payload.get(k) for k in keys}
        row["time"] = _ms(time_ns)
        row["average_price"] = _price(payload.get("average_price"))
        return row

    def equity_curves(self) -> dict[str, list[list[float]]]:
        """``session``: since this process went live (minute points); ``history``:
        everything, thinned to at most ``CHART_POINTS`` points."""
        points = list(self.equity)
        start = self.live_from_ns
        session = [p for p in points if start is not None and p[0] >= start - MINUTE_NS]
        return {
            "session": [[_ms(t), e / 1e9] for t, e in _thin(session)],
            "history": [[_ms(t), e / 1e9] for t, e in _thin(points)],
        }

    def chart(self, symbol: str) -> list[list[float]]:
        """The symbol's recent bars as ``[ms, open, high, low, close, volume]``."""
        return [_chart_row(b) for b in self.bars.get(symbol, ())]


def _chart_row(bar: Bar) -> list[float]:
    return [
        _ms(bar.time_ns),
        bar.open / 1e9,
        bar.high / 1e9,
        bar.low / 1e9,
        bar.close / 1e9,
        bar.volume,
    ]


def _thin(points: list[tuple[int, int]], limit: int = CHART_POINTS) -> list[tuple[int, int]]:
    """Every n-th point, and always the last (the curve ends where equity is now)."""
    if len(points) <= limit:
        return points
    step = -(-len(points) // limit)
    thinned = points[::step]
    if thinned[-1] != points[-1]:
        thinned.append(points[-1])
    return thinned
