"""The unmodified alpaca-py REST clients against the stand-in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
)

from core.money import price_to_decimal
from standins.market import load_market
from tests.standins.conftest import KEY, SECRET, state, wait_for


@pytest.fixture(scope="module")
def trading(server: dict[str, str]) -> TradingClient:
    return TradingClient(KEY, SECRET, paper=True, url_override=server["alpaca_rest"])


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return load_market("default", 3, 2, 4)


def test_account_is_the_scenarios_balance(trading: TradingClient) -> None:
    account = trading.get_account()
    assert account.status.value == "ACTIVE"
    assert account.currency == "USD"
    assert Decimal(account.equity) > 0
    assert isinstance(account.cash, str) and isinstance(account.buying_power, str)


def test_clock_runs_simulated_time_inside_the_first_live_session(
    trading: TradingClient, market
) -> None:  # type: ignore[no-untyped-def]
    first = trading.get_clock()
    live_open = datetime.fromtimestamp(market.live_start_ns / 1e9, tz=UTC)
    assert first.is_open
    assert first.timestamp >= live_open
    assert first.next_close.astimezone(UTC).date() == live_open.date()
    second = wait_for(lambda: (c := trading.get_clock()).timestamp > first.timestamp and c)
    assert (second.timestamp - first.timestamp).total_seconds() > 0


def test_market_order_fills_against_a_published_bar(
    trading: TradingClient, server: dict[str, str]
) -> None:
    before = Decimal(trading.get_account().cash)
    order = trading.submit_order(
        MarketOrderRequest(symbol="AAPL", qty=10, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    assert uuid.UUID(str(order.id))
    assert order.status in (OrderStatus.ACCEPTED, OrderStatus.NEW)
    filled = wait_for(
        lambda: (o := trading.get_order_by_id(order.id)).status == OrderStatus.FILLED and o
    )
    assert Decimal(filled.filled_qty) == 10
    average = Decimal(filled.filled_avg_price)
    # The fill came from a bar on the tape: its price lies inside that minute's range.
    fill = next(f for f in state(server)["fills"] if f["order_id"] == str(order.id))
    minute = filled.filled_at.replace(second=0, microsecond=0)
    bars = requests.get(
        server["alpaca_rest"] + "/v2/stocks/AAPL/bars",
        params={
            "timeframe": "1Min",
            "start": minute.isoformat(),
            "limit": 1,
            "end": minute.isoformat(),
        },
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        timeout=5,
    ).json()["bars"]
    previous = requests.get(
        server["alpaca_rest"] + "/v2/stocks/AAPL/bars",
        params={
            "timeframe": "1Min",
            "end": minute.isoformat(),
            "sort": "desc",
            "limit": 1,
            "start": "2024-01-01",
        },
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        timeout=5,
    ).json()["bars"]
    candidates = bars + previous
    assert any(Decimal(str(b["l"])) <= average <= Decimal(str(b["h"])) for b in candidates)
    assert Decimal(fill["price"]) == average
    positions = {p.symbol: p for p in trading.get_all_positions()}
    assert Decimal(positions["AAPL"].qty) == 10
    assert Decimal(trading.get_account().cash) == before - 10 * average


def test_limit_order_replace_then_cancel(trading: TradingClient) -> None:
    order = trading.submit_order(
        LimitOrderRequest(
            symbol="MSFT", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.GTC, limit_price=1.0
        )
    )
    wait_for(lambda: trading.get_order_by_id(order.id).status == OrderStatus.NEW)
    new = trading.replace_order_by_id(order.id, ReplaceOrderRequest(qty=3, limit_price=1.5))
    assert str(new.replaces) == str(order.id)
    assert Decimal(new.qty) == 3 and Decimal(new.limit_price) == Decimal("1.5")
    old = trading.get_order_by_id(order.id)
    assert old.status == OrderStatus.REPLACED and str(old.replaced_by) == str(new.id)
    trading.cancel_order_by_id(new.id)
    assert trading.get_order_by_id(new.id).status == OrderStatus.CANCELED
    closed = {
        str(o.id) for o in trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED))
    }
    assert {str(order.id), str(new.id)} <= closed
    still_open = trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert str(new.id) not in {str(o.id) for o in still_open}
    with pytest.raises(APIError) as caught:
        trading.cancel_order_by_id(new.id)
    assert caught.value.status_code == 422
    assert caught.value.code == 42210000


def test_wrong_key_raises_api_error_401(server: dict[str, str]) -> None:
    client = TradingClient("nope", "wrong", paper=True, url_override=server["alpaca_rest"])
    with pytest.raises(APIError) as caught:
        client.get_account()
    assert caught.value.status_code == 401
    assert caught.value.code == 40110000
    data = StockHistoricalDataClient("nope", "wrong", url_override=server["alpaca_rest"])
    with pytest.raises(APIError) as caught:
        data.get_stock_bars(StockBarsRequest(symbol_or_symbols="AAPL", timeframe=TimeFrame.Minute))
    assert caught.value.status_code == 401


def test_unknown_order_is_404(trading: TradingClient) -> None:
    with pytest.raises(APIError) as caught:
        trading.get_order_by_id(uuid.UUID(int=12345))
    assert caught.value.status_code == 404
    assert caught.value.code == 40410000


@pytest.mark.parametrize(
    ("request_", "status"),
    [
        (
            MarketOrderRequest(
                symbol="ZZZZ", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            ),
            422,
        ),
        (
            MarketOrderRequest(
                symbol="AAPL", qty=1.5, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            ),
            422,
        ),
        (
            MarketOrderRequest(
                symbol="AAPL", qty=10**9, side=OrderSide.BUY, time_in_force=TimeInForce.DAY
            ),
            403,
        ),
        (
            MarketOrderRequest(
                symbol="NVDA", qty=1, side=OrderSide.SELL, time_in_force=TimeInForce.DAY
            ),
            403,
        ),
        (
            MarketOrderRequest(
                symbol="AAPL", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.FOK
            ),
            422,
        ),
    ],
    ids=["unknown-symbol", "fractional", "no-buying-power", "nothing-to-sell", "fok"],
)
def test_invalid_orders_are_refused_like_alpaca(
    trading: TradingClient, server: dict[str, str], request_: MarketOrderRequest, status: int
) -> None:
    before = len(state(server)["orders"])
    with pytest.raises(APIError) as caught:
        trading.submit_order(request_)
    assert caught.value.status_code == status
    assert caught.value.message
    assert len(state(server)["orders"]) == before  # nothing half-accepted


def test_history_bars_page_through_alpaca_py_and_match_the_market(
    server: dict[str, str], market
) -> None:  # type: ignore[no-untyped-def]
    client = StockHistoricalDataClient(KEY, SECRET, url_override=server["alpaca_rest"])
    first_day = market.sessions[0]
    start = datetime.fromtimestamp(first_day[0] / 1e9, tz=UTC)
    end = datetime.fromtimestamp((first_day[1] - 60 * 10**9) / 1e9, tz=UTC)
    barset = client.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Minute, start=start, end=end
        )
    )  # the server pages at 50 bars: alpaca-py follows next_page_token 16 times
    for symbol in ("AAPL", "MSFT"):
        got = barset.data[symbol]
        expected = [
            b
            for b in market.history
            if b.symbol == symbol and first_day[0] <= b.time_ns < first_day[1]
        ]
        assert len(got) == len(expected) == 390
        for mine, theirs in zip(got, expected, strict=True):
            assert int(mine.timestamp.timestamp()) * 10**9 == theirs.time_ns
            assert Decimal(str(mine.close)) == price_to_decimal(theirs.close)
            assert mine.volume == theirs.volume
    limited = client.get_stock_bars(
        StockBarsRequest(symbol_or_symbols="NVDA", timeframe=TimeFrame.Minute, start=start, limit=7)
    )
    assert len(limited.data["NVDA"]) == 7


def test_bars_never_come_from_the_future(server: dict[str, str], trading: TradingClient) -> None:
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    answer = requests.get(
        server["alpaca_rest"] + "/v2/stocks/AAPL/bars",
        params={
            "timeframe": "1Min",
            "start": "2024-01-01",
            "end": "2030-01-01",
            "sort": "desc",
            "limit": 1,
        },
        headers=headers,
        timeout=5,
    ).json()
    now = trading.get_clock().timestamp
    last = datetime.fromisoformat(answer["bars"][0]["t"].replace("Z", "+00:00"))
    assert (now - last).total_seconds() >= 60
    assert answer["symbol"] == "AAPL"


@pytest.mark.parametrize(
    "params",
    [
        {"symbols": "AAPL", "timeframe": "1Hour"},
        {"symbols": "AAPL", "timeframe": "1Min", "limit": "0"},
        {"symbols": "AAPL", "timeframe": "1Min", "start": "yesterday"},
        {"symbols": "AAPL", "timeframe": "1Min", "page_token": "%%%"},
        {"timeframe": "1Min"},
    ],
)
def test_bad_bar_queries_are_400_with_a_message(server: dict[str, str], params: dict) -> None:  # type: ignore[type-arg]
    answer = requests.get(
        server["alpaca_rest"] + "/v2/stocks/bars",
        params=params,
        headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["message"]


def test_state_matches_what_the_api_says(server: dict[str, str], trading: TradingClient) -> None:
    truth = state(server)
    api_orders = {
        str(o.id): o
        for o in trading.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500))
    }
    assert set(api_orders) == {o["id"] for o in truth["orders"]}
    for fill in truth["fills"]:
        assert uuid.UUID(fill["execution_id"])
    positions = {p.symbol: p.qty for p in trading.get_all_positions()}
    assert positions == {p["symbol"]: p["qty"] for p in truth["positions"]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, 40010000),
        (b"[1, 2]", 422, 40010001),
        (
            b'{"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "1", '
            b'"time_in_force": "day"}',
            422,
            40010001,
        ),
        (
            b'{"symbol": "AAPL", "side": "sideways", "type": "market", "qty": "1", '
            b'"time_in_force": "day"}',
            422,
            40010001,
        ),
        (
            b'{"symbol": "AAPL", "side": "buy", "type": "market", "qty": "-3", '
            b'"time_in_force": "day"}',
            422,
            40010001,
        ),
    ],
    ids=["malformed", "not-an-object", "limit-without-price", "bad-side", "negative-qty"],
)
def test_malformed_order_bodies_are_refused_and_counted(
    server: dict[str, str], body: bytes, status: int, code: int
) -> None:
    before = state(server)
    answer = requests.post(
        server["alpaca_rest"] + "/v2/orders",
        data=body,
        headers={
            "APCA-API-KEY-ID": KEY,
            "APCA-API-SECRET-KEY": SECRET,
            "Content-Type": "application/json",
        },
        timeout=5,
    )
    assert answer.status_code == status
    assert answer.json()["code"] == code and answer.json()["message"]
    after = state(server)
    assert len(after["orders"]) == len(before["orders"])
    counted = after["rejected_requests"] + after["faults"]["counters"].get("bad_requests", 0)
    assert (
        counted
        == before["rejected_requests"] + before["faults"]["counters"].get("bad_requests", 0) + 1
    )


def test_lookups_and_cancel_all_through_alpaca_py(trading: TradingClient) -> None:
    order = trading.submit_order(
        LimitOrderRequest(
            symbol="AMZN",
            qty=2,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=1.0,
            client_order_id="mine-42",
        )
    )
    assert str(trading.get_order_by_client_id("mine-42").id) == str(order.id)
    with pytest.raises(APIError) as caught:
        trading.submit_order(
            LimitOrderRequest(
                symbol="AMZN",
                qty=2,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                limit_price=1.0,
                client_order_id="mine-42",
            )
        )
    assert caught.value.status_code == 422  # client order ids are unique
    asset = trading.get_asset("AMZN")
    assert asset.symbol == "AMZN" and asset.tradable
    responses = trading.cancel_orders()
    assert str(order.id) in {str(r.id) for r in responses}
    assert all(r.status == 200 for r in responses)
    assert trading.get_order_by_id(order.id).status == OrderStatus.CANCELED
    bought = trading.submit_order(
        MarketOrderRequest(symbol="AMZN", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY)
    )
    wait_for(lambda: trading.get_order_by_id(bought.id).status == OrderStatus.FILLED)
    position = trading.get_open_position("AMZN")
    assert Decimal(position.qty) == 1 and position.side.value == "long"
    assert Decimal(position.cost_basis) == Decimal(position.avg_entry_price)
    with pytest.raises(APIError) as caught:
        trading.get_open_position("MSFT")
    assert caught.value.status_code == 404
