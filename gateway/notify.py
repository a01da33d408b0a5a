"""Telegram alerts that can never hold up trading.

``Notifier.send`` only puts text on a bounded queue and returns at once; a
background task delivers it through the Bot API (``sendMessage``), paced by a
token bucket. A full queue drops the *oldest* message (the newest state is
worth more), counts it, and logs it; a failed delivery is logged and counted,
never raised. A Telegram 429 is honoured with its ``retry_after``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import aiohttp

from gateway.secrets import Secret

log = logging.getLogger("gateway.notify")

TELEGRAM_PER_MINUTE = 20
"""Telegram's documented ceiling for one bot in one group chat (20 messages a
minute); private chats allow more, so this is the safe rate for either."""

QUEUE_BOUND = 500
"""Enough for a burst of fills across 30 symbols; beyond it the oldest go."""

MAX_TEXT = 4096  # Telegram's sendMessage text limit
RATE_LIMIT_RETRIES = 10  # a 429 names its wait; honouring it is not a failure


@dataclass
class NotifyStats:
    queued: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0


class TokenBucket:
    """``rate`` tokens per ``per`` seconds, bursting to ``burst``."""

    def __init__(self, rate: float, per: float, burst: int) -> None:
        self._fill = rate / per
        self._burst = float(burst)
        self._tokens = float(burst)
        self._last = time.monotonic()

    def delay(self) -> float:
        """Seconds to wait before one token is available (0 = take it now)."""
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._fill)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self._fill


class Notifier:
    def __init__(
        self,
        api_url: str,
        token: Secret,
        chat_id: str,
        *,
        per_minute: float = TELEGRAM_PER_MINUTE,
        burst: int = 5,
        bound: int = QUEUE_BOUND,
        timeout: float = 10.0,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._chat_id = chat_id
        self._bucket = TokenBucket(per_minute, 60.0, burst)
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=bound)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.stats = NotifyStats()

    def _url(self, method: str) -> str:
        return f"{self._api_url}/bot{self._token.reveal()}/{method}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._task = asyncio.create_task(self._run(), name="telegram")

    def send(self, text: str) -> None:
        """Queue ``text``; never blocks, never raises."""
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 1] + "…"
        if self._queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
                self._queue.task_done()
            self.stats.dropped += 1
            log.warning("telegram queue full (%d): dropped the oldest alert", self._queue.maxsize)
        self._queue.put_nowait(text)
        self.stats.queued += 1

    async def get_me(self) -> dict[str, object]:
        """``getMe``: proves the token works (``--check``). Raises on failure."""
        session = self._session or aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with session.get(self._url("getMe")) as response:
                body = await response.json(content_type=None)
                if response.status != 200 or not body.get("ok"):
                    raise RuntimeError(
                        f"telegram getMe: HTTP {response.status} {body.get('description', '')}"
                    )
                return dict(body.get("result") or {})
        finally:
            if session is not self._session:
                await session.close()

    async def _run(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                await self._deliver(text)
            finally:
                self._queue.task_done()

    async def _deliver(self, text: str) -> None:
        for _attempt in range(RATE_LIMIT_RETRIES):
            wait = self._bucket.delay()
            if wait:
                await asyncio.sleep(wait)
                self._bucket.delay()
            try:
                assert self._session is not None
                async with self._session.post(
                    self._url("sendMessage"),
                    json={"chat_id": self._chat_id, "text": text, "disable_web_page_preview": True},
                ) as response:
                    body = await response.json(content_type=None)
                    if response.status == 200 and body.get("ok"):
                        self.stats.sent += 1
                        return
                    if response.status == 429:
                        retry = float((body.get("parameters") or {}).get("retry_after", 1))
                        log.warning("telegram rate limited: retrying in %.1fs", retry)
                        await asyncio.sleep(min(retry, 60.0))
                        continue
                    raise RuntimeError(f"HTTP {response.status}: {body.get('description', '')}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.failed += 1
                log.error("telegram alert not delivered (%s): %.80s", exc, text)
                return
        self.stats.failed += 1
        log.error("telegram alert not delivered after repeated 429s: %.80s", text)

    async def drain(self, timeout: float) -> None:
        """Give queued alerts up to ``timeout`` seconds to go out (shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()
