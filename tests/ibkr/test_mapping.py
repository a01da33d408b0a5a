"""Pure pieces: the pacer, minute aggregation, IB hours, order and fill mapping, the wire codec."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ib_async import Contract, Execution, Fill, MarketOrder, Order, Stock, Trade
from ib_async.client import Client
from ib_async.objects import CommissionReport
from ib_async.order import OrderStatus

from core.commands import OrderType, Side, SubmitOrder, TimeInForce
from core.errors import BadInput
from core.events import Bar
from gateway.brokers.ibkr.mapping import (
    algo_params,
    broker_order,
    fill_event,
    ib_order,
    market_clock,
    parse_liquid_hours,
    to_price,
)
from gateway.brokers.ibkr.pacing import HistoricalPacer, MinuteAggregator
from standins.tws import protocol as p
from standins.tws.book import commission
from standins.tws.values import five_second_bars

# ------------------------------------------------------------------- pacer


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_pacer_holds_the_61st_request_and_identical_ones() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    for i in range(60):
        assert pacer.wait_for(("r", i), f"S{i % 20}") == 0
        pacer.record(("r", i), f"S{i % 20}")
    assert pacer.wait_for(("r", 60), "S99") == 600.0
    clock.t = 5.0
    assert pacer.wait_for(("r", 0), "S0") == 595.0
    fresh = HistoricalPacer(clock=clock)
    fresh.record(("same",), "AAPL")
    clock.t = 10.0
    assert fresh.wait_for(("same",), "AAPL") == pytest.approx(10.0)  # 15 s after the first
    for i in range(6):
        fresh.record(("other", i), "AAPL")
    assert fresh.wait_for(("sixth",), "AAPL") == pytest.approx(2.0)  # 7th in 2 s


def test_pacer_acquire_sleeps_the_wait() -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock, max_requests=2, window_s=10.0)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.t += seconds

    async def three() -> None:
        for i in range(3):
            await pacer.acquire(("k", i), "AAPL", sleep)

    asyncio.run(three())
    assert slept == [10.0] and pacer.waited_s == 10.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 3), st.integers(0, 2)),
        min_size=1,
        max_size=150,
    )
)
def test_paced_schedules_never_break_ibs_rules(requests: list[tuple[int, int, int]]) -> None:
    clock = FakeClock()
    pacer = HistoricalPacer(clock=clock)
    sent: list[tuple[float, tuple[int, ...], int]] = []
    for gap, key, contract in requests:
        clock.t += gap
        while (wait := pacer.wait_for((key, contract), str(contract))) > 0:
            clock.t += wait
        pacer.record((key, contract), str(contract))
        sent.append((clock.t, (key, contract), contract))
    for i, (t, key, contract) in enumerate(sent):
        before = sent[: i + 1]
        assert sum(1 for s in before if s[0] > t - 600) <= 60
        assert sum(1 for s in before if s[2] == contract and s[0] > t - 2) <= 6
        same = [s[0] for s in sent[:i] if s[1] == key]
        assert not same or t - same[-1] >= 15


# ---------------------------------------------------------- minute bars


@st.composite
def bars(draw: st.DrawFn) -> Bar:
    cents = st.integers(1, 10**7)
    a, b, c, d = (draw(cents) for _ in range(4))
    low, high = min(a, b, c, d), max(a, b, c, d)
    return Bar(
        symbol="AAPL",
        time_ns=draw(st.integers(1_600_000_000 // 60, 1_800_000_000 // 60)) * 60 * 10**9,
        open=c * 10**7,
        high=high * 10**7,
        low=low * 10**7,
        close=d * 10**7,
        volume=draw(st.integers(0, 10**9)),
    )


def _feed(aggregator: MinuteAggregator, parts: list[list[object]]) -> Bar | None:
    out = None
    for t, o, h, low, c, v, _wap, n in parts:
        out = aggregator.add(
            int(t),  # type: ignore[call-overload]
            to_price(o, "o"),
            to_price(h, "h"),
            to_price(low, "l"),
            to_price(c, "c"),
            int(v),  # type: ignore[call-overload]
            int(n),  # type: ignore[call-overload]
        )
    return out


@settings(max_examples=200, deadline=None)
@given(bars())
def test_twelve_real_time_bars_aggregate_back_to_their_minute(bar: Bar) -> None:
    parts = five_second_bars(bar)
    assert len(parts) == 12
    minute = _feed(MinuteAggregator("AAPL"), parts)
    assert minute is not None
    assert (minute.time_ns, minute.open, minute.high, minute.low, minute.close, minute.volume) == (
        bar.time_ns,
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.volume,
    )


@settings(max_examples=50, deadline=None)
@given(bars(), st.integers(0, 11))
def test_a_minute_missing_a_five_second_bar_is_dropped_not_guessed(bar: Bar, lost: int) -> None:
    parts = five_second_bars(bar)
    aggregator = MinuteAggregator("AAPL")
    assert _feed(aggregator, parts[:lost] + parts[lost + 1 :]) is None
    later = Bar("AAPL", bar.time_ns + 60 * 10**9, bar.open, bar.high, bar.low, bar.close, 5)
    assert _feed(aggregator, five_second_bars(later)) is not None  # the next minute is fine
    assert aggregator.incomplete == 1


# -------------------------------------------------------------- IB hours


def test_liquid_hours_give_the_clock() -> None:
    text = "20240104:0930-20240104:1600;20240105:0930-20240105:1600;20240106:CLOSED"
    sessions = parse_liquid_hours(text, "US/Eastern")
    assert len(sessions) == 2
    open_ns = int(datetime(2024, 1, 4, 14, 30, tzinfo=UTC).timestamp()) * 10**9
    inside = market_clock(open_ns + 60 * 10**9, sessions)
    assert inside.is_open and inside.next_close_ns == sessions[0][1]
    assert inside.next_open_ns == sessions[1][0]
    evening = market_clock(sessions[0][1] + 1, sessions)
    assert not evening.is_open and evening.next_close_ns == sessions[1][1]
    with pytest.raises(BadInput, match="liquidHours"):
        parse_liquid_hours("20240104:0930-nonsense", "US/Eastern")
    with pytest.raises(BadInput, match="timeZoneId"):
        parse_liquid_hours(text, "Mars/Olympus")
    with pytest.raises(BadInput, match="no future session"):
        market_clock(sessions[1][1] + 1, sessions)


# ----------------------------------------------------------- order mapping


def test_engine_algorithms_map_to_ib_algos() -> None:
    assert algo_params("adaptive", OrderType.MARKET) == (
        "Adaptive",
        [("adaptivePriority", "Urgent")],
    )
    assert algo_params("adaptive", OrderType.LIMIT)[1] == [("adaptivePriority", "Normal")]
    assert algo_params("Adaptive:Patient", OrderType.LIMIT)[1] == [("adaptivePriority", "Patient")]
    with pytest.raises(BadInput, match="algo"):
        algo_params("adaptive:whenever", OrderType.LIMIT)
    vwap, params = algo_params("vwap", OrderType.MARKET, "10:35:00 US/Eastern")
    assert vwap == "Vwap" and dict(params)["endTime"] == "10:35:00 US/Eastern"
    assert algo_params("twap", OrderType.MARKET)[0] == "Twap"
    for engine_only in ("pov", "iceberg", "is", "market"):
        assert algo_params(engine_only, OrderType.MARKET) == ("", [])


def test_submit_orders_become_ib_orders() -> None:
    command = SubmitOrder(
        0,
        "c1",
        None,
        "AAPL",
        Side.SELL,
        40,
        OrderType.LIMIT,
        187_250_000_000,
        TimeInForce.GTC,
        None,
        10,
        "adaptive",
    )
    order = ib_order(command, "ns-c1", "DU1")
    assert (order.action, order.totalQuantity, order.orderType) == ("SELL", 40, "LMT")
    assert order.lmtPrice == 187.25 and order.tif == "GTC" and order.minQty == 10
    assert (order.orderRef, order.account, order.algoStrategy) == ("ns-c1", "DU1", "Adaptive")
    plain = ib_order(command, "ns-c1", "DU1", use_algos=False)
    assert plain.algoStrategy == ""


def _fill(**changes: object) -> Fill:
    base = {
        "execId": "e.1",
        "time": datetime(2024, 1, 4, 14, 31, tzinfo=UTC),
        "side": "BOT",
        "shares": 10.0,
        "price": 185.34,
        "permId": 7,
        "orderId": 3,
        "cumQty": 10.0,
        "orderRef": "ns-1",
    }
    base.update(changes)
    return Fill(Stock("AAPL", "SMART", "USD"), Execution(**base), CommissionReport(), base["time"])  # type: ignore[arg-type]


def test_executions_map_to_fills() -> None:
    event = fill_event(None, _fill(), 1_000_000_000)
    fill = event.fill
    assert fill is not None and event.broker_client_id == "ns-1" and event.cum_filled == 10
    assert (fill.exec_id, fill.side, fill.quantity, fill.price, fill.fee) == (
        "e.1",
        Side.BUY,
        10,
        185_340_000_000,
        1_000_000_000,
    )
    assert fill.time_ns == int(datetime(2024, 1, 4, 14, 31, tzinfo=UTC).timestamp()) * 10**9


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"side": "XXX"}, "execution.side"),
        ({"shares": 1.5}, "execution.shares"),
        ({"shares": 0.0}, "execution.shares"),
        ({"price": float("nan")}, "execution.price"),
        ({"price": 0.0}, "execution.price"),
        ({"price": 1.7976931348623157e308}, "execution.price"),
        ({"execId": ""}, "execution.execId"),
        ({"cumQty": 4.0}, "execution.cumQty"),
    ],
)
def test_unmappable_executions_are_bad_input(changes: dict[str, object], field: str) -> None:
    with pytest.raises(BadInput) as caught:
        fill_event(None, _fill(**changes), 0)
    assert caught.value.field == field


def test_broker_order_takes_filled_from_executions_and_statuses_runtime_words() -> None:
    order = MarketOrder("BUY", 20, orderRef="ns-9", permId=55)
    trade = Trade(Stock("AAPL", "SMART", "USD"), order, OrderStatus(status="Submitted"))
    trade.fills = [_fill(shares=5.0, price=10.0), _fill(execId="e.2", shares=3.0, price=11.0)]
    mapped = broker_order(trade)
    assert (mapped.filled, mapped.filled_notional) == (8, 5 * 10 * 10**9 + 3 * 11 * 10**9)
    assert (mapped.status, mapped.open, mapped.broker_order_id) == ("partially_filled", True, "55")
    trade.orderStatus.status = "Cancelled"
    assert broker_order(trade).status == "canceled"
    unacked = Trade(Contract(symbol="X"), Order(action="BUY", totalQuantity=1, orderRef="r"))
    unacked.orderStatus.status = "Cancelled"
    assert broker_order(unacked).status == "rejected"


# -------------------------------------------------------------- wire codec


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(
            st.text(
                st.characters(exclude_characters="\0", exclude_categories=("Cs",)), max_size=12
            ),
            max_size=8,
        ),
        max_size=6,
    ),
    st.lists(st.integers(1, 40), max_size=10),
)
def test_frames_survive_any_tcp_segmentation(messages: list[list[str]], cuts: list[int]) -> None:
    hello = b"v157..178"
    stream = b"API\0" + len(hello).to_bytes(4, "big") + hello
    stream += b"".join(p.frame(m) for m in messages)
    reader = p.FrameReader()
    out: list[list[str]] = []
    position = 0
    for cut in cuts:
        out += reader.feed(stream[position : position + cut])
        position += cut
    out += reader.feed(stream[position:])
    assert out == [["v157..178"], *messages]


def test_version_negotiation() -> None:
    assert p.negotiate("v157..178") == 178
    assert p.negotiate("v100..200 +PACEAPI") == 178
    for bad in ("v157..170", "v179..190", "hello"):
        with pytest.raises(p.ProtocolError):
            p.negotiate(bad)
    with pytest.raises(p.ProtocolError, match="prefix"):
        p.FrameReader().feed(b"GET / HTTP/1.1\r\n")


class _Capture:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.numMsgSent = 0

    def sendMsg(self, msg: bytes) -> None:  # ib_async calls it so
        self.sent.append(msg)


def _encoded_by_ib_async(contract: Contract, order: Order, order_id: int) -> list[str]:
    """What the unmodified ib_async client writes for this order at version 178."""
    client = Client(wrapper=None)
    client._serverVersion = 178
    client.connState = Client.CONNECTED
    capture = _Capture()
    client.conn = capture  # type: ignore[assignment]
    client.placeOrder(order_id, contract, order)
    body = capture.sent[-1][4:].decode()
    return body.split("\0")[:-1]


@settings(max_examples=80, deadline=None)
@given(
    action=st.sampled_from(["BUY", "SELL"]),
    quantity=st.integers(1, 10**6),
    limit_cents=st.none() | st.integers(1, 10**7),
    tif=st.sampled_from(["DAY", "GTC", "IOC"]),
    ref=st.text(st.characters(codec="ascii", exclude_characters="\0"), max_size=30),
    algo=st.sampled_from(["", "Adaptive", "Vwap", "Twap"]),
    order_id=st.integers(1, 2**31 - 2),  # 2**31 - 1 is IB's "unset" integer
)
def test_place_order_as_ib_async_writes_it_is_read_field_for_field(
    action: str,
    quantity: int,
    limit_cents: int | None,
    tif: str,
    ref: str,
    algo: str,
    order_id: int,
) -> None:
    order = Order(action=action, totalQuantity=quantity, tif=tif, orderRef=ref)
    if limit_cents is None:
        order.orderType = "MKT"
    else:
        order.orderType, order.lmtPrice = "LMT", limit_cents / 100
    if algo:
        from ib_async import TagValue

        order.algoStrategy = algo
        order.algoParams = [TagValue("adaptivePriority", "Normal"), TagValue("x", "1")]
    fields = _encoded_by_ib_async(Stock("AAPL", "SMART", "USD"), order, order_id)
    parsed = p.read_place_order(_after_message_id(fields))
    assert (parsed.order_id, parsed.action, parsed.tif, parsed.order_ref) == (
        order_id,
        action,
        tif,
        ref,
    )
    assert parsed.total_quantity == quantity
    assert parsed.order_type == order.orderType
    if limit_cents is not None:
        assert parsed.lmt_price == Decimal(limit_cents) / 100
    assert parsed.algo_strategy == algo
    assert parsed.algo_params == ([("adaptivePriority", "Normal"), ("x", "1")] if algo else [])
    assert parsed.contract.symbol == "AAPL" and parsed.transmit


def _after_message_id(fields: list[str]) -> p.Fields:
    reader = p.Fields(fields)
    assert reader.integer("msgId") == 3
    return reader


def test_truncated_requests_name_the_missing_field() -> None:
    with pytest.raises(p.ProtocolError, match="orderId"):
        p.read_place_order(_after_message_id(["3", "x"]))
    with pytest.raises(p.ProtocolError, match=r"contract\.secType"):
        p.read_place_order(_after_message_id(["3", "1", "0", "AAPL"]))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 10**5))
def test_commission_is_ibs_fixed_schedule(quantity: int, cents: int) -> None:
    price = cents * 10**7
    fee = commission(quantity, price)
    assert fee <= quantity * price // 100  # never above 1% of the value
    assert fee == max(quantity * 5_000_000, 10**9) or fee == quantity * price // 100


def test_average_cost_follows_longs_shorts_and_crossings() -> None:
    from standins.broker import cost_after

    assert cost_after(0, 0, 10, 100) == 1000  # open long
    assert cost_after(10, 1000, 10, 110) == 2100  # add
    assert cost_after(20, 2100, -5, 120) == 1575  # reduce: average 105 stays
    assert cost_after(15, 1575, -15, 90) == 0  # flat
    assert cost_after(0, 0, -10, 100) == -1000  # open short (received)
    assert cost_after(-10, -1000, 4, 90) == -600  # cover part: average 100 stays
    assert cost_after(-6, -600, 10, 95) == 4 * 95  # cross to long at the fill price
