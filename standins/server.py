"""The stand-in server: one aiohttp app on one local port, every protocol on it.

Routes (paths as the real services have them, so only the base URL changes):

* Alpaca trading REST  ``/v2/account``, ``/v2/account/activities[/{type}]`` (CSD/CSW
  transfers made through the control), ``/v2/clock``, ``/v2/orders[/{id}]``,
  ``/v2/orders:by_client_order_id``, ``/v2/positions[/{symbol}]``, ``/v2/assets/{symbol}``
* Alpaca market-data REST  ``/v2/stocks/bars``, ``/v2/stocks/{symbol}/bars``
* Alpaca market-data websocket  ``/v2/iex`` (also ``/v2/sip``, ``/v2/test``): msgpack
  when the client says ``Content-Type: application/msgpack`` (alpaca-py does), else JSON
* Alpaca trade-updates websocket  ``/stream`` (JSON in binary frames, as Alpaca sends)
* Telegram Bot API  ``/bot<token>/getMe``, ``/bot<token>/sendMessage`` (``standins.telegram``)
* Control  ``POST /_control`` (faults; ``{"cash_flow": "150000.00"}`` deposits, a
  negative amount withdraws), ``GET /_control/state`` (the stand-in's truth)

A publisher task advances simulated time and, as each minute ends, puts its
bars on the tape, trades resting orders against them, and pushes bars and
trade updates to the streams.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

from core.errors import BadInput
from core.events import Bar
from sim.timefmt import parse_time
from standins import history, wire
from standins.broker import ApiError, Broker
from standins.faults import BadControl, Faults
from standins.market import MINUTE_NS, SessionMarket
from standins.simclock import SimClock
from standins.tape import BadPageToken, Tape
from standins.telegram import TelegramStandIn

_NS = 10**9
DATA_FEEDS = ("iex", "sip", "test", "delayed_sip")
MAX_BARS_PAGE = 10_000  # Alpaca's own cap per request
_DATA_CHANNELS = (
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "corrections",
    "cancelErrors",
)


@dataclass(frozen=True)
class Options:
    key: str = "test"
    secret: str = "test"
    telegram_token: str = "123456:test-token"
    speed: float = 60.0
    overnight_s: float = 2.0
    bars_page_max: int = MAX_BARS_PAGE
    seed: int = 1
    pre_open_minutes: int = 0
    hold: bool = False  # market time stays at its start until /_control {"action": "release"}


@dataclass(eq=False)
class StreamClient:
    """One websocket connection to a stream."""

    ws: web.WebSocketResponse
    transport: Any
    binary_msgpack: bool = False
    authenticated: bool = False
    listening: bool = False
    subscriptions: dict[str, set[str]] = field(default_factory=dict)
    frames: int = 0


class StandIn:
    def __init__(self, market: SessionMarket, options: Options, faults: Faults) -> None:
        self.market = market
        self.options = options
        self.faults = faults
        self.broker = Broker(market, options.seed)
        self.tape = Tape()
        for bar in market.history:
            self.tape.append(bar)
        self._next_live = 0
        self._live_minutes = 0
        self.clock: SimClock | None = None
        self.data_clients: set[StreamClient] = set()
        self.trading_clients: set[StreamClient] = set()
        self.telegram = TelegramStandIn(options.telegram_token, faults, self.market_now)
        self._publisher: asyncio.Task[None] | None = None
        # Other protocols on the same market (the TWS stand-in) hear each ended minute.
        self.minute_listeners: list[Callable[[list[Bar]], Awaitable[None]]] = []
        self.fix: Any = None  # the FIX prime-broker stand-in (standins.fix_pb), when started
        self.tws: Any = None  # the TWS API stand-in (standins.tws), when started

    # ---------------------------------------------------------- lifecycle
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        r = app.router
        r.add_get("/v2/account", self._rest(self._account))
        r.add_get("/v2/account/activities", self._rest(self._activities))
        r.add_get("/v2/account/activities/{activity_type}", self._rest(self._activities))
        r.add_get("/v2/clock", self._rest(self._clock))
        r.add_get("/v2/orders", self._rest(self._list_orders))
        r.add_post("/v2/orders", self._rest(self._submit))
        r.add_delete("/v2/orders", self._rest(self._cancel_all))
        r.add_get("/v2/orders:by_client_order_id", self._rest(self._by_client_id))
        r.add_get("/v2/orders/{id}", self._rest(self._get_order))
        r.add_patch("/v2/orders/{id}", self._rest(self._replace))
        r.add_delete("/v2/orders/{id}", self._rest(self._cancel))
        r.add_get("/v2/positions", self._rest(self._positions))
        r.add_get("/v2/positions/{symbol}", self._rest(self._position))
        r.add_get("/v2/assets/{symbol}", self._rest(self._asset))
        r.add_get("/v2/stocks/bars", self._rest(self._bars))
        r.add_get("/v2/stocks/{symbol}/bars", self._rest(self._symbol_bars))
        r.add_get("/v2/{feed}", self._data_stream)
        r.add_get("/stream", self._trading_stream)
        r.add_route("*", "/bot{token}/{method}", self.telegram.handle)
        r.add_post("/_control", self._control)
        r.add_get("/_control/state", self._state)
        app.on_shutdown.append(self._shutdown)
        return app

    def start(self) -> None:
        """Start simulated time now and begin publishing."""
        self.clock = SimClock(
            self.market.live_start_ns - self.options.pre_open_minutes * MINUTE_NS,
            self.options.speed,
            self.market.calendar,
            time.monotonic(),
            self.options.overnight_s,
        )
        if self.options.hold:
            self.clock.hold(time.monotonic())
        self._publisher = asyncio.get_running_loop().create_task(self._publish_forever())

    async def _shutdown(self, _app: web.Application) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
        for client in [*self.data_clients, *self.trading_clients]:
            await client.ws.close()

    def market_now(self) -> int:
        assert self.clock is not None, "start() sets the clock before serving"
        return self.clock.now(time.monotonic())

    # ---------------------------------------------------------- publisher
    async def _publish_forever(self) -> None:
        live = self.market.live
        while True:
            now = self.market_now()
            while self._next_live < len(live) and live[self._next_live].time_ns + MINUTE_NS <= now:
                minute = live[self._next_live].time_ns
                batch = []
                while self._next_live < len(live) and live[self._next_live].time_ns == minute:
                    batch.append(live[self._next_live])
                    self._next_live += 1
                await self._publish_minute(batch)
            if self._next_live < len(live):
                due = live[self._next_live].time_ns + MINUTE_NS
                wait = self.clock.real_seconds_until(due, time.monotonic()) if self.clock else 0.05
                await asyncio.sleep(min(max(wait, 0.001), 0.05))
            else:
                await asyncio.sleep(0.05)

    async def _publish_minute(self, bars: list[Bar]) -> None:
        events = []
        for bar in bars:
            self.tape.append(bar)
            events.extend(self.broker.on_bar(bar))
        self._live_minutes += 1
        self.faults.minute_published(self._live_minutes, time.monotonic())
        await self._broadcast_bars(bars)
        await self._broadcast_trades(events)
        for listener in self.minute_listeners:
            await listener(bars)

    async def _broadcast_bars(self, bars: list[Bar]) -> None:
        if self.faults.silent(time.monotonic()):
            self.faults.count("silenced_bar_frames")
            return
        for client in list(self.data_clients):
            if not client.authenticated:
                continue
            wanted = client.subscriptions.get("bars", set())
            chosen = [b for b in bars if "*" in wanted or b.symbol in wanted]
            if not chosen:
                continue
            if client.binary_msgpack:
                await self._send(client, msgpack.packb([wire.bar_stream(b) for b in chosen]))
            else:
                await self._send(client, json.dumps([wire.bar_stream_json(b) for b in chosen]))

    async def _broadcast_trades(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if self.faults.silent(time.monotonic()):
            self.faults.count("silenced_trade_updates", len(events))
            return
        for client in list(self.trading_clients):
            if not client.listening:
                continue
            for event in events:
                frame = {"stream": "trade_updates", "data": event}
                if not await self._send(client, json.dumps(frame).encode()):
                    break

    async def _send(self, client: StreamClient, payload: bytes | str) -> bool:
        """Send a data frame; honour ``drop_after``. False when the client is gone."""
        if client.ws.closed:
            return False
        try:
            if isinstance(payload, bytes):
                await client.ws.send_bytes(payload)
            else:
                await client.ws.send_str(payload)
        except (ConnectionError, RuntimeError):
            return False
        client.frames += 1
        limit = self.faults.drop_after
        if limit is not None and client.frames >= limit:
            self._drop(client)
            return False
        return True

    def _drop(self, client: StreamClient) -> None:
        """Cut the TCP connection without a close handshake, as a network failure does."""
        self.faults.count("dropped_connections")
        self.data_clients.discard(client)
        self.trading_clients.discard(client)
        if client.transport is not None:
            client.transport.abort()

    # --------------------------------------------------------------- REST
    @web.middleware
    async def _errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return web.json_response(exc.body, status=exc.status)

    def _rest(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Alpaca's gate: key and secret headers, then the 429 switch."""

        async def gated(request: web.Request) -> web.StreamResponse:
            key = request.headers.get("APCA-API-KEY-ID")
            secret = request.headers.get("APCA-API-SECRET-KEY")
            if key != self.options.key or secret != self.options.secret:
                self.faults.count("unauthorized")
                return web.json_response(
                    wire.error(wire.UNAUTHORIZED, "request is not authorized"), status=401
                )
            if self.faults.take_429():
                return web.json_response(
                    wire.error(wire.RATE_LIMIT, "too many requests"),
                    status=429,
                    headers={  # Alpaca's rate-limit headers (it sends no Retry-After)
                        "X-Ratelimit-Limit": "200",
                        "X-Ratelimit-Remaining": "0",
                        "X-Ratelimit-Reset": str(int(time.time()) + 1),
                    },
                )
            return await handler(request)

        return gated

    async def _json_body(self, request: web.Request) -> object:
        try:
            return await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.faults.count("bad_requests")
            raise ApiError(400, wire.BAD_REQUEST, "request body format is invalid") from None

    async def _account(self, _request: web.Request) -> web.Response:
        return web.json_response(self.broker.account_json())

    async def _activities(self, request: web.Request) -> web.Response:
        kind = request.match_info.get("activity_type")
        return web.json_response(self.broker.list_activities(dict(request.query), kind))

    async def _clock(self, _request: web.Request) -> web.Response:
        assert self.clock is not None
        reading = self.clock.reading(time.monotonic())
        return web.json_response(
            {
                "timestamp": wire.new_york(reading.now_ns, fraction=True),
                "is_open": reading.is_open,
                "next_open": wire.new_york(reading.next_open_ns),
                "next_close": wire.new_york(reading.next_close_ns),
            }
        )

    async def _submit(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        answer, events = self.broker.submit(self.market_now(), body)
        await self._broadcast_trades(events)
        return web.json_response(answer)

    async def _list_orders(self, request: web.Request) -> web.Response:
        return web.json_response(self.broker.list_orders(dict(request.query)))

    async def _get_order(self, request: web.Request) -> web.Response:
        return web.json_response(self.broker.order_json(self.broker.find(request.match_info["id"])))

    async def _by_client_id(self, request: web.Request) -> web.Response:
        client_id = request.query.get("client_order_id", "")
        return web.json_response(self.broker.order_json(self.broker.find_by_client_id(client_id)))

    async def _replace(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        answer, events = self.broker.replace(self.market_now(), request.match_info["id"], body)
        await self._broadcast_trades(events)
        return web.json_response(answer)

    async def _cancel(self, request: web.Request) -> web.Response:
        events = self.broker.cancel(self.market_now(), request.match_info["id"])
        await self._broadcast_trades(events)
        return web.Response(status=204)

    async def _cancel_all(self, _request: web.Request) -> web.Response:
        answers = []
        now = self.market_now()
        for order in [o for o in self.broker.orders.values() if o.open]:
            events = self.broker.cancel(now, order.id)
            await self._broadcast_trades(events)
            answers.append({"id": order.id, "status": 200, "body": self.broker.order_json(order)})
        return web.json_response(answers, status=207)

    async def _positions(self, _request: web.Request) -> web.Response:
        return web.json_response(self.broker.positions_json())

    async def _position(self, request: web.Request) -> web.Response:
        return web.json_response(self.broker.position_json(request.match_info["symbol"]))

    async def _asset(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"].upper()
        instrument = self.market.instruments.get(symbol)
        if instrument is None:
            raise ApiError(404, wire.NOT_FOUND, "asset not found")
        return web.json_response(
            {
                "id": self.broker.asset_id(symbol),
                "class": "us_equity",
                "exchange": "NASDAQ",
                "symbol": symbol,
                "name": f"{symbol} (simulated)",
                "status": "active",
                "tradable": True,
                "marginable": False,
                "shortable": False,
                "easy_to_borrow": False,
                "fractionable": instrument.qty_decimals > 0,
                "maintenance_margin_requirement": 100,
                "attributes": [],
            }
        )

    async def _bars(self, request: web.Request) -> web.Response:
        text = request.query.get("symbols", "")
        symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
        if not symbols:
            raise ApiError(400, wire.UNPROCESSABLE, "missing symbols")
        page, token = self._bars_page(request, symbols)
        return web.json_response(
            {
                "bars": {s: [wire.bar_rest(b) for b in bars] for s, bars in page.items()},
                "next_page_token": token,
            }
        )

    async def _symbol_bars(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"].upper()
        page, token = self._bars_page(request, [symbol])
        return web.json_response(
            {
                "bars": [wire.bar_rest(b) for b in page.get(symbol, [])],
                "symbol": symbol,
                "next_page_token": token,
            }
        )

    def _bars_page(
        self, request: web.Request, symbols: list[str]
    ) -> tuple[dict[str, list[Bar]], str | None]:
        query = request.query
        timeframe = query.get("timeframe", "")
        problem = history.timeframe_problem(timeframe) or history.adjustment_problem(
            query.get("adjustment")
        )
        if problem is not None:
            raise ApiError(400, wire.UNPROCESSABLE, problem)
        now = self.market_now()
        end = self._query_time(query.get("end"), "end", now)
        start = self._query_time(query.get("start"), "start", self._midnight_new_york(now))
        if start > end:
            raise ApiError(400, wire.UNPROCESSABLE, "end should not be before start")
        limit_text = query.get("limit", "1000")
        try:
            limit = int(limit_text)
        except ValueError:
            raise ApiError(400, wire.UNPROCESSABLE, f"invalid limit {limit_text!r}") from None
        if not 1 <= limit <= MAX_BARS_PAGE:
            raise ApiError(400, wire.UNPROCESSABLE, f"invalid limit: {limit}, must be 1-10000")
        sort = query.get("sort", "asc")
        if sort not in ("asc", "desc"):
            raise ApiError(400, wire.UNPROCESSABLE, f"invalid sort {sort!r}")
        tape = self.tape
        if timeframe in history.DAY_TIMEFRAMES:
            closes = history.session_closes(self.market.calendar)
            tape = history.daily_tape(self.tape, symbols, closes, now)
        try:
            return tape.page(
                symbols,
                start,
                min(end, now - MINUTE_NS),
                min(limit, self.options.bars_page_max),
                query.get("page_token") or None,
                descending=sort == "desc",
            )
        except BadPageToken as exc:
            raise ApiError(400, wire.UNPROCESSABLE, str(exc)) from None

    @staticmethod
    def _query_time(text: str | None, name: str, default: int) -> int:
        if not text:
            return default
        try:
            return parse_time(text, name)
        except BadInput:
            raise ApiError(400, wire.UNPROCESSABLE, f"invalid {name}: {text!r}") from None

    @staticmethod
    def _midnight_new_york(now_ns: int) -> int:
        """Alpaca's default ``start``: the beginning of the current (New York) day."""
        from datetime import datetime

        local = datetime.fromtimestamp(now_ns // _NS, tz=wire.NEW_YORK)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return int(midnight.timestamp()) * _NS

    # -------------------------------------------------------- data stream
    async def _data_stream(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["feed"] not in DATA_FEEDS:
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = StreamClient(
            ws,
            request.transport,
            binary_msgpack="msgpack" in request.headers.get("Content-Type", ""),
            subscriptions={c: set() for c in _DATA_CHANNELS},
        )
        self.data_clients.add(client)
        try:
            await self._data_reply(client, [{"T": "success", "msg": "connected"}])
            async for message in ws:
                if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    break
                await self._data_message(client, message.data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.data_clients.discard(client)
        return ws

    async def _data_reply(self, client: StreamClient, messages: list[dict[str, Any]]) -> None:
        if client.ws.closed:
            return
        if client.binary_msgpack:
            await client.ws.send_bytes(msgpack.packb(messages))
        else:
            await client.ws.send_str(json.dumps(messages))

    async def _data_message(self, client: StreamClient, data: bytes | str) -> None:
        try:
            body = msgpack.unpackb(data) if isinstance(data, bytes) else json.loads(data)
        except (ValueError, msgpack.UnpackException):
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            self.faults.count("bad_stream_messages")
            await self._data_reply(client, [{"T": "error", "code": 400, "msg": "invalid syntax"}])
            return
        action = body["action"]
        if action == "auth":
            if client.authenticated:
                await self._data_reply(
                    client, [{"T": "error", "code": 403, "msg": "already authenticated"}]
                )
                return
            if body.get("key") == self.options.key and body.get("secret") == self.options.secret:
                client.authenticated = True
                await self._data_reply(client, [{"T": "success", "msg": "authenticated"}])
                return
            self.faults.count("unauthorized")
            await self._data_reply(client, [{"T": "error", "code": 402, "msg": "auth failed"}])
            await client.ws.close()
            return
        if action in ("subscribe", "unsubscribe"):
            if not client.authenticated:
                await self._data_reply(
                    client, [{"T": "error", "code": 401, "msg": "not authenticated"}]
                )
                return
            for channel in _DATA_CHANNELS:
                names = body.get(channel)
                if not isinstance(names, list):
                    continue
                chosen = {str(n).upper() if n != "*" else "*" for n in names}
                if action == "subscribe":
                    client.subscriptions[channel] |= chosen
                else:
                    client.subscriptions[channel] -= chosen
            ack: dict[str, Any] = {"T": "subscription"}
            ack.update({c: sorted(client.subscriptions[c]) for c in _DATA_CHANNELS})
            await self._data_reply(client, [ack])
            return
        await self._data_reply(client, [{"T": "error", "code": 400, "msg": "invalid syntax"}])

    # ----------------------------------------------------- trading stream
    async def _trading_stream(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = StreamClient(ws, request.transport)
        self.trading_clients.add(client)
        try:
            async for message in ws:
                if message.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    break
                await self._trading_message(client, message.data)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.trading_clients.discard(client)
        return ws

    async def _trading_reply(self, client: StreamClient, body: dict[str, Any]) -> None:
        if not client.ws.closed:
            await client.ws.send_bytes(json.dumps(body).encode())

    async def _trading_message(self, client: StreamClient, data: bytes | str) -> None:
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            self.faults.count("bad_stream_messages")
            await self._trading_reply(
                client, {"stream": "error", "data": {"error_message": "invalid syntax"}}
            )
            return
        action = body.get("action")
        if action in ("authenticate", "auth"):
            data_part = _data_part(body)
            key = data_part.get("key_id", body.get("key"))
            secret = data_part.get("secret_key", body.get("secret"))
            ok = key == self.options.key and secret == self.options.secret
            client.authenticated = ok
            status = "authorized" if ok else "unauthorized"
            await self._trading_reply(
                client,
                {"stream": "authorization", "data": {"action": "authenticate", "status": status}},
            )
            if not ok:
                self.faults.count("unauthorized")
                await client.ws.close()
            return
        if action == "listen":
            if not client.authenticated:
                await self._trading_reply(
                    client,
                    {
                        "stream": "authorization",
                        "data": {"action": "listen", "status": "unauthorized"},
                    },
                )
                return
            data_part = _data_part(body)
            streams = data_part.get("streams") or []
            client.listening = "trade_updates" in streams
            chosen = ["trade_updates"] if client.listening else []
            await self._trading_reply(client, {"stream": "listening", "data": {"streams": chosen}})
            return
        self.faults.count("bad_stream_messages")
        await self._trading_reply(
            client, {"stream": "error", "data": {"error_message": f"unknown action {action!r}"}}
        )

    # ------------------------------------------------------------ control
    async def _control(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict) and body.get("fault") == "drop_fix" and self.fix is not None:
            try:
                return web.json_response(self.fix.control(body))
            except BadInput as exc:
                self.faults.count("bad_control")
                return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if isinstance(body, dict) and body.get("fault") == "drop_tws" and self.tws is not None:
            away = body.get("away_s", 0)
            if isinstance(away, bool) or not isinstance(away, int | float) or not 0 <= away <= 60:
                self.faults.count("bad_control")
                error = f"away_s={away!r} must be a number of seconds in [0, 60]"
                return web.json_response({"ok": False, "error": error}, status=400)
            return web.json_response({"ok": True, "dropped": self.tws.drop(away_s=float(away))})
        if isinstance(body, dict) and body.get("action") == "hold" and self.clock is not None:
            # Market time stops where it is: no new bar, so no new fill. A test that
            # compares the books after stopping a client holds the market first.
            self.clock.hold(time.monotonic())
            return web.json_response({"ok": True, "market_time_ns": self.market_now()})
        if isinstance(body, dict) and body.get("action") == "release" and self.clock is not None:
            # ``--hold``: the test (or person) says when the live market starts, so
            # however long the client took to start, it sees every live minute.
            self.clock.release(time.monotonic())
            return web.json_response({"ok": True, "market_time_ns": self.market_now()})
        if isinstance(body, dict) and "cash_flow" in body:
            # A deposit ("150000.00") or withdrawal ("-5000") at the Alpaca account.
            try:
                activity = self.broker.cash_flow(self.market_now(), body["cash_flow"])
            except ApiError as exc:
                self.faults.count("bad_control")
                return web.json_response({"ok": False, "error": str(exc)}, status=400)
            return web.json_response({"ok": True, "activity": activity})
        try:
            action = self.faults.control(body, time.monotonic())
        except BadControl as exc:
            self.faults.count("bad_control")
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        if action == "drop_streams":
            for client in [*self.data_clients, *self.trading_clients]:
                self._drop(client)
        return web.json_response({"ok": True, "faults": self.faults.state(time.monotonic())})

    async def _state(self, _request: web.Request) -> web.Response:
        now = self.market_now()
        state = self.broker.state_json()
        state.update(
            market_time=wire.rfc3339(now),
            market_time_ns=now,
            published_bars=self.tape.count(),
            live_bars_left=len(self.market.live) - self._next_live,
            telegram=self.telegram.messages,
            faults=self.faults.state(time.monotonic()),
            streams={"data": len(self.data_clients), "trading": len(self.trading_clients)},
            held=self.clock is not None and self.clock.held,
            rejected_requests=self.broker.rejected_requests,
        )
        if self.fix is not None:
            state["fix"] = self.fix.state_json()
        if self.tws is not None:
            state["tws"] = self.tws.state_json()
        return web.json_response(state)


def _data_part(body: dict[str, Any]) -> dict[str, Any]:
    """A trading-stream message's ``data`` object ({} when absent or not an object)."""
    data = body.get("data")
    return data if isinstance(data, dict) else {}
