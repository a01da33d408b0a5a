"""Alpaca's REST routes on the stand-in: account, clock, orders, positions, assets, bars.

Each route is gated as Alpaca gates it (key/secret headers, then the 429
fault) and answers from the stand-in broker and tape; a refused request is the
broker's ``ApiError`` turned into Alpaca's JSON error by ``errors``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from core.errors import BadInput
from core.events import Bar
from sim.timefmt import parse_time
from standins import history, wire
from standins.broker import ApiError
from standins.market import MINUTE_NS
from standins.tape import BadPageToken

MAX_BARS_PAGE = 10_000  # Alpaca's own cap per request
if TYPE_CHECKING:
    from standins.server import StandIn
_NS = 10**9


class AlpacaRest:
    """The REST routes' handlers, each answering from the stand-in's broker, tape and clock."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin

    @web.middleware
    async def errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return web.json_response(exc.body, status=exc.status)

    def gate(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Alpaca's gate: key and secret headers, then the 429 switch."""

        async def gated(request: web.Request) -> web.StreamResponse:
            key = request.headers.get("APCA-API-KEY-ID")
            secret = request.headers.get("APCA-API-SECRET-KEY")
            if key != self.standin.options.key or secret != self.standin.options.secret:
                self.standin.faults.count("unauthorized")
                return web.json_response(
                    wire.error(wire.UNAUTHORIZED, "request is not authorized"), status=401
                )
            if self.standin.faults.take_429():
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
            self.standin.faults.count("bad_requests")
            raise ApiError(400, wire.BAD_REQUEST, "request body format is invalid") from None

    async def account(self, _request: web.Request) -> web.Response:
        return web.json_response(self.standin.broker.account_json())

    async def activities(self, request: web.Request) -> web.Response:
        kind = request.match_info.get("activity_type")
        return web.json_response(self.standin.broker.list_activities(dict(request.query), kind))

    async def clock(self, _request: web.Request) -> web.Response:
        assert self.standin.clock is not None
        reading = self.standin.clock.reading(time.monotonic())
        return web.json_response(
            {
                "timestamp": wire.new_york(reading.now_ns, fraction=True),
                "is_open": reading.is_open,
                "next_open": wire.new_york(reading.next_open_ns),
                "next_close": wire.new_york(reading.next_close_ns),
            }
        )

    async def submit(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        answer, events = self.standin.broker.submit(self.standin.market_now(), body)
        await self.standin.streams.broadcast_trades(events)
        return web.json_response(answer)

    async def list_orders(self, request: web.Request) -> web.Response:
        return web.json_response(self.standin.broker.list_orders(dict(request.query)))

    async def get_order(self, request: web.Request) -> web.Response:
        return web.json_response(
            self.standin.broker.order_json(self.standin.broker.find(request.match_info["id"]))
        )

    async def by_client_id(self, request: web.Request) -> web.Response:
        client_id = request.query.get("client_order_id", "")
        return web.json_response(
            self.standin.broker.order_json(self.standin.broker.find_by_client_id(client_id))
        )

    async def replace(self, request: web.Request) -> web.Response:
        body = await self._json_body(request)
        answer, events = self.standin.broker.replace(
            self.standin.market_now(), request.match_info["id"], body
        )
        await self.standin.streams.broadcast_trades(events)
        return web.json_response(answer)

    async def cancel(self, request: web.Request) -> web.Response:
        events = self.standin.broker.cancel(self.standin.market_now(), request.match_info["id"])
        await self.standin.streams.broadcast_trades(events)
        return web.Response(status=204)

    async def cancel_all(self, _request: web.Request) -> web.Response:
        answers = []
        now = self.standin.market_now()
        for order in [o for o in self.standin.broker.orders.values() if o.open]:
            events = self.standin.broker.cancel(now, order.id)
            await self.standin.streams.broadcast_trades(events)
            answers.append(
                {"id": order.id, "status": 200, "body": self.standin.broker.order_json(order)}
            )
        return web.json_response(answers, status=207)

    async def positions(self, _request: web.Request) -> web.Response:
        return web.json_response(self.standin.broker.positions_json())

    async def position(self, request: web.Request) -> web.Response:
        return web.json_response(self.standin.broker.position_json(request.match_info["symbol"]))

    async def asset(self, request: web.Request) -> web.Response:
        symbol = request.match_info["symbol"].upper()
        instrument = self.standin.market.instruments.get(symbol)
        if instrument is None:
            raise ApiError(404, wire.NOT_FOUND, "asset not found")
        return web.json_response(
            {
                "id": self.standin.broker.asset_id(symbol),
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

    async def bars(self, request: web.Request) -> web.Response:
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

    async def symbol_bars(self, request: web.Request) -> web.Response:
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
        now = self.standin.market_now()
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
        tape = self.standin.tape
        if timeframe in history.DAY_TIMEFRAMES:
            closes = history.session_closes(self.standin.market.calendar)
            tape = history.daily_tape(self.standin.tape, symbols, closes, now)
        try:
            return tape.page(
                symbols,
                start,
                min(end, now - MINUTE_NS),
                min(limit, self.standin.options.bars_page_max),
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
