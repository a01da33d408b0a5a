"""A whole accelerated session: the clock closes, DAY orders expire, the next day opens."""

from __future__ import annotations

from datetime import UTC

from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import LimitOrderRequest

from tests.standins.conftest import BASE_ARGS, KEY, SECRET, running_server, wait_for


def test_a_trading_day_runs_in_seconds_and_the_gateway_can_follow_it() -> None:
    with running_server(
        *BASE_ARGS, "--speed", "6000", "--overnight", "1", "--balance", "250000.50"
    ) as endpoints:
        client = TradingClient(KEY, SECRET, paper=True, url_override=endpoints["alpaca_rest"])
        data = StockHistoricalDataClient(KEY, SECRET, url_override=endpoints["alpaca_rest"])
        assert client.get_account().cash == "250000.5"
        opened = client.get_clock()
        assert opened.is_open
        day_order = client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.DAY,
                limit_price=1.0,
            )
        )
        gtc_order = client.submit_order(
            LimitOrderRequest(
                symbol="AAPL",
                qty=1,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.GTC,
                limit_price=1.0,
            )
        )
        closed = wait_for(lambda: not (c := client.get_clock()).is_open and c, timeout=15)
        assert closed.timestamp >= opened.next_close
        assert closed.next_open > closed.timestamp
        expired = wait_for(
            lambda: (o := client.get_order_by_id(day_order.id)).status == OrderStatus.EXPIRED and o
        )
        assert expired.expired_at is not None
        assert client.get_order_by_id(gtc_order.id).status == OrderStatus.NEW  # GTC survives
        reopened = wait_for(lambda: (c := client.get_clock()).is_open and c, timeout=10)
        assert reopened.timestamp.astimezone(UTC).date() > opened.timestamp.astimezone(UTC).date()
        # The new session's bars reach the tape once their minutes end.
        start = closed.next_open
        bars = wait_for(
            lambda: data.get_stock_bars(
                StockBarsRequest(symbol_or_symbols="MSFT", timeframe=TimeFrame.Minute, start=start)
            ).data.get("MSFT"),
            timeout=10,
        )
        assert bars[0].timestamp == start.astimezone(UTC)
