"""The TWS API socket server: sessions, requests, and what the market pushes to them.

One asyncio TCP server beside the stand-in's HTTP app. It shares the stand-in's
simulated clock and tape (``StandIn``): historical bars come from the tape
(minutes that have ended), live bars are pushed as the publisher ends each
minute, and orders trade in an ``IbBook`` against those same bars.

Implemented requests (version 178 field layouts, see ``protocol``):
startApi, reqIds, reqCurrentTime, reqManagedAccts, reqContractDetails,
placeOrder (new and modify), cancelOrder, reqGlobalCancel, reqOpenOrders,
reqAllOpenOrders, reqCompletedOrders, reqExecutions, reqPositions /
cancelPositions, reqAccountUpdates, reqAccountUpdatesMulti / cancel,
reqAccountSummary / cancel, reqHistoricalData (1-min TRADES, with
keepUpToDate) / cancel, reqRealTimeBars (5 s) / cancel; reqMarketDataType and
reqAutoOpenOrders are accepted and ignored. Anything else is answered with
error 321 and counted.

Where each part lives: this module holds the socket, the handshake, routing by
msgId (``TwsServer._handlers``) and the session-level requests; orders are handled
in ``order_requests``, the account in ``account_requests``, bars in
``bar_requests``; the records they share in ``records``, wire formats in ``values``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from core.events import Bar
from standins.tws import protocol as p
from standins.tws.account_requests import AccountRequests
from standins.tws.bar_requests import BarRequests
from standins.tws.book import IbBook
from standins.tws.order_requests import OrderRequests
from standins.tws.records import ACCOUNT, Execution, IbOrder, Session
from standins.tws.values import NS, eastern

if TYPE_CHECKING:
    from standins.server import StandIn

log = logging.getLogger("standins.tws")
Handler = Callable[["TwsServer", Session, p.Fields], "bool | None"]


class TwsServer:
    """One TWS login: the listening socket, its client sessions and the shared state.

    The order book, orders, executions and contract ids live here because every
    request area reads them; each area's handlers are a desk object given this
    server (``order_desk``, ``account_desk``, ``bar_desk``).
    """

    def __init__(self, standin: StandIn, *, pacing: bool = True) -> None:
        self.standin = standin
        self.market = standin.market
        self.book = IbBook(self.market, standin.options.seed + 7919)
        self.pacing = pacing
        self.sessions: set[Session] = set()
        self.orders: dict[tuple[int, int], IbOrder] = {}
        self.by_book_id: dict[str, IbOrder] = {}
        self.executions: list[Execution] = []
        self.next_ids: dict[int, int] = {}
        self.con_ids = {s: 100_000 + i for i, s in enumerate(sorted(self.market.instruments))}
        self.symbols = {c: s for s, c in self.con_ids.items()}
        self.counters: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.order_desk = OrderRequests(self)
        self.account_desk = AccountRequests(self)
        self.bar_desk = BarRequests(self)
        standin.minute_listeners.append(self.on_minute)

    # ------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._connection, host, port)
        self._address = (host, int(self._server.sockets[0].getsockname()[1]))
        return self._address[1]

    async def _listen_again(self) -> None:
        """The end of an away period: the same port, listening again."""
        if self._address is None or self._server is not None:
            return
        for _attempt in range(50):
            try:
                await self.start(*self._address)
                return
            except OSError:  # the port not released yet
                await asyncio.sleep(0.1)
        self.count("reopen_failures")
        log.error("TWS stand-in: port %s could not be opened again", self._address[1])

    async def stop(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
        for session in list(self.sessions):
            session.writer.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def drop(self, client_id: int | None = None, away_s: float = 0.0) -> int:
        """Cut connections (all, or one client's) without a goodbye, as a network failure.

        ``away_s`` > 0 also closes the port for that many real seconds (TWS
        restarting: connects are refused) and listens again after: orders keep
        trading meanwhile, so a client learns of those fills only from
        ``reqExecutions`` when it is back."""
        if away_s > 0 and self._server is not None and self._address is not None:
            self._server.close()
            self._server = None
            self.count("away_periods")
            loop = asyncio.get_running_loop()
            self._reopen = loop.call_later(
                away_s, lambda: self._tasks.add(loop.create_task(self._listen_again()))
            )
        dropped = 0
        for session in list(self.sessions):
            if client_id is None or session.client_id == client_id:
                transport = session.writer.transport
                transport.abort()
                self.sessions.discard(session)
                dropped += 1
        self.count("dropped_connections", dropped)
        return dropped

    def state_json(self) -> dict[str, Any]:
        """The IB account's truth for tests to compare the gateway's records with
        (``/_control/state`` can carry it as ``tws``, as it does ``fix``)."""
        return {
            "account": ACCOUNT,
            "orders": [
                {
                    "order_ref": o.order_ref,
                    "client_id": o.client_id,
                    "order_id": o.order_id,
                    "perm_id": o.perm_id,
                    "symbol": o.symbol,
                    "action": o.action,
                    "quantity": o.quantity,
                    "filled": o.filled,
                    "status": o.status,
                    "order_type": o.order_type,
                    "algo": o.algo,
                }
                for o in self.orders.values()
            ],
            "executions": [
                {
                    "exec_id": e.view.exec_id,
                    "order_ref": e.view.order_ref,
                    "perm_id": e.view.perm_id,
                    "symbol": e.view.symbol,
                    "side": e.view.side,
                    "shares": e.view.shares,
                    "price": e.view.price,
                    "commission": e.view.commission,
                    "time_ns": e.time_ns,
                }
                for e in self.executions
            ],
            "positions": {s: p.qty for s, p in sorted(self.book.positions.items()) if p.qty},
            "values": {k: v for k, v, c in self.account_desk.account_values() if c == "USD"},
            "sessions": len(self.sessions),
            "counters": dict(self.counters),
        }

    def inject(self, fields: Sequence[object], client_id: int | None = None) -> None:
        """Send a raw message (tests: malformed server output must not break the client)."""
        for session in list(self.sessions):
            if client_id is None or session.client_id == client_id:
                self.send(session, fields)

    # ------------------------------------------------------------ the wire
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        session = Session(writer)
        frames = p.FrameReader()
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    messages = frames.feed(data)
                except p.ProtocolError as exc:
                    self.count("bad_frames")
                    log.warning("TWS stand-in: %s; closing", exc)
                    break
                for fields in messages:
                    if not await self._message(session, fields):
                        return
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.sessions.discard(session)
            with contextlib.suppress(Exception):
                writer.close()

    def send(self, session: Session, fields: Sequence[object]) -> None:
        if session.writer.is_closing():
            return
        session.writer.write(p.frame(fields))
        session.messages += 1

    def to_client(self, client_id: int, fields: Sequence[object]) -> None:
        for session in list(self.sessions):
            if session.client_id == client_id:
                self.send(session, fields)

    async def _message(self, session: Session, fields: list[str]) -> bool:
        if not session.version:
            if len(fields) == 1 and fields[0].startswith("v"):
                try:
                    version = p.negotiate(fields[0])
                except p.ProtocolError as exc:
                    self.count("bad_handshakes")
                    log.warning("TWS stand-in: %s", exc)
                    return False
                now = eastern(self.now()).strftime("%Y%m%d %H:%M:%S US/Eastern")
                session.writer.write(p.frame([version, now]))
                session.version = version
                self.sessions.add(session)
                return True
            self.count("bad_handshakes")
            return False
        if not fields:
            self.count("bad_requests")
            return True
        try:
            return self._dispatch(session, fields)
        except p.ProtocolError as exc:
            self.count("bad_requests")
            self.send(session, p.error(-1, 320, f"Error reading request: {exc}"))
            return True
        except Exception as exc:  # a stand-in bug must not look like a network failure
            self.count("server_errors")
            log.exception("TWS stand-in: request %s failed", fields[:2])
            self.send(session, p.error(-1, 321, f"Error validating request: {exc}"))
            return True

    def _dispatch(self, session: Session, fields: list[str]) -> bool:
        f = p.Fields(fields)
        msg = f.integer("msgId")
        if session.client_id is None and msg != 71:
            raise p.ProtocolError(msg, "msgId", msg, "sent before startApi")
        handler = self._handlers.get(msg)
        if handler is None:
            self.count("unknown_requests")
            self.send(
                session, p.error(-1, 321, f"Error validating request: unknown message id {msg}")
            )
            return True
        return handler(self, session, f) is not False

    # ---------------------------------------------------------- handlers
    def _start_api(self, session: Session, f: p.Fields) -> bool:
        f.skip("version")
        client_id = f.integer("clientId")
        if any(s.client_id == client_id for s in self.sessions if s is not session):
            self.send(
                session,
                p.error(
                    -1,
                    326,
                    "Unable to connect as the client id is already in use. "
                    "Retry with a unique client id.",
                ),
            )
            return False
        session.client_id = client_id
        self.send(session, [15, 1, ACCOUNT])
        self.send(session, [9, 1, self.next_id(client_id)])
        for code, text in (
            (2104, "Market data farm connection is OK:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
            (2158, "Sec-def data farm connection is OK:secdefnj"),
        ):
            self.send(session, p.error(-1, code, text))
        return True

    def next_id(self, client_id: int) -> int:
        return self.next_ids.get(client_id, 1)

    def _req_ids(self, session: Session, f: p.Fields) -> None:
        f.skip("version", "numIds")
        self.send(session, [9, 1, self.next_id(session.client_id or 0)])

    def _current_time(self, session: Session, _f: p.Fields) -> None:
        self.send(session, [49, 1, self.now() // NS])

    def _managed_accounts(self, session: Session, _f: p.Fields) -> None:
        self.send(session, [15, 1, ACCOUNT])

    def _ignore(self, _session: Session, _f: p.Fields) -> None:
        return None

    def _contract_details(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        contract = p.read_contract(f)
        symbol = self.symbols.get(contract.con_id, "") if contract.con_id else contract.symbol
        known = (
            symbol in self.con_ids
            and contract.sec_type in ("", "STK")
            and contract.currency in ("", "USD")
            and (not contract.symbol or contract.symbol == symbol)
        )
        if not known:
            self.send(
                session,
                p.error(req_id, 200, "No security definition has been found for the request"),
            )
            return
        trading, liquid = self._hours()
        details = p.contract_details(
            req_id, symbol, self.con_ids[symbol], f"{symbol} SIMULATED INC", trading, liquid
        )
        self.send(session, details)
        self.send(session, [52, 1, req_id])

    def _hours(self) -> tuple[str, str]:
        """tradingHours/liquidHours: this and the next sessions, IB's
        ``YYYYMMDD:HHMM-YYYYMMDD:HHMM`` in US/Eastern, closed days as ``:CLOSED``."""
        now = self.now()
        parts = []
        for open_ns, close_ns in self.market.calendar:
            if close_ns < now - 86_400 * NS:
                continue
            o, c = eastern(open_ns), eastern(close_ns)
            parts.append(f"{o:%Y%m%d:%H%M}-{c:%Y%m%d:%H%M}")
            if len(parts) == 7:
                break
        text = ";".join(parts)
        return text, text

    # ------------------------------------------------------------- orders

    # ---------------------------------------------------- account/positions

    # ---------------------------------------------------------------- bars

    async def on_minute(self, bars: list[Bar]) -> None:
        """The publisher ended a minute: trade the book, then push bars and account.

        Runs inside the shared publisher: a failure here is logged and counted,
        never allowed to stop the other stand-ins' market."""
        try:
            await self._minute(bars)
        except Exception:
            self.count("minute_errors")
            log.exception("TWS stand-in: publishing a minute failed")

    async def _minute(self, bars: list[Bar]) -> None:
        events: list[dict[str, Any]] = []
        for bar in bars:
            events.extend(self.book.on_bar(bar))
        self.order_desk.apply(events)
        self.bar_desk.push(bars)
        self.account_desk.push_account(positions=False)
        for session in list(self.sessions):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await session.writer.drain()

    def now(self) -> int:
        return self.standin.market_now()

    # msgId → handler(server, session, fields); a handler returning False closes the
    # connection. The per-area handlers live in order_requests, account_requests and
    # bar_requests; the session-level ones (handshake, ids, time, contracts) here.
    _handlers: ClassVar[dict[int, Handler]] = {
        3: lambda tws, s, f: tws.order_desk.place_order(s, f),
        4: lambda tws, s, f: tws.order_desk.cancel_order(s, f),
        5: lambda tws, s, f: tws.order_desk.open_orders(s, f),
        6: lambda tws, s, f: tws.account_desk.account_updates(s, f),
        7: lambda tws, s, f: tws.order_desk.req_executions(s, f),
        8: _req_ids,
        9: _contract_details,
        15: _ignore,  # reqAutoOpenOrders
        16: lambda tws, s, f: tws.order_desk.all_open_orders(s, f),
        17: _managed_accounts,
        20: lambda tws, s, f: tws.bar_desk.historical(s, f),
        25: lambda tws, s, f: tws.bar_desk.cancel_historical(s, f),
        49: _current_time,
        50: lambda tws, s, f: tws.bar_desk.realtime(s, f),
        51: lambda tws, s, f: tws.bar_desk.cancel_realtime(s, f),
        58: lambda tws, s, f: tws.order_desk.global_cancel(s, f),
        59: _ignore,  # reqMarketDataType
        61: lambda tws, s, f: tws.account_desk.req_positions(s, f),
        62: lambda tws, s, f: tws.account_desk.account_summary(s, f),
        63: lambda tws, s, f: tws.account_desk.cancel_summary(s, f),
        64: lambda tws, s, f: tws.account_desk.cancel_positions(s, f),
        71: _start_api,
        76: lambda tws, s, f: tws.account_desk.account_multi(s, f),
        77: lambda tws, s, f: tws.account_desk.cancel_account_multi(s, f),
        99: lambda tws, s, f: tws.order_desk.completed_orders(s, f),
    }
