"""alpaca-py models ↔ core types, and malformed messages rejected with BadInput."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgpack
import pytest
from alpaca.data.models import Bar as AlpacaBar
from alpaca.trading.models import Order, Position, TradeUpdate

from core.commands import OrderType, OrdStatus, Side, SubmitOrder
from core.errors import BadInput
from gateway.brokers.alpaca import (
    AlpacaBroker,
    bar_from_model,
    bar_from_raw,
    order_from_model,
    position_quantity,
    to_ns,
    to_price,
    trade_event_from_model,
    trade_event_from_raw,
)
from gateway.brokers.base import TradeEvent

P = 10**9
T0 = datetime(2024, 1, 2, 14, 31, tzinfo=UTC)
T0_NS = 1704205860 * P


def order_json(**over: Any) -> dict[str, Any]:
    base = {
        "id": "7c8b5f0e-2b1c-4d8e-9a57-0c5d1f7e9a11",
        "client_order_id": "sv00aa11-AAPL-1",
        "created_at": "2024-01-02T14:31:00.000000Z",
        "updated_at": "2024-01-02T14:31:00.000000Z",
        "submitted_at": "2024-01-02T14:31:00.000000Z",
        "filled_at": None,
        "expired_at": None,
        "canceled_at": None,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "AAPL",
        "asset_class": "us_equity",
        "notional": None,
        "qty": "100",
        "filled_qty": "40",
        "filled_avg_price": "187.125",
        "order_class": "simple",
        "order_type": "market",
        "type": "market",
        "side": "buy",
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "status": "partially_filled",
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
    }
    base.update(over)
    return base


def test_price_conversion_is_exact_from_strings_and_float_reprs() -> None:
    assert to_price("187.125", "p") == 187_125_000_000
    assert to_price(0.1 + 0.2, "p") == 300_000_000  # repr 0.30000000000000004 → nearest nano
    assert to_price(183.78, "p") == 183_780_000_000
    with pytest.raises(BadInput) as info:
        to_price("NaN", "trade_update.price")
    assert info.value.field == "trade_update.price"
    with pytest.raises(BadInput):
        to_price("-1", "p")


def test_times_from_datetime_iso_and_msgpack_timestamp() -> None:
    assert to_ns(T0, "t") == T0_NS
    assert to_ns("2024-01-02T14:31:00Z", "t") == T0_NS
    assert to_ns(msgpack.Timestamp.from_unix_nano(T0_NS + 5_000), "t") == T0_NS + 5_000
    with pytest.raises(BadInput):
        to_ns("yesterday", "bar.t")


def test_bar_model_to_core_bar() -> None:
    model = AlpacaBar(
        "AAPL",
        {
            "t": T0,
            "o": 187.1,
            "h": 187.5,
            "l": 186.9,
            "c": 187.25,
            "v": 12000,
            "n": 55,
            "vw": 187.2,
        },
    )
    bar = bar_from_model(model)
    assert (bar.symbol, bar.time_ns, bar.open, bar.high, bar.low, bar.close, bar.volume) == (
        "AAPL",
        T0_NS,
        187_100_000_000,
        187_500_000_000,
        186_900_000_000,
        187_250_000_000,
        12000,
    )
    assert bar.trades == 55 and bar.vwap is None


def test_raw_stream_bar_with_msgpack_time() -> None:
    raw = {
        "T": "b",
        "S": "MSFT",
        "t": msgpack.Timestamp.from_unix_nano(T0_NS),
        "o": 370.0,
        "h": 371.0,
        "l": 369.5,
        "c": 370.5,
        "v": 900,
        "n": 10,
        "vw": 370.2,
    }
    bar = bar_from_raw("MSFT", raw)
    assert bar.time_ns == T0_NS and bar.close == 370_500_000_000


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"t": "2024-01-02T14:31:00Z", "o": 1, "h": 2, "l": 3, "c": 1.5, "v": 1}, "low"),
        ({"t": "2024-01-02T14:31:00Z", "o": 1, "h": 2, "l": 1, "c": 1.5, "v": -4}, "volume"),
        ({"t": "2024-01-02T14:31:00Z", "o": "x", "h": 2, "l": 1, "c": 1.5, "v": 4}, "bar"),
        ({"t": "later", "o": 1, "h": 2, "l": 1, "c": 1.5, "v": 4}, "bar.t"),
        ({"o": 1, "h": 2, "l": 1, "c": 1.5, "v": 4}, "bar"),
        ("not a dict", "bar"),
    ],
)
def test_malformed_bars_are_bad_input_naming_the_field(raw: Any, field: str) -> None:
    with pytest.raises(BadInput) as info:
        bar_from_raw("AAPL", raw)
    assert info.value.field == field


def test_order_model_to_broker_order() -> None:
    order = order_from_model(Order(**order_json()))
    assert order.broker_client_id == "sv00aa11-AAPL-1" and order.open
    assert (order.quantity, order.filled, order.status) == (100, 40, "partially_filled")
    assert order.filled_notional == 40 * 187_125_000_000
    done = order_from_model(Order(**order_json(status="canceled")))
    assert not done.open


def fill_update(**over: Any) -> dict[str, Any]:
    data = {
        "event": "partial_fill",
        "execution_id": "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "timestamp": "2024-01-02T14:31:05.250000Z",
        "price": "187.13",
        "qty": "40",
        "position_qty": "40",
        "order": order_json(),
    }
    data.update(over)
    return data


def test_trade_update_fill_maps_to_core_fill() -> None:
    event = trade_event_from_model(TradeUpdate(**fill_update()))
    assert event.fill is not None and event.update is None
    f = event.fill
    assert (f.client_order_id, f.exec_id, f.symbol, f.side, f.quantity, f.price) == (
        "sv00aa11-AAPL-1",
        "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
        "AAPL",
        Side.BUY,
        40,
        187_130_000_000,
    )
    assert f.time_ns == T0_NS + 5_250_000_000
    assert event.cum_filled == 40


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("new", OrdStatus.NEW),
        ("canceled", OrdStatus.CANCELED),
        ("expired", OrdStatus.EXPIRED),
        ("rejected", OrdStatus.REJECTED),
    ],
)
def test_status_events_map_to_order_updates(event: str, status: OrdStatus) -> None:
    mapped = trade_event_from_model(
        TradeUpdate(**fill_update(event=event, execution_id=None, price=None, qty=None))
    )
    assert mapped.fill is None and mapped.update is not None
    assert mapped.update.status is status and mapped.update.client_order_id == "sv00aa11-AAPL-1"


def test_request_answers_are_left_to_the_runtime() -> None:
    mapped = trade_event_from_model(
        TradeUpdate(**fill_update(event="replaced", execution_id=None, price=None, qty=None))
    )
    assert mapped.fill is None and mapped.update is None and mapped.event == "replaced"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"stream": "trade_updates"}, "trade_update"),
        ({"stream": "trade_updates", "data": {"event": "fill"}}, "trade_update"),
        (
            {"stream": "trade_updates", "data": fill_update(execution_id=None)},
            "trade_update.execution_id",
        ),
        ({"stream": "trade_updates", "data": fill_update(price="abc")}, "trade_update"),
        ({"stream": "trade_updates", "data": fill_update(qty="0")}, "trade_update.qty"),
    ],
)
def test_malformed_trade_updates_are_bad_input(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInput) as info:
        trade_event_from_raw(raw)
    assert info.value.field == field
    assert len(str(info.value)) < 400  # a clear, bounded log line


def test_position_sign_follows_side() -> None:
    def pos(qty: str, side: str) -> Position:
        return Position(
            asset_id="b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
            symbol="AAPL",
            exchange="NASDAQ",
            asset_class="us_equity",
            avg_entry_price="100",
            qty=qty,
            side=side,
            market_value="1",
            cost_basis="1",
            unrealized_pl="0",
            unrealized_plpc="0",
            unrealized_intraday_pl="0",
            unrealized_intraday_plpc="0",
            current_price="1",
            lastday_price="1",
            change_today="0",
        )

    assert position_quantity(pos("12", "long")) == 12
    assert position_quantity(pos("-12", "short")) == -12
    assert position_quantity(pos("12", "short")) == -12


def test_stream_handlers_reject_bad_messages_and_pass_good_ones() -> None:
    bars: list[object] = []
    trades: list[TradeEvent] = []
    bad: list[tuple[str, Exception]] = []

    async def on_bar(bar: object) -> None:
        bars.append(bar)

    async def on_trade(event: TradeEvent) -> None:
        trades.append(event)

    async def on_bad(what: str, exc: Exception) -> None:
        bad.append((what, exc))

    bar_handler, trade_handler = AlpacaBroker.handlers(on_bar, on_trade, on_bad)

    async def feed() -> None:
        await bar_handler(
            {
                "T": "b",
                "S": "AAPL",
                "t": msgpack.Timestamp.from_unix_nano(T0_NS),
                "o": 1.0,
                "h": 2.0,
                "l": 0.5,
                "c": 1.5,
                "v": 10,
            }
        )
        await bar_handler({"T": "b", "S": "AAPL", "t": "garbage"})
        await bar_handler(["not", "a", "dict"])
        await trade_handler({"stream": "trade_updates", "data": fill_update()})
        await trade_handler({"stream": "trade_updates", "data": {"event": 5}})

    asyncio.run(feed())
    assert len(bars) == 1 and len(trades) == 1
    assert [w for w, _ in bad] == ["bar", "bar", "trade_update"]
    assert all(isinstance(e, BadInput) for _, e in bad)


def test_submit_request_shape() -> None:
    # The request alpaca-py would send for a core market order (no network).
    from alpaca.trading.requests import MarketOrderRequest

    cmd = SubmitOrder(0, "AAPL-1", "P-AAPL-0", "AAPL", Side.SELL, 7, OrderType.MARKET)
    request = MarketOrderRequest(
        symbol=cmd.symbol,
        qty=cmd.quantity,
        side="sell",
        time_in_force="day",
        client_order_id="px-" + cmd.client_order_id,
    )
    body = request.to_request_fields()
    assert body["client_order_id"] == "px-AAPL-1" and body["qty"] == 7
