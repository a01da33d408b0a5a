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

Where each part lives: this module holds the stand-in itself (lifecycle, the
publisher, the control routes and the state); Alpaca's REST handlers are in
``standins.alpaca_rest``, its two websockets in ``standins.alpaca_streams``, the
book in ``standins.broker``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from core.errors import BadInput
from core.events import Bar
from standins import wire
from standins.alpaca_rest import MAX_BARS_PAGE, AlpacaRest
from standins.alpaca_streams import AlpacaStreams
from standins.broker import ApiError, Broker
from standins.faults import BadControl, Faults
from standins.market import MINUTE_NS, SessionMarket
from standins.simclock import SimClock
from standins.tape import Tape
from standins.telegram import TelegramStandIn


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


class StandIn:
    """One stand-in process's shared world: market, clock, tape, broker and faults.

    Every protocol (Alpaca REST and streams here, TWS and FIX beside it) reads
    the same market time and tape, so the clients see one consistent market.
    """

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
        self.telegram = TelegramStandIn(options.telegram_token, faults, self.market_now)
        self._publisher: asyncio.Task[None] | None = None
        self.rest = AlpacaRest(self)
        self.streams = AlpacaStreams(self)
        # Other protocols on the same market (the TWS stand-in) hear each ended minute.
        self.minute_listeners: list[Callable[[list[Bar]], Awaitable[None]]] = []
        self.fix: Any = None  # the FIX prime-broker stand-in (standins.fix_pb), when started
        self.tws: Any = None  # the TWS API stand-in (standins.tws), when started

    # ---------------------------------------------------------- lifecycle
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.rest.errors])
        r = app.router
        r.add_get("/v2/account", self.rest.gate(self.rest.account))
        r.add_get("/v2/account/activities", self.rest.gate(self.rest.activities))
        r.add_get("/v2/account/activities/{activity_type}", self.rest.gate(self.rest.activities))
        r.add_get("/v2/clock", self.rest.gate(self.rest.clock))
        r.add_get("/v2/orders", self.rest.gate(self.rest.list_orders))
        r.add_post("/v2/orders", self.rest.gate(self.rest.submit))
        r.add_delete("/v2/orders", self.rest.gate(self.rest.cancel_all))
        r.add_get("/v2/orders:by_client_order_id", self.rest.gate(self.rest.by_client_id))
        r.add_get("/v2/orders/{id}", self.rest.gate(self.rest.get_order))
        r.add_patch("/v2/orders/{id}", self.rest.gate(self.rest.replace))
        r.add_delete("/v2/orders/{id}", self.rest.gate(self.rest.cancel))
        r.add_get("/v2/positions", self.rest.gate(self.rest.positions))
        r.add_get("/v2/positions/{symbol}", self.rest.gate(self.rest.position))
        r.add_get("/v2/assets/{symbol}", self.rest.gate(self.rest.asset))
        r.add_get("/v2/stocks/bars", self.rest.gate(self.rest.bars))
        r.add_get("/v2/stocks/{symbol}/bars", self.rest.gate(self.rest.symbol_bars))
        r.add_get("/v2/{feed}", self.streams.data_stream)
        r.add_get("/stream", self.streams.trading_stream)
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
        for client in [*self.streams.data_clients, *self.streams.trading_clients]:
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
        await self.streams.broadcast_bars(bars)
        await self.streams.broadcast_trades(events)
        for listener in self.minute_listeners:
            await listener(bars)

    # --------------------------------------------------------------- REST

    # -------------------------------------------------------- data stream

    # ----------------------------------------------------- trading stream

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
            for client in [*self.streams.data_clients, *self.streams.trading_clients]:
                self.streams.drop(client)
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
            streams={
                "data": len(self.streams.data_clients),
                "trading": len(self.streams.trading_clients),
            },
            held=self.clock is not None and self.clock.held,
            rejected_requests=self.broker.rejected_requests,
        )
        if self.fix is not None:
            state["fix"] = self.fix.state_json()
        if self.tws is not None:
            state["tws"] = self.tws.state_json()
        return web.json_response(state)
