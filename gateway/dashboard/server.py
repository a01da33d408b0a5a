"""The dashboard's HTTP server: the page, its assets, the event stream, the JSON
API and the operator controls, on the gateway's own event loop (aiohttp).

| route | what |
|---|---|
| ``GET /login?token=T`` | a session cookie (HttpOnly, SameSite=Strict), then ``303 /`` |
| ``GET /`` | the page (its CSRF token in a ``<meta>`` tag) |
| ``GET /static/{app.js,app.css,plotly.min.js,plotly.css}`` | all scripts and styles |
| ``GET /events`` | server-sent events: ``hello``, ``state``, ``fill``, ``alert``, ``tca`` |
| ``GET /api/state`` | account, ``positions`` (symbol → signed qty), orders, agents, links |
| ``GET /api/fills?since=EXEC_ID&limit=N`` | executions from the database, after ``since`` |
| ``GET /api/equity`` | the equity curve: this session and all history |
| ``GET /api/chart?symbol=S`` | the symbol's recent minute bars |
| ``POST /api/control`` | ``{"action": "pause"|"resume"|"flatten"}`` |

Every request is authenticated (``auth.py``); every answer carries a
Content-Security-Policy that allows this origin only. Bad requests get a 4xx
with a JSON body that names the field; nothing a client sends is logged with
a traceback, and no request path or query is logged at all (the login query
carries the token).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from core.errors import BadInput
from core.operator import OPERATOR_ACTIONS
from gateway.brokers.base import connection_report
from gateway.dashboard import plotly_assets
from gateway.dashboard.auth import (
    SESSION_COOKIE,
    SESSION_TTL_S,
    CommandLimiter,
    FailureLimiter,
    Sessions,
    bearer,
    same_origin,
    token_matches,
)
from gateway.dashboard.history import History
from gateway.dashboard.hub import Hub, TooManyClients
from gateway.dashboard.snapshot import GatewayView, build_state
from gateway.secrets import Secret

log = logging.getLogger("gateway.dashboard")

MAX_BODY = 16 << 10  # a control request is a few bytes
TICK_S = 0.25  # state pushed at most this often ...
QUIET_TICK_S = 2.0  # ... and at least this often (the market clock moves)
FILLS_PAGE = 1000

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self';"
    " frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_ORIGIN = re.compile(r"^[a-z0-9_-]{1,32}$")
_STATIC_TYPES = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "plotly.min.js": "text/javascript",
    "plotly.css": "text/css",
}

Operate = Callable[[str, str], Awaitable[dict[str, Any]]]


def _error(status: int, message: str, **extra: Any) -> web.Response:
    body = {"error": message, "status": status, **extra}
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(max(1, int(extra["retry_after"] + 0.999)))
    return web.json_response(body, status=status, headers=headers)


class _ServerLog:
    """aiohttp's connection-level logger: a malformed request (bad request line,
    oversized header, garbage bytes) is one warning line without a traceback;
    anything else keeps its traceback."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger

    def exception(self, msg: str, *args: Any, exc_info: Any = None, **kw: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            self._log.warning(
                "dashboard: malformed HTTP request refused (%s %s)",
                exc_info.code,
                exc_info.message.splitlines()[0][:200] if exc_info.message else "",
            )
            return
        self._log.error(msg, *args, exc_info=exc_info, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


class DashboardServer:
    def __init__(
        self,
        gateway: GatewayView,
        history: History,
        hub: Hub,
        token: Secret,
        operate: Operate,
        fills_after: Callable[[str | None, int], list[dict[str, object]] | None],
    ) -> None:
        self.gateway = gateway
        self.history = history
        self.hub = hub
        self.token = token
        self.operate = operate
        self.fills_after = fills_after
        # What the broker can say of its connections, checked once here.
        self.connections = connection_report(gateway.broker)
        self.sessions = Sessions()
        self.failures = FailureLimiter()
        self.commands = CommandLimiter()
        self.refused = 0  # 4xx answers, for the status API
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._index = resources.files("gateway.dashboard").joinpath("static/index.html")
        self._static = {
            name: resources.files("gateway.dashboard").joinpath(f"static/{name}")
            for name in ("app.js", "app.css")
        }
        self._plotly = plotly_assets.load()  # plotly.js from the plotly package, not a CDN
        self._guards = "".join(
            f'<meta name="plotly-guard" id="{_html(i)}">' for i in self._plotly.guard_ids
        )
        self.url = ""

    # ============================================================ life
    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=MAX_BODY, middlewares=[self._headers, self._errors, self._auth]
        )
        app.router.add_get("/login", self.login)
        app.router.add_get("/", self.index)
        app.router.add_get("/static/{name}", self.static)
        app.router.add_get("/events", self.events)
        app.router.add_get("/api/state", self.api_state)
        app.router.add_get("/api/fills", self.api_fills)
        app.router.add_get("/api/equity", self.api_equity)
        app.router.add_get("/api/chart", self.api_chart)
        app.router.add_post("/api/control", self.api_control)
        return app

    async def start(self, host: str, port: int) -> None:
        runner = web.AppRunner(
            self.app(),
            access_log=None,  # a logged query string would carry the login token
            logger=_ServerLog(logging.getLogger("gateway.dashboard.http")),
            handle_signals=False,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        site = web.TCPSite(runner, host, port, backlog=64)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise BadInput(
                "dashboard.port", port, f"cannot listen on {host}:{port}: {exc.strerror}"
            ) from None
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        bound = sockets[0].getsockname()[1] if sockets else port
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{bound}"
        self._ticker = asyncio.get_running_loop().create_task(self._tick(), name="dashboard")
        log.info(
            "dashboard at %s (open %s/login?token=...)",
            self.url,
            self.url,
            extra={"sv_event": "dashboard_ready", "sv_url": self.url},
        )

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ticker
        self.hub.close_all()
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.cleanup()

    async def _tick(self) -> None:
        """The live state, pushed when something changed (and every two seconds)."""
        history = self.history
        last = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            if not self.hub.clients:
                history.new_bars.clear()
                continue
            now = time.monotonic()
            if not history.dirty and now - last < QUIET_TICK_S:
                continue
            history.dirty = False
            last = now
            try:
                message = self.state()
            except Exception:
                log.exception("dashboard state could not be built")
                continue
            message["bars"] = history.take_new_bars()
            self.hub.publish("state", message)

    def state(self) -> dict[str, Any]:
        state = build_state(self.gateway, self.history, self.connections)
        self.history.refresh_equity()
        equity = self.history.equity
        state["equity_now"] = [equity[-1][0] // 1_000_000, equity[-1][1] / 1e9] if equity else None
        state["dashboard"] = {
            "clients": len(self.hub.clients),
            "dropped": self.hub.dropped,
            "refused": self.refused,
            "sessions": len(self.sessions),
        }
        return state

    def hello(self) -> dict[str, Any]:
        """A new page's first message: everything it shows."""
        history = self.history
        symbols = self.gateway.state.symbols
        return {
            "state": self.state(),
            "symbols": symbols,
            "fills": list(history.fills),
            "tca": list(history.tca),
            "alerts": list(history.alerts),
            "operator": list(history.operator),
            "equity": history.equity_curves(),
            "chart": {"symbol": symbols[0], "bars": history.chart(symbols[0])},
        }

    # ====================================================== middlewares
    @web.middleware
    async def _headers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        response: web.StreamResponse = await handler(request)
        if not response.prepared:  # an event stream sets its own before it starts
            response.headers.update(SECURITY_HEADERS)
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            self.refused += 1
            if exc.status == 413:
                return _error(413, f"request body: larger than {MAX_BODY} bytes")
            if exc.status == 404:
                return _error(404, "path: no such page or API")
            if exc.status == 405:
                return _error(405, f"method: {request.method} is not allowed here")
            return _error(exc.status, exc.reason)
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("dashboard request failed")
            return _error(500, "internal error (logged)")
        if response.status >= 400:
            self.refused += 1
        return response

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path == "/login":
            return await handler(request)
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            request["session"] = session
            return await handler(request)
        remote = request.remote or "?"
        wait = self.failures.blocked_for(remote)
        if wait > 0:
            return _error(429, "too many failed authentications", retry_after=wait)
        given = bearer(request.headers.get("Authorization"))
        if given is not None and token_matches(given, self.token):
            request["session"] = None
            return await handler(request)
        self.failures.fail(remote)
        if given is None and request.path == "/" and request.method == "GET":
            return web.Response(
                status=401,
                text="401: open /login?token=YOUR_TOKEN (the token is in the config,"
                " $SOVEREIGN_DASHBOARD_TOKEN or the dashboard token file)\n",
                headers={"WWW-Authenticate": 'Bearer realm="sovereign"'},
            )
        return _error(
            401,
            "authorization: a valid session cookie or 'Bearer TOKEN' is required",
        )

    # =========================================================== pages
    async def login(self, request: web.Request) -> web.StreamResponse:
        remote = request.remote or "?"
        wait = self.failures.blocked_for(remote)
        if wait > 0:
            return _error(429, "too many failed authentications", retry_after=wait)
        token = request.query.get("token", "")
        if not token or not token_matches(token, self.token):
            self.failures.fail(remote)
            return _error(401, "token: wrong or missing")
        session_id, _ = self.sessions.create()
        response = web.Response(status=303, headers={"Location": "/"})
        response.set_cookie(
            SESSION_COOKIE,
            session_id,
            max_age=int(SESSION_TTL_S),
            httponly=True,
            samesite="Strict",
            path="/",
        )
        return response

    async def index(self, request: web.Request) -> web.StreamResponse:
        session = request.get("session")
        csrf = session.csrf if session is not None else ""
        html = self._index.read_text(encoding="utf-8").replace("{{CSRF}}", csrf)
        html = html.replace("{{NAME}}", _html(self.gateway.config.system.name))
        html = html.replace("{{PLOTLY_GUARDS}}", self._guards)
        return web.Response(text=html, content_type="text/html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        kind = _STATIC_TYPES.get(name)
        if kind is None:
            raise web.HTTPNotFound()
        if name == "plotly.min.js":
            response = web.FileResponse(self._plotly.bundle, headers={"Content-Type": kind})
            response.headers["Cache-Control"] = "private, max-age=86400"
            return response
        if name == "plotly.css":
            return web.Response(text=self._plotly.css, content_type=kind)
        body = self._static[name].read_bytes()
        return web.Response(body=body, content_type=kind, charset="utf-8")

    # ========================================================== events
    async def events(self, request: web.Request) -> web.StreamResponse:
        try:
            client = self.hub.add(request.transport)
        except TooManyClients as exc:
            return _error(503, f"events: {exc}")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",
                **SECURITY_HEADERS,
            }
        )
        try:
            self.hub.offer(client, "hello", self.hello())
            await response.prepare(request)
            await response.write(b"retry: 2000\n\n")
            while True:
                batch = await self.hub.next_batch(client)
                if batch is None:
                    break
                await response.write(batch)
        except (ConnectionError, RuntimeError):
            pass  # the page went away or was dropped
        finally:
            self.hub.remove(client)
        return response

    # ============================================================= API
    async def api_state(self, request: web.Request) -> web.StreamResponse:
        state = self.state()
        state["latency"] = self.gateway.inputs.latency.summary()
        return web.json_response(state)

    async def api_fills(self, request: web.Request) -> web.StreamResponse:
        since = request.query.get("since") or None
        limit_text = request.query.get("limit", str(FILLS_PAGE))
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= FILLS_PAGE:
            return _error(400, f"limit={limit_text[:40]!r}: must be an integer in 1..{FILLS_PAGE}")
        if since is not None and len(since) > 200:
            return _error(400, "since: longer than 200 characters")
        rows = self.fills_after(since, int(limit_text))
        if rows is None:
            return _error(404, f"since={since!r}: no such execution id")
        return web.json_response({"fills": rows, "count": len(rows)})

    async def api_equity(self, request: web.Request) -> web.StreamResponse:
        self.history.refresh_equity()
        return web.json_response(self.history.equity_curves())

    async def api_chart(self, request: web.Request) -> web.StreamResponse:
        symbol = request.query.get("symbol", "")
        if symbol not in self.gateway.state.symbols:
            return _error(400, f"symbol={symbol[:40]!r}: not in the universe")
        return web.json_response({"symbol": symbol, "bars": self.history.chart(symbol)})

    async def api_control(self, request: web.Request) -> web.StreamResponse:
        session = request.get("session")
        if session is not None:  # a browser: the cookie came on its own, so prove intent
            given = request.headers.get("X-CSRF-Token", "")
            if not given or not token_matches(given, Secret(session.csrf)):
                return _error(403, "X-CSRF-Token: missing or wrong")
            if not same_origin(request.headers.get("Origin"), request.host):
                return _error(403, f"Origin={request.headers.get('Origin')!r}: not this site")
        if request.content_type != "application/json":
            return _error(415, f"Content-Type={request.content_type!r}: must be application/json")
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(400, "body: is not JSON")
        if not isinstance(body, dict):
            return _error(400, "body: must be a JSON object")
        unknown = sorted(set(body) - {"action", "origin"})
        if unknown:
            return _error(400, f"{unknown[0]}: is not a known field")
        action = body.get("action")
        if action not in OPERATOR_ACTIONS:
            shown = action if isinstance(action, str | int | None) else type(action).__name__
            choices = ", ".join(OPERATOR_ACTIONS)
            return _error(400, f"action={shown!r}: must be one of {choices}")
        origin = body.get("origin", "dashboard" if session is not None else "api")
        if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
            return _error(400, "origin: must be 1-32 of a-z, 0-9, '_' or '-'")
        wait = self.commands.allow()
        if wait > 0:
            return _error(429, "too many operator commands", retry_after=wait)
        result = await self.operate(action, origin)
        return web.json_response(result)


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
