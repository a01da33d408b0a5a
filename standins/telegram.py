"""The Telegram Bot API stand-in: ``getMe`` and ``sendMessage``, as Telegram answers them.

Only the configured bot token is accepted; every accepted message is kept (with
the simulated market time it arrived at) so tests can check what the gateway
told its user. The shared 429 switch applies here too, with Telegram's
``parameters.retry_after``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from standins import wire
from standins.faults import Faults

TELEGRAM_BOT_ID = 7_000_000_001
TELEGRAM_TEXT_MAX = 4096


class TelegramStandIn:
    def __init__(self, token: str, faults: Faults, market_now: Callable[[], int]) -> None:
        self._token = token
        self.faults = faults
        self._market_now = market_now
        self.messages: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        if token != self._token:
            self.faults.count("telegram_unauthorized")
            return web.json_response(wire.telegram_error(401, "Unauthorized"), status=401)
        if self.faults.take_429():
            return web.json_response(
                wire.telegram_error(429, "Too Many Requests: retry after 1", retry_after=1),
                status=429,
            )
        params = await self._params(request)
        if params is None:
            return self._bad("Bad Request: can't parse request body")
        if method == "getMe":
            return web.json_response({"ok": True, "result": self._bot()})
        if method == "sendMessage":
            return self._send(params)
        return web.json_response(wire.telegram_error(404, "Not Found"), status=404)

    async def _params(self, request: web.Request) -> dict[str, Any] | None:
        params: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.can_read_body:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return None
            if not isinstance(body, dict):
                return None
            params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    @staticmethod
    def _bot() -> dict[str, Any]:
        return {
            "id": TELEGRAM_BOT_ID,
            "is_bot": True,
            "first_name": "Sovereign stand-in",
            "username": "sovereign_standin_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _send(self, params: dict[str, Any]) -> web.Response:
        chat = params.get("chat_id")
        text = params.get("text")
        if chat is None or str(chat).strip() == "":
            return self._bad("Bad Request: chat_id is empty")
        chat_text = str(chat).strip()
        if not (chat_text.lstrip("-").isdigit() or chat_text.startswith("@")):
            return self._bad("Bad Request: chat not found")
        if not isinstance(text, str) or not text.strip():
            return self._bad("Bad Request: message text is empty")
        if len(text) > TELEGRAM_TEXT_MAX:
            return self._bad("Bad Request: message is too long")
        chat_id: int | str = int(chat_text) if chat_text.lstrip("-").isdigit() else chat_text
        message = {
            "message_id": len(self.messages) + 1,
            "from": self._bot(),
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
            "text": text,
        }
        self.messages.append(
            {**message, "parse_mode": params.get("parse_mode"), "market_time": self._market_now()}
        )
        return web.json_response({"ok": True, "result": message})

    def _bad(self, description: str) -> web.Response:
        self.faults.count("telegram_bad_requests")
        return web.json_response(wire.telegram_error(400, description), status=400)
