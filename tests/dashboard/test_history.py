"""The dashboard's history in process: bars kept per symbol and handed out as
chart rows, one equity point per market minute that ends where equity is now,
the session curve starting at the first live input."""

from __future__ import annotations

from core.events import Bar
from gateway.dashboard.history import BARS_KEPT, MINUTE_NS, History

D = 10**9


class FakeEngine:
    def __init__(self) -> None:
        self.value = 100 * D
        self.asked = 0

    def equity(self) -> int:
        self.asked += 1
        return self.value


def _bar(symbol: str, minute: int, close: int = 10) -> Bar:
    return Bar(
        symbol, minute * MINUTE_NS, close * D, (close + 1) * D, (close - 1) * D, close * D, 7
    )


def test_bars_become_chart_rows_and_only_live_ones_are_new() -> None:
    history = History(["AAA", "BBB"], FakeEngine())  # type: ignore[arg-type]
    history.on_input(_bar("AAA", 0), [], False)
    history.on_input(_bar("AAA", 1, 12), [], True)
    history.on_input(_bar("ZZZ", 1), [], True)  # not in the universe: ignored
    assert history.chart("AAA") == [
        [0, 10.0, 11.0, 9.0, 10.0, 7],
        [60_000, 12.0, 13.0, 11.0, 12.0, 7],
    ]
    assert history.chart("BBB") == []
    assert history.take_new_bars() == [["AAA", 60_000, 12.0, 13.0, 11.0, 12.0, 7]]
    assert history.take_new_bars() == []
    for minute in range(BARS_KEPT + 10):
        history.on_input(_bar("BBB", minute), [], False)
    assert len(history.chart("BBB")) == BARS_KEPT


def test_equity_is_valued_once_a_minute_and_refreshed_off_the_hot_path() -> None:
    engine = FakeEngine()
    history = History(["A", "B", "C"], engine)  # type: ignore[arg-type]
    for minute in range(4):
        for symbol in "ABC":
            history.on_input(_bar(symbol, minute), [], minute > 2)
            engine.value += D
    assert engine.asked == 4  # one valuation per market minute, not per bar
    engine.value = 250 * D
    history.refresh_equity()
    curves = history.equity_curves()
    assert curves["history"][-1][1] == 250.0  # the curve ends where equity is now
    assert [p[0] for p in curves["history"]] == [60_000, 120_000, 180_000, 240_000]
    # The session curve starts a minute before the first live input (from the
    # equity the process went live with), not at the start of the history.
    assert [p[0] for p in curves["session"]] == [120_000, 180_000, 240_000]
