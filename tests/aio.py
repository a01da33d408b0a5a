"""Small asyncio helpers the in-process broker tests share (IBKR, prime broker, tiers)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


def run(coro: Awaitable[_T], timeout: float = 60.0) -> _T:
    """Run a test's coroutine with a hard deadline, so a hung socket fails the test."""
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


async def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, step: float = 0.02):
    """The predicate's first truthy value, or AssertionError after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(step)
