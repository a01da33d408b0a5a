"""The stand-ins' pure parts: simulated clock, bar paging, broker accounting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Bar
from core.instruments import CENT, Instrument
from standins.broker import ApiError, Broker
from standins.market import SessionMarket
from standins.simclock import SimClock
from standins.tape import BadPageToken, Tape, decode_token, encode_token

NS = 10**9
MIN = 60 * NS
OPEN1, CLOSE1 = 1_000 * MIN, 1_390 * MIN
OPEN2, CLOSE2 = 2_440 * MIN, 2_830 * MIN
CALENDAR = ((OPEN1, CLOSE1), (OPEN2, CLOSE2))


def test_clock_runs_speed_times_faster_than_the_wall() -> None:
    clock = SimClock(OPEN1, 60.0, CALENDAR, start_monotonic=100.0)
    assert clock.now(100.0) == OPEN1
    assert clock.now(101.0) == OPEN1 + MIN  # a minute bar per second at speed 60
    reading = clock.reading(102.5)
    assert reading.is_open and reading.now_ns == OPEN1 + 150 * NS
    assert reading.next_close_ns == CLOSE1 and reading.next_open_ns == OPEN2


def test_a_held_clock_stands_still_until_released_then_runs_from_there() -> None:
    """``python -m standins --hold``: however long the client takes to start, no live
    minute passes before the test releases the market."""
    clock = SimClock(OPEN1, 60.0, CALENDAR, start_monotonic=0.0)
    clock.hold(0.0)
    assert clock.held and clock.now(0.0) == clock.now(500.0) == OPEN1
    clock.release(500.0)
    assert not clock.held
    assert clock.now(501.0) == OPEN1 + 60 * 10**9  # one real second = one market minute


def test_clock_stays_closed_for_overnight_seconds_then_jumps_to_the_next_open() -> None:
    clock = SimClock(OPEN1, 60.0, CALENDAR, start_monotonic=0.0, overnight_s=2.0)
    at_close = 390.0  # real seconds to play the session
    closed = clock.reading(at_close + 1.0)
    assert not closed.is_open and closed.now_ns == CLOSE1 + MIN
    assert closed.next_open_ns == OPEN2 and closed.next_close_ns == CLOSE2
    reopened = clock.reading(at_close + 2.5)
    assert reopened.is_open and reopened.now_ns == OPEN2 + 30 * NS
    assert clock.now(at_close + 2.4) >= reopened.now_ns  # never backwards


def test_clock_past_the_calendar_still_names_a_next_open() -> None:
    clock = SimClock(OPEN2, 60.0, CALENDAR, start_monotonic=0.0)
    reading = clock.reading(1_000.0)
    assert not reading.is_open
    assert reading.next_open_ns > reading.now_ns
    assert reading.next_close_ns > reading.next_open_ns


def _bars(symbols: list[str], minutes: int) -> list[Bar]:
    return [
        Bar(s, OPEN1 + m * MIN, 100 * CENT, 101 * CENT, 99 * CENT, 100 * CENT, 1_000 + m)
        for m in range(minutes)
        for s in symbols
    ]


@settings(max_examples=60, deadline=None)
@given(
    page=st.integers(1, 40),
    minutes=st.integers(0, 25),
    lo=st.integers(0, 30),
    width=st.integers(0, 30),
    descending=st.booleans(),
)
def test_paging_returns_every_bar_once_in_alpacas_order(
    page: int, minutes: int, lo: int, width: int, descending: bool
) -> None:
    tape = Tape()
    for bar in _bars(["MSFT", "AAPL", "NVDA"], minutes):
        tape.append(bar)
    start, end = OPEN1 + lo * MIN, OPEN1 + (lo + width) * MIN
    expected = [
        (s, t)
        for s in ("AAPL", "MSFT", "NVDA")
        for t in sorted(
            (b.time_ns for b in tape.bars.get(s, []) if start <= b.time_ns <= end),
            reverse=descending,
        )
    ]
    got: list[tuple[str, int]] = []
    token = None
    for _ in range(200):
        chunk, token = tape.page(["NVDA", "AAPL", "MSFT"], start, end, page, token, descending)
        assert sum(len(v) for v in chunk.values()) <= page
        got.extend((s, b.time_ns) for s, bars in chunk.items() for b in bars)
        if token is None:
            break
    assert got == expected


def test_page_tokens_round_trip_and_garbage_is_refused() -> None:
    assert decode_token(encode_token("BRK.B", 123)) == ("BRK.B", 123)
    for junk in ("%%%", "bm9waXBl", ""):
        with pytest.raises(BadPageToken):
            decode_token(junk)


def _market(balance_dollars: int = 100_000) -> SessionMarket:
    instruments = {s: Instrument(s) for s in ("AAPL", "MSFT")}
    history = tuple(_bars(["AAPL", "MSFT"], 1))
    return SessionMarket(
        scenario="unit",
        instruments=instruments,
        history=history,
        live=(),
        sessions=CALENDAR,
        live_start_ns=OPEN2,
        balance=balance_dollars * 10**9,
        calendar=CALENDAR,
    )


def _bar(symbol: str, minute: int, low: int, high: int, volume: int) -> Bar:
    mid = (low + high) // 2
    return Bar(
        symbol, OPEN2 + minute * MIN, mid * CENT, high * CENT, low * CENT, mid * CENT, volume
    )


actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.sampled_from(["AAPL", "MSFT"]),
            st.sampled_from(["buy", "sell"]),
            st.integers(1, 400),
            st.one_of(st.none(), st.integers(90, 110)),
            st.sampled_from(["day", "gtc", "ioc"]),
        ),
        st.tuples(
            st.just("bar"),
            st.sampled_from(["AAPL", "MSFT"]),
            st.integers(85, 105),
            st.integers(1, 15),
            st.integers(0, 2_000),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
        st.tuples(st.just("replace"), st.integers(0, 30), st.integers(1, 300)),
    ),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(script=actions)
def test_broker_books_balance_whatever_happens(script: list[tuple]) -> None:  # type: ignore[type-arg]
    broker = Broker(_market(), seed=5)
    minute = 0
    ids: list[str] = []
    for step in script:
        now = OPEN2 + minute * MIN + 1
        try:
            if step[0] == "order":
                _, symbol, side, qty, limit, tif = step
                body = {
                    "symbol": symbol,
                    "side": side,
                    "qty": str(qty),
                    "time_in_force": tif,
                    "type": "market" if limit is None else "limit",
                }
                if limit is not None:
                    body["limit_price"] = str(limit)
                answer, _ = broker.submit(now, body)
                ids.append(answer["id"])
            elif step[0] == "bar":
                _, symbol, low, spread, volume = step
                broker.on_bar(_bar(symbol, minute, low, low + spread, volume))
                minute += 1
            elif step[0] == "cancel" and ids:
                broker.cancel(now, ids[step[1] % len(ids)])
            elif step[0] == "replace" and ids:
                answer, _ = broker.replace(now, ids[step[1] % len(ids)], {"qty": str(step[2])})
                ids.append(answer["id"])
        except ApiError as exc:
            assert exc.status in (403, 404, 422) and exc.body["message"]
    # Cash moves by exactly the fills; positions are the fills' net; nothing oversold.
    spent = sum(
        Decimal(f["qty"]) * Decimal(f["price"]) * (1 if f["side"] == "buy" else -1)
        for f in broker.fills
    )
    assert Decimal(broker.account_json()["cash"]) == Decimal(100_000) - spent
    for symbol in ("AAPL", "MSFT"):
        net = sum(
            int(f["qty"]) * (1 if f["side"] == "buy" else -1)
            for f in broker.fills
            if f["symbol"] == symbol
        )
        held = broker.positions.get(symbol)
        assert net == (held.qty if held else 0) >= 0
    for order in broker.orders.values():
        assert 0 <= order.filled_qty <= order.qty
        json = broker.order_json(order)
        assert Decimal(json["filled_qty"]) == order.filled_qty
    assert len({f["execution_id"] for f in broker.fills}) == len(broker.fills)


def test_a_pre_open_lead_is_played_not_skipped() -> None:
    clock = SimClock(OPEN2 - 30 * MIN, 60.0, CALENDAR, start_monotonic=0.0, overnight_s=2.0)
    before = clock.reading(10.0)
    assert not before.is_open and before.now_ns == OPEN2 - 20 * MIN
    assert before.next_open_ns == OPEN2
    assert clock.reading(31.0).is_open


def test_a_large_order_fills_in_parts_capped_by_bar_volume() -> None:
    broker = Broker(_market(), seed=1)
    answer, events = broker.submit(
        OPEN2 + 1,
        {"symbol": "AAPL", "side": "buy", "qty": "100", "type": "market", "time_in_force": "gtc"},
    )
    assert answer["status"] == "accepted" and [e["event"] for e in events] == ["new"]
    first = broker.on_bar(_bar("AAPL", 0, 95, 105, 160))  # a quarter of 160 = 40 shares
    second = broker.on_bar(_bar("AAPL", 1, 95, 105, 160))
    third = broker.on_bar(_bar("AAPL", 2, 95, 105, 160))
    events = first + second + third
    assert [e["event"] for e in events] == ["partial_fill", "partial_fill", "fill"]
    assert [e["qty"] for e in events] == ["40", "40", "20"]
    assert [e["position_qty"] for e in events] == ["40", "80", "100"]
    order = broker.order_json(broker.find(answer["id"]))
    assert order["status"] == "filled" and order["filled_qty"] == "100"
    assert broker.on_bar(_bar("AAPL", 3, 95, 105, 160)) == []


def test_sells_beyond_the_position_and_buys_beyond_cash_are_refused() -> None:
    broker = Broker(_market(balance_dollars=10), seed=1)
    with pytest.raises(ApiError) as caught:
        broker.submit(
            OPEN2,
            {
                "symbol": "AAPL",
                "side": "buy",
                "qty": "11",
                "type": "market",
                "time_in_force": "day",
            },
        )  # $1 each, $10 of cash
    assert caught.value.status == 403
    with pytest.raises(ApiError) as caught:
        broker.submit(
            OPEN2,
            {
                "symbol": "AAPL",
                "side": "sell",
                "qty": "1",
                "type": "market",
                "time_in_force": "day",
            },
        )
    assert caught.value.status == 403 and "available: 0" in caught.value.body["message"]
    assert broker.orders == {}
