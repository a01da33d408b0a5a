"""Alpaca's REST calls under one back-off policy, off the event loop.

alpaca-py's REST clients are synchronous (``requests``), so every call runs in
a worker thread and never stalls the event loop. HTTP 429 is not left to
alpaca-py's fixed 3 s retry: the clients are built to surface it
(``tune_client``), and ``RestCalls.call`` backs off exponentially with jitter
(or by the ``Retry-After`` header when the server sends one). A transport
failure is named (``transport_failure``): DNS and TLS fail at once, what a
retry can mend is retried.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from alpaca.common.exceptions import APIError
from pydantic import ValidationError

from core.errors import BadInput
from gateway.brokers.alpaca.mapping import first_error
from gateway.brokers.base import NotFound, RejectedRequest

log = logging.getLogger("gateway.alpaca")

_FIRST_DELAY = 0.25
REST_TIMEOUT_S = 15.0
"""Longest wait for one REST reply before it counts as a transport error and is
retried with back-off (Alpaca answers in well under a second)."""
_T = TypeVar("_T")


def tune_client(client: Any) -> None:
    """Surface 429 to ``RestCalls`` and give every request a timeout.

    alpaca-py sleeps a fixed 3 s on 429 inside the worker thread; we want the
    429 surfaced so ``RestCalls`` backs off (and counts) itself. These are the
    constructor's own settings, which the client classes do not expose.
    requests has no default timeout: a reply that never comes would hold a
    worker thread (and whatever awaits it) forever."""
    client._retry_codes = [504]
    client._retry_wait = 1
    client._session.request = functools.partial(client._session.request, timeout=REST_TIMEOUT_S)


class RestCalls:
    """Blocking alpaca-py calls run in a thread pool, with one shared back-off."""

    def __init__(self, max_retries: int, max_backoff: float) -> None:
        self.max_retries = max_retries
        self.max_backoff = max_backoff
        self.rate_limited = 0
        self._delay = _FIRST_DELAY
        self._not_before = 0.0
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="alpaca-rest")

    async def call(self, what: str, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking alpaca-py call in a thread; back off on 429 and transport errors.

        The back-off is shared by every caller: once Alpaca says 429, no request
        goes out before the shared "not before" time (``Retry-After`` when given,
        else exponential with jitter, reset by the next success), so a storm is
        met with silence rather than with each task hammering on its own."""
        loop = asyncio.get_running_loop()
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            pause = self._not_before - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            try:
                result = await loop.run_in_executor(self._pool, functools.partial(fn, *args))
            except APIError as exc:
                status = exc.status_code
                if status == 429 or (status is not None and status >= 500):
                    if status == 429:
                        self.rate_limited += 1
                    last = f"HTTP {status}: {_api_message(exc)}"
                    wait = self._back_off(_retry_after(exc))
                    log.warning(
                        "alpaca %s: HTTP %s, backing off %.2fs (attempt %d)",
                        what,
                        status,
                        wait,
                        attempt + 1,
                        extra={"sv_event": "rate_limited" if status == 429 else "server_error"},
                    )
                    continue
                reason = _api_message(exc)
                if status == 404:
                    raise NotFound(status, reason) from None
                raise RejectedRequest(status, reason) from None
            except ValidationError as exc:
                raise BadInput(f"alpaca.{what}", "reply", first_error(exc)) from None
            except Exception as exc:  # transport: OSError, requests/urllib3 errors
                if isinstance(exc, OSError | ConnectionError) or type(exc).__module__.startswith(
                    ("requests", "urllib3")
                ):
                    last, retryable = transport_failure(exc)
                    if not retryable:  # a DNS or TLS failure does not mend by waiting
                        raise TransportFailure(f"{what}: {last}") from None
                    wait = self._back_off(None)
                    log.warning("alpaca %s: %s, retrying in %.2fs", what, last, wait)
                    continue
                raise
            self._delay = _FIRST_DELAY
            return result
        raise TransportFailure(f"{what}: {last} (still failing after {self.max_retries} retries)")

    def _back_off(self, retry_after: float | None) -> float:
        wait = retry_after if retry_after is not None else self._delay * (1 + random.random())
        wait = min(wait, self.max_backoff)
        self._delay = min(self._delay * 2, self.max_backoff)
        self._not_before = max(self._not_before, time.monotonic() + wait)
        return wait

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _retry_after(exc: APIError) -> float | None:
    response = exc.response
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class TransportFailure(RejectedRequest):
    """A request that never got a usable answer: says what failed (DNS, refused,
    TLS, timeout, or the last HTTP status and the body's message)."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)
        self.args = (reason,)

    def __str__(self) -> str:
        return self.reason


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes/contexts and urllib3's ``reason``, outermost first."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen) or len(seen) > 20:
            continue
        seen.append(item)
        reason = getattr(item, "reason", None)
        todo += [reason if isinstance(reason, BaseException) else None]
        todo += [item.__cause__, item.__context__]
        todo += [a for a in getattr(item, "args", ()) if isinstance(a, BaseException)]
    return seen


def transport_failure(exc: BaseException) -> tuple[str, bool]:
    """(what failed, whether a retry can fix it) for a transport exception.

    DNS and TLS failures are configuration problems (a wrong host, a bad
    certificate): retrying only delays the answer. A refused connection, a
    reset or a timeout can be a server restarting or a network blip: retry."""
    import socket
    import ssl

    chain = _chain(exc)
    names = " ".join(type(e).__name__ for e in chain)
    # urllib3 keeps the pool (MaxRetryError) or connection (NewConnectionError) in
    # the instance dict; read it there, not through the deprecated properties.
    pools = [vars(e).get("pool") or vars(e).get("conn") for e in chain]
    pairs = zip(chain, pools, strict=True)
    hosts = [getattr(e, "host", None) or getattr(p, "host", None) for e, p in pairs]
    host = next((h for h in hosts if isinstance(h, str) and h), None)
    where = f" ({host})" if host else ""
    if any(isinstance(e, socket.gaierror) for e in chain) or "NameResolutionError" in names:
        return f"DNS lookup failed{where}: the host name does not resolve", False
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSLError" in names:
        return f"TLS failed{where}: {chain[-1]}", False
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return f"connection refused{where}: nothing is listening there", True
    if any(isinstance(e, TimeoutError) for e in chain) or "Timeout" in names:
        return f"timed out{where} waiting for the server", True
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return f"connection reset{where}", True
    return f"{type(exc).__name__}: {exc}", True


def _api_message(exc: APIError) -> str:
    try:
        return str(exc.message)
    except Exception:
        return str(exc)[:200]
