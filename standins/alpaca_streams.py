"""Alpaca's two websockets on the stand-in: market data (``/v2/iex`` ...) and trade updates.

Each connection is a ``StreamClient``; this module speaks both protocols (auth,
subscribe/listen, msgpack or JSON) and broadcasts each minute's bars and the
book's trade updates, honouring the faults (silence, drop after N frames).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgpack
from aiohttp import WSMsgType, web

from core.events import Bar
from standins import wire

if TYPE_CHECKING:
    from standins.server import StandIn

DATA_FEEDS = ("iex", "sip", "test", "delayed_sip")
DATA_CHANNELS = (
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


def _data_part(body: dict[str, Any]) -> dict[str, Any]:
    """A trading-stream message's ``data`` object ({} when absent or not an object)."""
    data = body.get("data")
    return data if isinstance(data, dict) else {}


class AlpacaStreams:
    """The data and trading websockets: their clients, their protocols, their broadcasts."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.data_clients: set[StreamClient] = set()
        self.trading_clients: set[StreamClient] = set()

    async def broadcast_bars(self, bars: list[Bar]) -> None:
        if self.standin.faults.silent(time.monotonic()):
            self.standin.faults.count("silenced_bar_frames")
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

    async def broadcast_trades(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if self.standin.faults.silent(time.monotonic()):
            self.standin.faults.count("silenced_trade_updates", len(events))
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
        limit = self.standin.faults.drop_after
        if limit is not None and client.frames >= limit:
            self.drop(client)
            return False
        return True

    def drop(self, client: StreamClient) -> None:
        """Cut the TCP connection without a close handshake, as a network failure does."""
        self.standin.faults.count("dropped_connections")
        self.data_clients.discard(client)
        self.trading_clients.discard(client)
        if client.transport is not None:
            client.transport.abort()

    async def data_stream(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["feed"] not in DATA_FEEDS:
            raise web.HTTPNotFound()
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        client = StreamClient(
            ws,
            request.transport,
            binary_msgpack="msgpack" in request.headers.get("Content-Type", ""),
            subscriptions={c: set() for c in DATA_CHANNELS},
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
            self.standin.faults.count("bad_stream_messages")
            await self._data_reply(client, [{"T": "error", "code": 400, "msg": "invalid syntax"}])
            return
        action = body["action"]
        if action == "auth":
            if client.authenticated:
                await self._data_reply(
                    client, [{"T": "error", "code": 403, "msg": "already authenticated"}]
                )
                return
            if (
                body.get("key") == self.standin.options.key
                and body.get("secret") == self.standin.options.secret
            ):
                client.authenticated = True
                await self._data_reply(client, [{"T": "success", "msg": "authenticated"}])
                return
            self.standin.faults.count("unauthorized")
            await self._data_reply(client, [{"T": "error", "code": 402, "msg": "auth failed"}])
            await client.ws.close()
            return
        if action in ("subscribe", "unsubscribe"):
            if not client.authenticated:
                await self._data_reply(
                    client, [{"T": "error", "code": 401, "msg": "not authenticated"}]
                )
                return
            for channel in DATA_CHANNELS:
                names = body.get(channel)
                if not isinstance(names, list):
                    continue
                chosen = {str(n).upper() if n != "*" else "*" for n in names}
                if action == "subscribe":
                    client.subscriptions[channel] |= chosen
                else:
                    client.subscriptions[channel] -= chosen
            ack: dict[str, Any] = {"T": "subscription"}
            ack.update({c: sorted(client.subscriptions[c]) for c in DATA_CHANNELS})
            await self._data_reply(client, [ack])
            return
        await self._data_reply(client, [{"T": "error", "code": 400, "msg": "invalid syntax"}])

    async def trading_stream(self, request: web.Request) -> web.StreamResponse:
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
            self.standin.faults.count("bad_stream_messages")
            await self._trading_reply(
                client, {"stream": "error", "data": {"error_message": "invalid syntax"}}
            )
            return
        action = body.get("action")
        if action in ("authenticate", "auth"):
            data_part = _data_part(body)
            key = data_part.get("key_id", body.get("key"))
            secret = data_part.get("secret_key", body.get("secret"))
            ok = key == self.standin.options.key and secret == self.standin.options.secret
            client.authenticated = ok
            status = "authorized" if ok else "unauthorized"
            await self._trading_reply(
                client,
                {"stream": "authorization", "data": {"action": "authenticate", "status": status}},
            )
            if not ok:
                self.standin.faults.count("unauthorized")
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
        self.standin.faults.count("bad_stream_messages")
        await self._trading_reply(
            client, {"stream": "error", "data": {"error_message": f"unknown action {action!r}"}}
        )
