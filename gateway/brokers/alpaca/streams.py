"""Alpaca's two websockets (minute bars, trade updates) as raw-message handlers.

Streams are read raw (``raw_data=True``) so a malformed message is ours to
reject with a clear ``BadInput`` (handed to ``on_bad``) instead of dying
inside the library's parser. Their ``_run_forever()`` coroutines run as
tasks inside the gateway's loop, the documented way to run several streams
together (alpaca-py issue #476).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from alpaca.trading.stream import TradingStream

from core.errors import BadInput
from gateway.brokers.alpaca.mapping import bar_from_raw, trade_event_from_raw
from gateway.brokers.base import OnBad, OnBar, OnTrade

RawHandler = Callable[[Any], Awaitable[None]]


class ReportingTradingStream(TradingStream):
    """TradingStream that tells us each time it (re)connects, so the runtime can
    fetch by REST whatever happened while it was away."""

    def __init__(self, *args: Any, on_connected: Callable[[], Awaitable[None]], **kw: Any):
        super().__init__(*args, **kw)
        self._on_connected = on_connected

    async def _start_ws(self) -> None:
        await super()._start_ws()
        self._notifying = asyncio.ensure_future(self._on_connected())  # held: not GC-ed


def handlers(on_bar: OnBar, on_trade: OnTrade, on_bad: OnBad) -> tuple[RawHandler, RawHandler]:
    """The raw-message handlers given to alpaca-py's streams: parse, or reject."""

    async def bar_handler(raw: Any) -> None:
        try:
            symbol = raw.get("S") if isinstance(raw, dict) else None
            bar = bar_from_raw(symbol, raw)
        except BadInput as exc:
            await on_bad("bar", exc)
            return
        await on_bar(bar)

    async def trade_handler(raw: Any) -> None:
        try:
            event = trade_event_from_raw(raw)
        except BadInput as exc:
            await on_bad("trade_update", exc)
            return
        await on_trade(event)

    return bar_handler, trade_handler


def ws_open(stream: object | None) -> bool | None:
    """Whether an alpaca-py stream's websocket is open (``None``: no stream yet).

    alpaca-py keeps the socket in the private ``_ws`` (``None`` between
    connections); its ``state`` is websockets' State enum, OPEN when usable.
    """
    if stream is None:
        return None
    ws = getattr(stream, "_ws", None)
    if ws is None:
        return False
    state = getattr(ws, "state", None)
    if state is not None:  # websockets' State enum: OPEN is 1
        return bool(getattr(state, "name", str(state)) == "OPEN")
    return not getattr(ws, "closed", False)
