"""Telegram notifier against a tiny aiohttp Bot API server: pacing, 429s, failures."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from gateway.notify import Notifier, TokenBucket
from gateway.secrets import Secret

TOKEN = "123:TESTTOKEN"


class FakeBot:
    def __init__(self, *, fail: int = 0, rate_limit: int = 0, status: int = 200) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.fail = fail
        self.rate_limit = rate_limit
        self.status = status

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"username": "fake_bot"}})
        body = await request.json()
        if self.rate_limit:
            self.rate_limit -= 1
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": "Too Many",
                    "parameters": {"retry_after": 0.05},
                },
                status=429,
            )
        if self.fail:
            self.fail -= 1
            return web.json_response(
                {"ok": False, "error_code": 500, "description": "boom"}, status=500
            )
        self.messages.append((time.monotonic(), body))
        return web.json_response({"ok": True, "result": {"message_id": len(self.messages)}})


async def _serve(bot: FakeBot) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", bot.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_messages_are_delivered_in_order_and_paced() -> None:
    async def scenario() -> tuple[FakeBot, Notifier]:
        bot = FakeBot()
        runner, url = await _serve(bot)
        n = Notifier(url, Secret(TOKEN), "42", per_minute=600, burst=2)  # 10/s after 2
        await n.start()
        started = time.monotonic()
        for i in range(6):
            n.send(f"m{i}")
        assert time.monotonic() - started < 0.05  # send never waits
        await n.drain(5)
        await n.close()
        await runner.cleanup()
        return bot, n

    bot, n = run(scenario())
    assert [m["text"] for _, m in bot.messages] == [f"m{i}" for i in range(6)]
    assert all(m["chat_id"] == "42" for _, m in bot.messages)
    span = bot.messages[-1][0] - bot.messages[0][0]
    assert span >= 0.3  # 4 messages beyond the burst at 10/s
    assert n.stats.sent == 6 and n.stats.failed == 0


def test_failures_are_logged_not_raised_and_later_messages_still_go() -> None:
    async def scenario() -> tuple[FakeBot, Notifier]:
        bot = FakeBot(fail=2)
        runner, url = await _serve(bot)
        n = Notifier(url, Secret(TOKEN), "42", per_minute=6000)
        await n.start()
        for i in range(4):
            n.send(f"m{i}")
        await n.drain(5)
        await n.close()
        await runner.cleanup()
        return bot, n

    bot, n = run(scenario())
    assert n.stats.failed == 2 and n.stats.sent == 2
    assert [m["text"] for _, m in bot.messages] == ["m2", "m3"]


def test_telegram_429_is_honoured_then_delivered() -> None:
    async def scenario() -> tuple[FakeBot, Notifier]:
        bot = FakeBot(rate_limit=1)
        runner, url = await _serve(bot)
        n = Notifier(url, Secret(TOKEN), "42", per_minute=6000)
        await n.start()
        n.send("after 429")
        await n.drain(5)
        await n.close()
        await runner.cleanup()
        return bot, n

    bot, n = run(scenario())
    assert [m["text"] for _, m in bot.messages] == ["after 429"] and n.stats.sent == 1


def test_unreachable_server_is_not_fatal() -> None:
    async def scenario() -> Notifier:
        n = Notifier("http://127.0.0.1:9", Secret(TOKEN), "42", per_minute=6000, timeout=1)
        await n.start()
        n.send("nobody listens")
        await n.drain(5)
        await n.close()
        return n

    n = run(scenario())
    assert n.stats.failed == 1 and n.stats.sent == 0


def test_bounded_queue_drops_the_oldest() -> None:
    async def scenario() -> Notifier:
        n = Notifier("http://127.0.0.1:9", Secret(TOKEN), "42", bound=3)
        for i in range(5):  # not started: nothing drains
            n.send(f"m{i}")
        return n

    n = run(scenario())
    assert n.stats.dropped == 2
    assert [n._queue.get_nowait() for _ in range(3)] == ["m2", "m3", "m4"]


def test_get_me_checks_the_token() -> None:
    async def scenario() -> tuple[dict[str, object], str]:
        bot = FakeBot()
        runner, url = await _serve(bot)
        me = await Notifier(url, Secret(TOKEN), "42").get_me()
        try:
            await Notifier(url, Secret("999:WRONG"), "42").get_me()
            error = ""
        except RuntimeError as exc:
            error = str(exc)
        await runner.cleanup()
        return me, error

    me, error = run(scenario())
    assert me["username"] == "fake_bot"
    assert "401" in error and "WRONG" not in error


def test_token_bucket_paces() -> None:
    bucket = TokenBucket(rate=10, per=1.0, burst=1)
    assert bucket.delay() == 0.0
    assert 0.0 < bucket.delay() <= 0.1
