"""The seeded market generators: determinism, calendar, volume shape, and that
each regime's recorded ground truth is true of the bars it generated."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.atr import WilderATR
from core.errors import BadInput
from core.volume import is_spike
from sim.bars_csv import read_bars
from sim.market import (
    MINUTE_NS,
    REGIMES,
    UNIVERSE_30,
    Market,
    generate_market,
)

FIVE = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA")
MIXED = dict(zip(FIVE, REGIMES, strict=True))


@cache
def market(seed: int, regime: str, days: int = 10, symbols: tuple[str, ...] = FIVE) -> Market:
    return generate_market(seed, symbols, regime, days)


def series(m: Market, symbol: str) -> list:
    return [bar for bar in m.bars if bar.symbol == symbol]


def spikes(bars: list) -> list[bool]:
    """SPEC §4.4's spike flag for each bar against the bars before it."""
    n = total = total_sq = 0
    out = []
    for bar in bars:
        out.append(is_spike(n, total, total_sq, bar.volume))
        n, total, total_sq = n + 1, total + bar.volume, total_sq + bar.volume**2
    return out


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 10**9


# ----------------------------------------------------------------- determinism


def test_same_seed_same_bars_and_truth() -> None:
    a = generate_market(11, FIVE, MIXED, 3)
    b = generate_market(11, FIVE, MIXED, 3)
    assert a.bars == b.bars
    assert a.truth == b.truth


def test_different_seed_different_bars() -> None:
    assert generate_market(11, FIVE, MIXED, 2).bars != generate_market(12, FIVE, MIXED, 2).bars


def test_adding_a_symbol_leaves_the_others_unchanged() -> None:
    small = generate_market(5, ("AAPL", "NVDA"), {"AAPL": "range", "NVDA": "gaps"}, 3)
    big = generate_market(
        5,
        ("TSLA", "AAPL", "XYZ", "NVDA"),
        {"TSLA": "trend", "AAPL": "range", "XYZ": "flash_crash", "NVDA": "gaps"},
        3,
    )
    for symbol in ("AAPL", "NVDA"):
        assert series(small, symbol) == series(big, symbol)
        assert small.truth[symbol] == big.truth[symbol]


# ------------------------------------------------------------- shape and ticks


@pytest.mark.parametrize("regime", REGIMES)
def test_bars_are_sorted_complete_and_on_tick(regime: str) -> None:
    m = market(1, regime)
    ticks = {i.symbol: i.tick for i in m.instruments}
    minutes = [o + k * MINUTE_NS for o, c in m.sessions for k in range((c - o) // MINUTE_NS)]
    assert len(m.sessions) == 10
    assert len(m.bars) == len(minutes) * len(FIVE)
    expected = [(t, symbol) for t in minutes for symbol in FIVE]
    assert [(b.time_ns, b.symbol) for b in m.bars] == expected
    for bar in m.bars:
        tick = ticks[bar.symbol]
        assert 0 < bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high
        assert all(p % tick == 0 for p in (bar.open, bar.high, bar.low, bar.close))
        assert bar.volume > 0
    assert m.start_ns == m.sessions[0][0] and m.end_ns == m.sessions[-1][1]


def test_calendar_holidays_and_early_closes() -> None:
    m = generate_market(2, ("AAPL",), "trend", 5, start="2024-11-25")
    days = sorted({datetime.fromtimestamp(b.time_ns // 10**9, UTC).date() for b in m.bars})
    assert [d.isoformat() for d in days] == [
        "2024-11-25",
        "2024-11-26",
        "2024-11-27",
        "2024-11-29",  # Thanksgiving (28th) closed
        "2024-12-02",
    ]
    friday = [
        b
        for b in m.bars
        if b.time_ns >= utc("2024-11-29T00:00") and b.time_ns < utc("2024-11-30T00:00")
    ]
    assert m.sessions[3] == (utc("2024-11-29T14:30"), utc("2024-11-29T18:00"))  # 1 pm close
    assert len(friday) == 210
    assert friday[-1].time_ns == utc("2024-11-29T17:59")


def test_start_on_a_weekend_begins_at_the_next_session() -> None:
    m = generate_market(2, ("AAPL",), "range", 2, start="2024-01-06")
    assert m.sessions[0][0] == utc("2024-01-08T14:30")


def test_volume_is_u_shaped() -> None:
    for regime in REGIMES:
        m = market(3, regime)
        for symbol in FIVE:
            edge, middle = [], []
            for bar in series(m, symbol):
                open_ns, close_ns = next(s for s in m.sessions if s[0] <= bar.time_ns < s[1])
                since_open = (bar.time_ns - open_ns) // MINUTE_NS
                to_close = (close_ns - bar.time_ns) // MINUTE_NS
                if since_open < 30 or to_close <= 30:
                    edge.append(bar.volume)
                elif since_open >= 120 and to_close > 120:
                    middle.append(bar.volume)
            assert sum(edge) / len(edge) > 1.3 * sum(middle) / len(middle), (regime, symbol)


# ------------------------------------------------------------------ universe


def test_universe_30() -> None:
    symbols = [e.symbol for e in UNIVERSE_30]
    assert len(symbols) == 30 == len(set(symbols))
    assert symbols[:5] == list(FIVE)
    assert len({e.sector for e in UNIVERSE_30}) >= 10
    assert all(e.sector and Decimal(e.base_price) > 1 for e in UNIVERSE_30)
    m = generate_market(0, symbols, "trend", 1)
    assert [(i.symbol, i.sector) for i in m.instruments] == [
        (e.symbol, e.sector) for e in UNIVERSE_30
    ]
    first_open = {b.symbol: b.open for b in m.bars[:30]}
    for e in UNIVERSE_30:
        assert first_open[e.symbol] == int(Decimal(e.base_price) * 10**9)


def test_unknown_symbol_gets_a_seeded_base_price() -> None:
    a = generate_market(4, ("ZZZ",), "range", 1)
    b = generate_market(4, ("ZZZ",), "range", 1)
    assert a.instruments[0].sector == "Unknown"
    assert a.bars[0].open == b.bars[0].open
    assert a.bars[0].open != generate_market(5, ("ZZZ",), "range", 1).bars[0].open


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": -1}, "seed"),
        ({"days": 0}, "days"),
        ({"symbols": ("AAPL", "AAPL")}, "symbols"),
        ({"symbols": ()}, "symbols"),
        ({"regimes": "sideways"}, "regimes[AAPL]"),
        ({"regimes": {"MSFT": "range"}}, "regimes"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs: dict, field: str) -> None:
    args = {"seed": 1, "symbols": ("AAPL",), "regimes": "range", "days": 2} | kwargs
    with pytest.raises(BadInput) as err:
        generate_market(**args)
    assert err.value.field == field


# -------------------------------------------------------------------- truths


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_range_truth(seed: int) -> None:
    m = market(seed, "range")
    for symbol in FIVE:
        bars = series(m, symbol)
        facts = m.truth[symbol].facts
        floor, ceiling = facts["floor"], facts["ceiling"]
        assert min(b.low for b in bars) == floor and max(b.high for b in bars) == ceiling
        touched = [b.low == floor or b.high == ceiling for b in bars]
        assert sum(touched) == facts["touches"] >= 2
        # Touches close back inside; both edges are touched by the time it is established.
        for bar, touch in zip(bars, touched, strict=True):
            if touch:
                assert floor < bar.close < ceiling
        established = facts["established_ns"]
        before = [b for b, t in zip(bars, touched, strict=True) if t and b.time_ns <= established]
        assert any(b.low == floor for b in before) and any(b.high == ceiling for b in before)
        assert established < m.sessions[1][1]  # within the first session or two
        # Volume spikes are the touches and nothing else.
        assert spikes(bars) == touched
        # The edges are traded far less than the middle.
        middle = (floor + ceiling) // 2
        at_floor = sum(b.low <= floor for b in bars)
        at_middle = sum(b.low <= middle <= b.high for b in bars)
        assert at_floor * 10 < at_middle


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_capitulation_truth(seed: int) -> None:
    m = market(seed, "capitulation")
    for symbol in FIVE:
        bars = series(m, symbol)
        facts = m.truth[symbol].facts
        low, record = facts["low"], facts["record_volume"]
        by_time = {b.time_ns: i for i, b in enumerate(bars)}
        at_low = bars[by_time[facts["low_time_ns"]]]
        retest_i = by_time[facts["retest_time_ns"]]
        retest = bars[retest_i]
        assert min(b.low for b in bars) == low == at_low.low
        assert at_low.volume == record == max(b.volume for b in bars)
        assert sum(b.volume == record for b in bars) == 1
        # The sell-off: lower closes all the way from its start to the low.
        start_i = by_time[facts["selloff_start_ns"]]
        closes = [b.close for b in bars[start_i : by_time[facts["low_time_ns"]]]]
        assert closes == sorted(closes, reverse=True) and closes[0] > closes[-1]
        assert (bars[start_i - 1].close - low) * 100 >= 5 * bars[start_i - 1].close
        # A rebound, then the retest: within one granularity (here: to the cent)
        # of the low, closing back above it on a spike against all history.
        between = bars[by_time[facts["low_time_ns"]] + 1 : retest_i]
        assert max(b.high for b in between) > low + (bars[start_i - 1].close - low) // 3
        assert all(b.low > low for b in between)
        atr = WilderATR()
        for bar in bars[:retest_i]:
            atr.update(bar.high, bar.low, bar.close)
        assert retest.low - low <= atr.value
        assert retest.close > low
        assert spikes(bars)[retest_i] and retest.volume < record


@pytest.mark.parametrize("seed", [0, 1])
def test_trend_truth(seed: int) -> None:
    m = market(seed, "trend")
    for symbol in FIVE:
        facts = m.truth[symbol].facts
        drift, start, band = facts["drift_per_day"], facts["start"], facts["band"]
        for bar in series(m, symbol):
            k = next(i for i, s in enumerate(m.sessions) if s[0] <= bar.time_ns < s[1])
            open_ns, close_ns = m.sessions[k]
            line = start + drift * (k + (bar.time_ns - open_ns) / (close_ns - open_ns))
            assert abs(bar.close - line) <= band + 10**7  # one cent of rounding
        assert abs(drift) * 10 > 2 * band  # the drift dominates the noise over the run
        bars = series(m, symbol)
        assert (bars[-1].close - bars[0].open) * drift > 0


@pytest.mark.parametrize("seed", [0, 1])
def test_gaps_truth(seed: int) -> None:
    m = market(seed, "gaps")
    for symbol in FIVE:
        bars = series(m, symbol)
        facts = m.truth[symbol].facts
        opens = {s[0] for s in m.sessions[1:]}
        gaps = 0
        for prev, bar in itertools.pairwise(bars):
            if bar.time_ns not in opens:
                assert bar.open == prev.close  # no gaps inside a session
                continue
            if abs(bar.open - prev.close) >= facts["min_gap"]:
                gaps += 1
                assert not bar.low <= prev.close <= bar.high  # the gap is not filled at once
            else:
                assert bar.open == prev.close
        assert gaps == facts["gap_count"] >= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flash_crash_truth(seed: int) -> None:
    m = market(seed, "flash_crash")
    for symbol in FIVE:
        facts = m.truth[symbol].facts
        bars = series(m, symbol)
        crash_at = facts["crash_time_ns"]
        session = next(s for s in m.sessions if s[0] <= crash_at < s[1])
        today = [b for b in bars if session[0] <= b.time_ns < session[1]]
        low_bar = next(b for b in today if b.time_ns == crash_at)
        assert low_bar.low == facts["crash_low"] == min(b.low for b in today)
        assert sum(b.low == facts["crash_low"] for b in today) == 1
        pre, low = facts["pre_crash"], facts["crash_low"]
        assert (pre - low) * 100 >= 5 * pre  # several percent
        assert 0 < crash_at - facts["crash_start_ns"] <= 10 * MINUTE_NS  # in minutes
        recovered = next(b for b in today if b.time_ns == facts["recovered_ns"])
        assert crash_at < recovered.time_ns < session[1]  # recovered within the session
        assert recovered.close >= pre - (pre - low) // 10
        assert recovered.time_ns - crash_at <= 60 * MINUTE_NS


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    regime=st.sampled_from(REGIMES),
    days=st.integers(1, 3),
    start=st.dates(min_value=datetime(2019, 1, 1).date(), max_value=datetime(2025, 6, 1).date()),
)
def test_any_seed_and_start_gives_valid_bars_and_true_facts(seed, regime, days, start) -> None:
    if regime == "capitulation" and days == 1:
        days = 2
    m = generate_market(seed, ("AAPL", "KO"), regime, days, start=start.isoformat())
    assert len(m.sessions) == days
    assert m.sessions[0][0] >= utc(start.isoformat() + "T00:00")
    for symbol in ("AAPL", "KO"):
        bars = series(m, symbol)
        assert all(a.time_ns < b.time_ns for a, b in itertools.pairwise(bars))
        facts = m.truth[symbol].facts
        if regime == "range":
            assert min(b.low for b in bars) == facts["floor"]
            assert max(b.high for b in bars) == facts["ceiling"]
        elif regime == "capitulation":
            assert min(b.low for b in bars) == facts["low"]
            assert max(b.volume for b in bars) == facts["record_volume"]


# ------------------------------------------------------------- replay sample

SAMPLE = Path(__file__).resolve().parents[2] / "sim" / "data" / "sample_daily.csv"


def test_sample_daily_bars_load_cleanly_in_date_order() -> None:
    with SAMPLE.open(newline="", encoding="utf-8") as stream:
        loaded = read_bars(stream)
    assert loaded.rejected == []
    bars = loaded.bars
    assert {b.symbol: 0 for b in bars}.keys() == {"MSFT", "GOOG"}
    assert sum(b.symbol == "MSFT" for b in bars) == 65
    assert sum(b.symbol == "GOOG" for b in bars) == 1047
    assert [b.time_ns for b in bars] == sorted(b.time_ns for b in bars)
    # Spot checks against matplotlib's goog.npz: its first and last rows.
    goog = [b for b in bars if b.symbol == "GOOG"]
    assert (goog[0].time_ns, goog[0].open, goog[0].close) == (
        utc("2004-08-19T00:00"),
        100 * 10**9,
        100_340_000_000,
    )
    assert (goog[-1].high, goog[-1].volume) == (394_500_000_000, 7_784_800)
