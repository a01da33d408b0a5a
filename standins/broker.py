"""The stand-in broker: Alpaca's order book, positions and account over the venue simulator.

A pure state machine (every call takes the market time it happens at). Orders
go to ``sim.venues.VenueSimulator`` — the simulator's own fill model — and
fill against the bars as the market publishes them, so the stand-in's fills are
as honest as a simulation run's. Results are Alpaca JSON bodies and the
trade-update events the trading stream broadcasts.

Account model: a cash account (multiplier 1, no shorting), as a fresh Alpaca
account without margin is: buys need buying power, sells need shares.

The records it keeps are in ``standins.broker_records``; how a request's fields are
read and refused is ``standins.broker_checks``; this module is the book itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.commands import (
    CancelOrder,
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
)
from core.errors import BadInput
from core.events import Bar
from core.money import price_from_decimal, round_half_even_div
from sim.faults import NO_FAULTS
from sim.venues import VenueSimulator
from standins import wire
from standins.broker_checks import RequestChecks
from standins.broker_records import ApiError, Order, Position, cost_after, ratio
from standins.market import SessionMarket

MINUTE_NS = 60 * 10**9


@dataclass
class Broker:
    market: SessionMarket
    seed: int
    cash: int = 0
    orders: dict[str, Order] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)  # CSD/CSW, oldest first
    last_price: dict[str, int] = field(default_factory=dict)
    previous_close: dict[str, int] = field(default_factory=dict)
    rejected_requests: int = 0

    def __post_init__(self) -> None:
        self.cash = self.market.balance
        self._checks = RequestChecks(self)
        closes = {close for _, close in self.market.sessions}
        self._venue = VenueSimulator(self.seed, self.market.instruments, NO_FAULTS, closes)
        self._order_seq = 0
        self._exec_seq = 0
        self._cancel_seq = 0
        self._by_client_id: dict[str, str] = {}
        self._assets = {
            s: wire.stable_uuid("asset", i) for i, s in enumerate(sorted(self.market.instruments))
        }
        self._opens = {open_ns for open_ns, _ in self.market.sessions}
        for bar in self.market.history:
            self.last_price[bar.symbol] = bar.close
        for bar in self.market.live:  # no history (--history-days 0): the first open prices
            self.last_price.setdefault(bar.symbol, bar.open)  # buying-power checks only
        self.previous_close = dict(self.last_price)

    # ------------------------------------------------------------ orders
    def submit(self, now_ns: int, body: object) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """POST /v2/orders: the new order's JSON and the trade updates it caused."""
        if not isinstance(body, dict):
            raise self._checks.invalid("request body must be a JSON object")
        symbol = str(body.get("symbol") or "").upper()
        if not symbol:
            raise self._checks.invalid("symbol is required")
        instrument = self.market.instruments.get(symbol)
        if instrument is None:
            raise self._checks.invalid(f'asset "{symbol}" not found')
        side = self._checks.enum(Side, body.get("side"), "side")
        order_type = self._checks.order_type(body.get("type", body.get("order_type")))
        tif = self._checks.tif(body.get("time_in_force"))
        if body.get("notional") is not None:
            raise self._checks.invalid(
                "notional orders are not supported by the stand-in; send qty"
            )
        qty = self._checks.quantity(body.get("qty"), instrument.qty_decimals)
        limit = self._checks.limit(order_type, body.get("limit_price"))
        stop = self._checks.stop(order_type, body.get("stop_price"))
        client_id = body.get("client_order_id")
        if client_id is None:
            client_id = wire.stable_uuid("client-order", self._order_seq + 1)
        client_id = str(client_id)
        if len(client_id) > 128:
            raise self._checks.invalid("client_order_id must be at most 128 characters")
        if client_id in self._by_client_id:
            raise self._checks.invalid("client_order_id must be unique")
        self._check_affordable(symbol, side, qty, limit)
        self._order_seq += 1
        order = Order(
            id=wire.stable_uuid("order", self._order_seq),
            client_order_id=client_id,
            symbol=symbol,
            side=side,
            qty=qty,
            order_type=order_type,
            tif=tif,
            limit_price=limit,
            submitted_ns=now_ns,
            updated_ns=now_ns,
            stop_price=stop,
        )
        self.orders[order.id] = order
        self._by_client_id[client_id] = order.id
        answer = self.order_json(order)  # the POST answers before the venue acks: "accepted"
        command = SubmitOrder(
            now_ns, order.id, None, symbol, side, qty, order_type, limit, tif, None, None,
            stop_price=stop,
        )  # fmt: skip
        events = self._apply(self._venue.receive(now_ns, command))
        return answer, events

    def cancel(self, now_ns: int, order_id: str) -> list[dict[str, Any]]:
        order = self.find(order_id)
        if not order.open:
            raise ApiError(422, wire.STATE_CONFLICT, f'order is already in "{order.status}" state')
        self._cancel_seq += 1
        command = CancelOrder(
            now_ns, f"cancel-{self._cancel_seq}", order.id, order.symbol, order.side
        )
        return self._apply(self._venue.receive(now_ns, command))

    def replace(
        self, now_ns: int, order_id: str, body: object
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """PATCH /v2/orders/{id}: a new order takes the old one's place."""
        old = self.find(order_id)
        if not isinstance(body, dict):
            raise self._checks.invalid("request body must be a JSON object")
        if not old.open:
            raise ApiError(422, wire.STATE_CONFLICT, f'order is already in "{old.status}" state')
        instrument = self.market.instruments[old.symbol]
        qty = old.leaves
        if body.get("qty") is not None:
            qty = self._checks.quantity(body["qty"], instrument.qty_decimals)
        limit = old.limit_price
        if body.get("limit_price") is not None:
            if old.order_type is not OrderType.LIMIT:
                raise self._checks.invalid("limit_price is only for limit orders")
            limit = self._checks.limit(OrderType.LIMIT, body["limit_price"])
        stop = old.stop_price
        if body.get("stop_price") is not None:
            if old.order_type is not OrderType.STOP:
                raise self._checks.invalid("stop_price is only for stop orders")
            stop = self._checks.stop(OrderType.STOP, body["stop_price"])
        tif = self._checks.tif(body["time_in_force"]) if body.get("time_in_force") else old.tif
        client_id = str(
            body.get("client_order_id") or wire.stable_uuid("client-order", self._order_seq + 1)
        )
        if client_id in self._by_client_id:
            raise self._checks.invalid("client_order_id must be unique")
        self._order_seq += 1
        new = Order(
            id=wire.stable_uuid("order", self._order_seq),
            client_order_id=client_id,
            symbol=old.symbol,
            side=old.side,
            qty=qty,
            order_type=old.order_type,
            tif=tif,
            limit_price=limit,
            submitted_ns=now_ns,
            updated_ns=now_ns,
            prior_filled=old.prior_filled + old.filled_qty,
            replaces=old.id,
            stop_price=stop,
        )
        command = ReplaceOrder(
            now_ns, new.id, old.id, old.symbol, old.side, new.prior_filled + qty, limit, stop
        )
        reports = self._venue.receive(now_ns, command)
        if any(isinstance(r, OrderUpdate) and r.status is OrdStatus.REJECTED for _, r in reports):
            raise ApiError(422, wire.STATE_CONFLICT, "order cannot be replaced")
        self.orders[new.id] = new
        self._by_client_id[client_id] = new.id
        old.status, old.replaced_ns, old.replaced_by, old.updated_ns = (
            "replaced",
            now_ns,
            new.id,
            now_ns,
        )
        new.status = "new"
        events = [
            self._event("replaced", old, now_ns),
            self._event("new", new, now_ns),
        ]
        return self.order_json(new), events

    def asset_id(self, symbol: str) -> str:
        return self._assets[symbol]

    def find(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise ApiError(404, wire.NOT_FOUND, "order not found")
        return order

    def find_by_client_id(self, client_id: str) -> Order:
        order_id = self._by_client_id.get(client_id)
        if order_id is None:
            raise ApiError(404, wire.NOT_FOUND, "order not found")
        return self.orders[order_id]

    # -------------------------------------------------------- cash flows
    def cash_flow(self, now_ns: int, amount: object) -> dict[str, Any]:
        """A deposit (> 0) or withdrawal (< 0) of ``amount`` dollars: cash moves
        and a CSD/CSW activity is recorded, as Alpaca's transfers appear in the
        account activities. A withdrawal beyond the cash held is refused."""
        if isinstance(amount, bool) or not isinstance(amount, str | int):
            raise self._checks.invalid(f"cash_flow must be a decimal string, got {amount!r}")
        try:
            value = price_from_decimal(str(amount), "cash_flow")
        except BadInput:
            raise self._checks.invalid(f"cash_flow is not an amount: {amount!r}") from None
        if value == 0:
            raise self._checks.invalid("cash_flow must not be zero")
        if value < 0 and -value > self.cash:
            raise ApiError(
                403,
                wire.FORBIDDEN,
                f"insufficient cash for withdrawal of {wire.money(-value)}"
                f" (cash {wire.money(self.cash)})",
            )
        self.cash += value
        number = len(self.activities) + 1
        kind = "CSD" if value > 0 else "CSW"
        stamp = datetime.fromtimestamp(now_ns // 10**9, tz=UTC)
        millis = now_ns // 10**6 % 1000
        activity = {
            "id": f"{stamp:%Y%m%d%H%M%S}{millis:03d}::{wire.stable_uuid('activity', number)}",
            "account_id": wire.stable_uuid("account", 1),
            "activity_type": kind,
            "date": f"{stamp:%Y-%m-%d}",
            "net_amount": wire.money(value),
            "description": "deposit" if value > 0 else "withdrawal",
            "status": "executed",
            "symbol": None,
            "qty": None,
            "per_share_amount": None,
            "created_at": wire.rfc3339(now_ns),
            "_created_ns": now_ns,
        }
        self.activities.append(activity)
        return self._activity_json(activity)

    @staticmethod
    def _activity_json(activity: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in activity.items() if not k.startswith("_")}

    def list_activities(
        self, params: dict[str, str], activity_type: str | None = None
    ) -> list[dict[str, Any]]:
        """GET /v2/account/activities[/{type}]: activity_types, after, until,
        direction, page_size (≤ 100), page_token (the id the page continues from)."""
        if activity_type is not None:
            wanted = {activity_type.upper()}
        else:
            wanted = {t.strip().upper() for t in params.get("activity_types", "").split(",")}
            wanted.discard("")
        after = self._checks.time_param(params.get("after"), "after")
        until = self._checks.time_param(params.get("until"), "until")
        direction = params.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise self._checks.invalid(f"invalid direction {direction}")
        size = self._checks.int_param(params.get("page_size"), 100, "page_size", 1, 100)
        chosen = [
            a
            for a in self.activities
            if (not wanted or a["activity_type"] in wanted)
            and (after is None or a["_created_ns"] > after)
            and (until is None or a["_created_ns"] <= until)
        ]
        if direction == "desc":
            chosen.reverse()
        token = params.get("page_token")
        if token:
            ids = [a["id"] for a in chosen]
            if token not in ids:
                raise self._checks.invalid(f"invalid page_token {token!r}")
            chosen = chosen[ids.index(token) + 1 :]
        return [self._activity_json(a) for a in chosen[:size]]

    # -------------------------------------------------------------- bars
    def on_bar(self, bar: Bar) -> list[dict[str, Any]]:
        """A bar was published: resting orders trade against it."""
        if bar.time_ns in self._opens:
            self.previous_close[bar.symbol] = self.last_price.get(bar.symbol, bar.open)
        self.last_price[bar.symbol] = bar.close
        return self._apply(self._venue.match(bar, bar.time_ns + MINUTE_NS))

    def _apply(self, reports: list[tuple[int, Fill | OrderUpdate]]) -> list[dict[str, Any]]:
        events = []
        for time_ns, report in sorted(reports, key=lambda r: r[0]):
            if isinstance(report, Fill):
                events.append(self._fill(time_ns, report))
                continue
            order = self.orders.get(report.client_order_id)
            if order is None:  # a reply to a cancel request id: only rejections come so
                continue
            event = self._status(order, report, time_ns)
            if event is not None:
                events.append(event)
        return events

    def _status(self, order: Order, update: OrderUpdate, time_ns: int) -> dict[str, Any] | None:
        if update.status is OrdStatus.NEW and order.status == "accepted":
            order.status, order.updated_ns = "new", time_ns
            return self._event("new", order, time_ns)
        if update.status is OrdStatus.REJECTED and order.status == "accepted":
            order.status, order.failed_ns, order.updated_ns = "rejected", time_ns, time_ns
            order.reject_reason = update.reason
            return self._event("rejected", order, time_ns)
        if update.status is OrdStatus.CANCELED and order.open:
            order.status, order.canceled_ns, order.updated_ns = "canceled", time_ns, time_ns
            return self._event("canceled", order, time_ns)
        if update.status is OrdStatus.EXPIRED and order.open:
            order.status, order.expired_ns, order.updated_ns = "expired", time_ns, time_ns
            return self._event("expired", order, time_ns)
        return None

    def _fill(self, time_ns: int, fill: Fill) -> dict[str, Any]:
        order = self.orders[fill.client_order_id]
        order.filled_qty += fill.quantity
        order.notional += fill.quantity * fill.price
        order.updated_ns = time_ns
        if order.filled_qty >= order.qty:
            order.status, order.filled_ns = "filled", time_ns
        else:
            order.status = "partially_filled"
        position = self.positions.setdefault(order.symbol, Position())
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        # Signed average cost: a sell that opens or adds to a short (a margin
        # account, the TWS stand-in's book) once divided by a negative quantity
        # and raised mid-publish, leaving the order filled and the position not.
        position.cost = cost_after(position.qty, position.cost, signed, fill.price)
        position.qty += signed
        if fill.side is Side.BUY:
            self.cash -= fill.quantity * fill.price + fill.fee
        else:
            self.cash += fill.quantity * fill.price - fill.fee
        self._exec_seq += 1
        execution_id = wire.stable_uuid("execution", self._exec_seq)
        record = {
            "execution_id": execution_id,
            "venue_exec_id": fill.exec_id,
            "order_id": order.id,
            "client_order_id": order.client_order_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "qty": str(fill.quantity),
            "price": wire.money(fill.price),
            "timestamp": wire.rfc3339(time_ns),
        }
        self.fills.append(record)
        event = "fill" if order.status == "filled" else "partial_fill"
        body = self._event(event, order, time_ns)
        body.update(
            execution_id=execution_id,
            price=wire.money(fill.price),
            qty=str(fill.quantity),
            position_qty=str(position.qty),
        )
        return body

    # ---------------------------------------------------------- answers
    def order_json(self, order: Order) -> dict[str, Any]:
        def at(ns: int | None) -> str | None:
            return None if ns is None else wire.rfc3339(ns)

        average = (
            wire.money(round_half_even_div(order.notional, order.filled_qty))
            if order.filled_qty
            else None
        )
        return {
            "id": order.id,
            "client_order_id": order.client_order_id,
            "created_at": at(order.submitted_ns),
            "updated_at": at(order.updated_ns),
            "submitted_at": at(order.submitted_ns),
            "filled_at": at(order.filled_ns),
            "expired_at": at(order.expired_ns),
            "canceled_at": at(order.canceled_ns),
            "failed_at": at(order.failed_ns),
            "replaced_at": at(order.replaced_ns),
            "replaced_by": order.replaced_by,
            "replaces": order.replaces,
            "asset_id": self._assets[order.symbol],
            "symbol": order.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(order.qty),
            "filled_qty": str(order.filled_qty),
            "filled_avg_price": average,
            "order_class": "simple",
            "order_type": order.order_type.value,
            "type": order.order_type.value,
            "side": order.side.value,
            "position_intent": "buy_to_open" if order.side is Side.BUY else "sell_to_close",
            "time_in_force": order.tif.value,
            "limit_price": None if order.limit_price is None else wire.money(order.limit_price),
            "stop_price": None if order.stop_price is None else wire.money(order.stop_price),
            "status": order.status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
        }

    def _event(self, event: str, order: Order, time_ns: int) -> dict[str, Any]:
        return {
            "event": event,
            "timestamp": wire.rfc3339(time_ns),
            "order": self.order_json(order),
        }

    def list_orders(self, params: dict[str, str]) -> list[dict[str, Any]]:
        """GET /v2/orders with status, limit, after, until, direction, side, symbols."""
        status = params.get("status", "open")
        if status not in ("open", "closed", "all"):
            raise self._checks.invalid(f"invalid status {status}")
        limit = self._checks.int_param(params.get("limit"), 50, "limit", 1, 500)
        direction = params.get("direction", "desc")
        if direction not in ("asc", "desc"):
            raise self._checks.invalid(f"invalid direction {direction}")
        symbols = {s.strip().upper() for s in params.get("symbols", "").split(",") if s.strip()}
        side = params.get("side")
        after = self._checks.time_param(params.get("after"), "after")
        until = self._checks.time_param(params.get("until"), "until")
        chosen = []
        for order in self.orders.values():
            if (status == "open" and not order.open) or (status == "closed" and order.open):
                continue
            if (symbols and order.symbol not in symbols) or (side and order.side.value != side):
                continue
            if after is not None and order.submitted_ns <= after:
                continue
            if until is not None and order.submitted_ns > until:
                continue
            chosen.append(order)
        chosen.sort(key=lambda o: o.submitted_ns, reverse=direction == "desc")
        return [self.order_json(o) for o in chosen[:limit]]

    def positions_json(self) -> list[dict[str, Any]]:
        return [self.position_json(s) for s in sorted(self.positions) if self.positions[s].qty]

    def position_json(self, symbol: str) -> dict[str, Any]:
        position = self.positions.get(symbol.upper())
        if position is None or position.qty == 0:
            raise ApiError(404, wire.NOT_FOUND, "position does not exist")
        symbol = symbol.upper()
        price = self.last_price.get(symbol, 0)
        value = position.qty * price
        pnl = value - position.cost
        lastday = self.previous_close.get(symbol, price)
        intraday = position.qty * (price - lastday)
        return {
            "asset_id": self._assets[symbol],
            "symbol": symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": False,
            "qty": str(position.qty),
            "qty_available": str(position.qty - self._reserved_sell(symbol)),
            "avg_entry_price": wire.money(
                round_half_even_div(abs(position.cost), abs(position.qty))
            ),
            "side": "long" if position.qty > 0 else "short",
            "market_value": wire.money(value),
            "cost_basis": wire.money(position.cost),
            "unrealized_pl": wire.money(pnl),
            "unrealized_plpc": ratio(pnl, position.cost),
            "unrealized_intraday_pl": wire.money(intraday),
            "unrealized_intraday_plpc": ratio(intraday, position.qty * lastday),
            "current_price": wire.money(price),
            "lastday_price": wire.money(lastday),
            "change_today": ratio(price - lastday, lastday),
        }

    def equity(self) -> int:
        held = sum(p.qty * self.last_price.get(s, 0) for s, p in self.positions.items())
        return self.cash + held

    def buying_power(self) -> int:
        return self.cash - self._reserved_buy()

    def account_json(self) -> dict[str, Any]:
        long_value = sum(p.qty * self.last_price.get(s, 0) for s, p in self.positions.items())
        equity = self.equity()
        power = wire.money(self.buying_power())
        return {
            "id": wire.stable_uuid("account", 1),
            "account_number": "PA3STANDIN01",
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "buying_power": power,
            "regt_buying_power": power,
            "daytrading_buying_power": "0",
            "effective_buying_power": power,
            "non_marginable_buying_power": power,
            "options_buying_power": power,
            "bod_dtbp": "0",
            "cash": wire.money(self.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "portfolio_value": wire.money(equity),
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": wire.rfc3339(self.market.sessions[0][0] - 86_400 * 10**9),
            "trade_suspended_by_user": False,
            "multiplier": "1",
            "shorting_enabled": False,
            "equity": wire.money(equity),
            "last_equity": wire.money(self.market.balance),
            "long_market_value": wire.money(long_value),
            "short_market_value": "0",
            "position_market_value": wire.money(long_value),
            "initial_margin": "0",
            "maintenance_margin": "0",
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
            "options_approved_level": 0,
            "options_trading_level": 0,
        }

    def state_json(self) -> dict[str, Any]:
        """The stand-in's own truth, for tests to compare the gateway's records with."""
        return {
            "orders": [self.order_json(o) for o in self.orders.values()],
            "fills": list(self.fills),
            "activities": [self._activity_json(a) for a in self.activities],
            "positions": self.positions_json(),
            "account": self.account_json(),
        }

    def _check_affordable(self, symbol: str, side: Side, qty: int, limit: int | None) -> None:
        if side is Side.BUY:
            price = limit if limit is not None else self.last_price.get(symbol, 0)
            if qty * price > self.buying_power():
                raise ApiError(403, wire.FORBIDDEN, "insufficient buying power")
            return
        held = self.positions.get(symbol, Position()).qty
        available = held - self._reserved_sell(symbol)
        if qty > available:
            raise ApiError(
                403,
                wire.FORBIDDEN,
                f"insufficient qty available for order (requested: {qty}, available: {available})",
            )

    def _reserved_buy(self) -> int:
        total = 0
        for order in self.orders.values():
            if order.open and order.side is Side.BUY:
                price = order.limit_price or self.last_price.get(order.symbol, 0)
                total += order.leaves * price
        return total

    def _reserved_sell(self, symbol: str) -> int:
        return sum(
            o.leaves
            for o in self.orders.values()
            if o.open and o.side is Side.SELL and o.symbol == symbol
        )
