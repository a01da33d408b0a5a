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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from core.events import Bar
from core.money import format_price, round_half_even_div
from standins import history
from standins.broker import ApiError
from standins.tws import protocol as p
from standins.tws.book import IbBook

if TYPE_CHECKING:
    from standins.server import StandIn

log = logging.getLogger("standins.tws")
_NS = 10**9
MINUTE_NS = 60 * _NS
EASTERN = ZoneInfo("US/Eastern")
ACCOUNT = "DU0000001"
ALGOS = {"Adaptive": "adaptivePriority", "Vwap": "", "Twap": ""}
_TIFS = {"DAY": "day", "GTC": "gtc", "IOC": "ioc"}
MINUTE_BARS = ("1 min", "1 mins")
DAY_BARS = ("1 day", "1 days")
HIST_WINDOW_S = 600.0  # IB: at most 60 historical requests per 10 minutes
HIST_MAX = 60
HIST_IDENTICAL_S = 15.0  # IB: identical requests at least 15 s apart


_BOOK_TYPES = {"MKT": "market", "LMT": "limit", "STP": "stop"}
"""IB order types the stand-in takes, as the book (the Alpaca stand-in's) names them."""


@dataclass
class IbOrder:
    order_id: int
    client_id: int
    perm_id: int
    symbol: str
    con_id: int
    action: str
    quantity: int
    order_type: str
    lmt_text: str
    tif: str
    account: str
    order_ref: str
    algo: str
    algo_params: tuple[tuple[str, str], ...]
    min_qty: int | None
    book_id: str  # the book's current order id (a modify replaces it)
    status: str = "PreSubmitted"
    filled: int = 0
    notional: int = 0
    last_price: int = 0
    completed_ns: int | None = None
    cancel_requested: bool = False
    aux_text: str = ""  # STP: the stop price

    @property
    def done(self) -> bool:
        return self.status in ("Filled", "Cancelled", "ApiCancelled", "Inactive")

    def view(self) -> p.OrderView:
        average = round_half_even_div(self.notional, self.filled) if self.filled else 0
        completed = (
            ""
            if self.completed_ns is None
            else _eastern(self.completed_ns).strftime("%Y%m%d %H:%M:%S US/Eastern")
        )
        return p.OrderView(
            order_id=self.order_id,
            client_id=self.client_id,
            perm_id=self.perm_id,
            con_id=self.con_id,
            symbol=self.symbol,
            action=self.action,
            quantity=self.quantity,
            order_type=self.order_type,
            lmt_price=self.lmt_text,
            tif=self.tif,
            account=self.account,
            order_ref=self.order_ref,
            algo_strategy=self.algo,
            algo_params=self.algo_params,
            status=self.status,
            filled=self.filled,
            avg_fill_price=format_price(average) if self.filled else "0",
            last_fill_price=format_price(self.last_price) if self.filled else "0",
            min_qty=self.min_qty,
            completed_time=completed,
            aux_price=self.aux_text,
        )


@dataclass
class Execution:
    view: p.ExecutionView
    time_ns: int


@dataclass(eq=False)
class Session:
    writer: asyncio.StreamWriter
    client_id: int | None = None
    positions: bool = False
    account_updates: bool = False
    account_multi: set[int] = field(default_factory=set)
    summaries: dict[int, tuple[str, ...]] = field(default_factory=dict)
    version: int = 0  # 0 until the handshake is done
    realtime: dict[int, str] = field(default_factory=dict)
    keep_up: dict[int, tuple[str, int]] = field(default_factory=dict)
    messages: int = 0


class TwsServer:
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
        self._perm_seq = 1_000_000
        self._exec_seq = 0
        self._hist_times: deque[float] = deque()
        self._hist_last: dict[tuple[object, ...], float] = {}
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
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
            "values": {k: v for k, v, c in self._account_values() if c == "USD"},
            "sessions": len(self.sessions),
            "counters": dict(self.counters),
        }

    def inject(self, fields: Sequence[object], client_id: int | None = None) -> None:
        """Send a raw message (tests: malformed server output must not break the client)."""
        for session in list(self.sessions):
            if client_id is None or session.client_id == client_id:
                self._send(session, fields)

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

    def _send(self, session: Session, fields: Sequence[object]) -> None:
        if session.writer.is_closing():
            return
        session.writer.write(p.frame(fields))
        session.messages += 1

    def _to_client(self, client_id: int, fields: Sequence[object]) -> None:
        for session in list(self.sessions):
            if session.client_id == client_id:
                self._send(session, fields)

    async def _message(self, session: Session, fields: list[str]) -> bool:
        if not session.version:
            if len(fields) == 1 and fields[0].startswith("v"):
                try:
                    version = p.negotiate(fields[0])
                except p.ProtocolError as exc:
                    self.count("bad_handshakes")
                    log.warning("TWS stand-in: %s", exc)
                    return False
                now = _eastern(self.now()).strftime("%Y%m%d %H:%M:%S US/Eastern")
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
            self._send(session, p.error(-1, 320, f"Error reading request: {exc}"))
            return True
        except Exception as exc:  # a stand-in bug must not look like a network failure
            self.count("server_errors")
            log.exception("TWS stand-in: request %s failed", fields[:2])
            self._send(session, p.error(-1, 321, f"Error validating request: {exc}"))
            return True

    def _dispatch(self, session: Session, fields: list[str]) -> bool:
        f = p.Fields(fields)
        msg = f.integer("msgId")
        if session.client_id is None and msg != 71:
            raise p.ProtocolError(msg, "msgId", msg, "sent before startApi")
        handler = self._handlers.get(msg)
        if handler is None:
            self.count("unknown_requests")
            self._send(
                session, p.error(-1, 321, f"Error validating request: unknown message id {msg}")
            )
            return True
        return handler(self, session, f) is not False

    # ---------------------------------------------------------- handlers
    def _start_api(self, session: Session, f: p.Fields) -> bool:
        f.skip("version")
        client_id = f.integer("clientId")
        if any(s.client_id == client_id for s in self.sessions if s is not session):
            self._send(
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
        self._send(session, [15, 1, ACCOUNT])
        self._send(session, [9, 1, self._next_id(client_id)])
        for code, text in (
            (2104, "Market data farm connection is OK:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
            (2158, "Sec-def data farm connection is OK:secdefnj"),
        ):
            self._send(session, p.error(-1, code, text))
        return True

    def _next_id(self, client_id: int) -> int:
        return self.next_ids.get(client_id, 1)

    def _req_ids(self, session: Session, f: p.Fields) -> None:
        f.skip("version", "numIds")
        self._send(session, [9, 1, self._next_id(session.client_id or 0)])

    def _current_time(self, session: Session, _f: p.Fields) -> None:
        self._send(session, [49, 1, self.now() // _NS])

    def _managed_accounts(self, session: Session, _f: p.Fields) -> None:
        self._send(session, [15, 1, ACCOUNT])

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
            self._send(
                session,
                p.error(req_id, 200, "No security definition has been found for the request"),
            )
            return
        trading, liquid = self._hours()
        details = p.contract_details(
            req_id, symbol, self.con_ids[symbol], f"{symbol} SIMULATED INC", trading, liquid
        )
        self._send(session, details)
        self._send(session, [52, 1, req_id])

    def _hours(self) -> tuple[str, str]:
        """tradingHours/liquidHours: this and the next sessions, IB's
        ``YYYYMMDD:HHMM-YYYYMMDD:HHMM`` in US/Eastern, closed days as ``:CLOSED``."""
        now = self.now()
        parts = []
        for open_ns, close_ns in self.market.calendar:
            if close_ns < now - 86_400 * _NS:
                continue
            o, c = _eastern(open_ns), _eastern(close_ns)
            parts.append(f"{o:%Y%m%d:%H%M}-{c:%Y%m%d:%H%M}")
            if len(parts) == 7:
                break
        text = ";".join(parts)
        return text, text

    # ------------------------------------------------------------- orders
    def _place_order(self, session: Session, f: p.Fields) -> None:
        order = p.read_place_order(f)
        client_id = session.client_id or 0
        key = (client_id, order.order_id)
        existing = self.orders.get(key)
        if existing is not None:
            self._modify(session, existing, order)
            return
        if order.order_id < self._next_id(client_id):
            self._send(session, p.error(order.order_id, 103, "Duplicate order id"))
            self.count("rejected_orders")
            return
        self.next_ids[client_id] = order.order_id + 1
        problem = self._order_problem(order)
        if problem is not None:
            self.count("rejected_orders")
            self._send(session, p.error(order.order_id, 201, f"Order rejected - reason:{problem}"))
            return
        symbol = order.contract.symbol or self.symbols[order.contract.con_id]
        quantity = int(order.total_quantity or 0)
        self._perm_seq += 1
        perm = self._perm_seq
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": order.action.lower(),
            "type": _BOOK_TYPES[order.order_type],
            "time_in_force": _TIFS[order.tif or "DAY"],
            "qty": str(quantity),
            "client_order_id": f"ib-{perm}",
        }
        if order.order_type == "LMT":
            body["limit_price"] = str(order.lmt_price)
        if order.order_type == "STP":
            body["stop_price"] = str(order.aux_price)
        now = self.now()
        try:
            answer, events = self.book.submit(now, body)
        except ApiError as exc:
            self.count("rejected_orders")
            reason = exc.body.get("message", str(exc))
            self._send(session, p.error(order.order_id, 201, f"Order rejected - reason:{reason}"))
            return
        record = IbOrder(
            order_id=order.order_id,
            client_id=client_id,
            perm_id=perm,
            symbol=symbol,
            con_id=self.con_ids[symbol],
            action=order.action,
            quantity=quantity,
            order_type=order.order_type,
            lmt_text="" if order.lmt_price is None else str(order.lmt_price.normalize()),
            tif=order.tif or "DAY",
            account=order.account or ACCOUNT,
            order_ref=order.order_ref,
            algo=order.algo_strategy,
            algo_params=tuple(order.algo_params),
            min_qty=order.min_qty,
            book_id=answer["id"],
            aux_text="" if order.aux_price is None else format(order.aux_price.normalize(), "f"),
        )
        self.orders[key] = record
        self.by_book_id[record.book_id] = record
        self._send(session, p.open_order(record.view()))
        self._send(session, p.order_status(record.view()))
        self._apply(events)

    def _order_problem(self, order: p.PlacedOrder) -> str | None:
        c = order.contract
        symbol = c.symbol or self.symbols.get(c.con_id, "")
        if c.sec_type != "STK":
            return f"secType {c.sec_type!r} is not traded here (STK only)"
        if symbol not in self.con_ids:
            return f"no security definition for {symbol!r}"
        if c.currency not in ("", "USD"):
            return f"currency {c.currency!r} is not USD"
        if order.action not in ("BUY", "SELL"):
            return f"action {order.action!r} must be BUY or SELL"
        q = order.total_quantity
        if q is None or q <= 0 or q != q.to_integral_value():
            return f"totalQuantity {q} must be a positive whole number of shares"
        if order.order_type not in _BOOK_TYPES:
            return f"order type {order.order_type!r} is not supported (MKT, LMT, STP)"
        if order.order_type == "LMT" and (order.lmt_price is None or order.lmt_price <= 0):
            return "a LMT order needs a positive lmtPrice"
        if order.order_type == "STP" and (order.aux_price is None or order.aux_price <= 0):
            return "a STP order needs a positive auxPrice (the stop price)"
        if (order.tif or "DAY") not in _TIFS:
            return f"tif {order.tif!r} is not supported (DAY, GTC, IOC)"
        if order.account not in ("", ACCOUNT):
            return f"account {order.account!r} is not managed by this login"
        if not order.transmit:
            return "transmit=False orders are not held by the stand-in"
        if order.what_if:
            return "what-if orders are not supported"
        if order.algo_strategy:
            if order.algo_strategy not in ALGOS:
                return f"algoStrategy {order.algo_strategy!r} is unknown (Adaptive, Vwap, Twap)"
            tags = dict(order.algo_params)
            if order.algo_strategy == "Adaptive":
                if tags.get("adaptivePriority") not in ("Urgent", "Normal", "Patient"):
                    return "Adaptive needs adaptivePriority Urgent, Normal or Patient"
            elif order.order_type not in ("MKT", "LMT"):
                return f"{order.algo_strategy} needs a MKT or LMT order"
        return None

    def _modify(self, session: Session, record: IbOrder, order: p.PlacedOrder) -> None:
        """placeOrder with a live order's id: new quantity/limit, orderRef may change."""
        if record.done:
            self._send(
                session,
                p.error(record.order_id, 104, "Cannot modify a filled order."),
            )
            return
        quantity = int(order.total_quantity or 0)
        if quantity <= record.filled:
            self._send(
                session,
                p.error(record.order_id, 201, "Order rejected - reason:quantity below filled"),
            )
            return
        body: dict[str, Any] = {
            "qty": str(quantity - record.filled),
            "client_order_id": f"ib-{record.perm_id}-{len(self.by_book_id)}",
        }
        if record.order_type == "LMT" and order.lmt_price is not None:
            body["limit_price"] = str(order.lmt_price)
        if record.order_type == "STP" and order.aux_price is not None and order.aux_price > 0:
            body["stop_price"] = str(order.aux_price)
        try:
            answer, events = self.book.replace(self.now(), record.book_id, body)
        except ApiError as exc:
            reason = exc.body.get("message", str(exc))
            self._send(session, p.error(record.order_id, 201, f"Order rejected - reason:{reason}"))
            return
        record.book_id = answer["id"]
        self.by_book_id[record.book_id] = record
        record.quantity = quantity
        if order.lmt_price is not None and record.order_type == "LMT":
            record.lmt_text = str(order.lmt_price.normalize())
        if "stop_price" in body and order.aux_price is not None:
            record.aux_text = format(order.aux_price.normalize(), "f")
        record.order_ref = order.order_ref or record.order_ref
        record.status = "Submitted"
        self._send(session, p.open_order(record.view()))
        self._send(session, p.order_status(record.view()))
        self._apply([e for e in events if e["event"] not in ("replaced", "new")])

    def _cancel_order(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        order_id = f.integer("orderId")
        record = self.orders.get((session.client_id or 0, order_id))
        if record is None or record.done:
            self._send(
                session,
                p.error(
                    order_id, 10147, f"OrderId {order_id} that needs to be cancelled is not found."
                ),
            )
            return
        self._cancel_record(record)

    def _cancel_record(self, record: IbOrder) -> None:
        record.cancel_requested = True
        try:
            events = self.book.cancel(self.now(), record.book_id)
        except ApiError as exc:
            self._to_client(record.client_id, p.error(record.order_id, 161, str(exc)))
            return
        self._apply(events)

    def _global_cancel(self, _session: Session, _f: p.Fields) -> None:
        for record in list(self.orders.values()):
            if not record.done:
                self._cancel_record(record)

    def _apply(self, events: list[dict[str, Any]]) -> None:
        """The book's order events → the owning client's openOrder/orderStatus/execDetails."""
        touched_positions = False
        for event in events:
            record = self.by_book_id.get(event["order"]["id"])
            if record is None:
                continue
            kind = event["event"]
            now = _parse_rfc3339(event["timestamp"])
            if kind == "new":
                if record.status == "PreSubmitted":
                    record.status = "Submitted"
                    self._to_client(record.client_id, p.order_status(record.view()))
            elif kind in ("fill", "partial_fill"):
                self._execution(record, event, now)
                touched_positions = True
            elif kind in ("canceled", "expired"):
                record.status = "Cancelled"
                record.completed_ns = now
                self._to_client(record.client_id, p.order_status(record.view()))
                self._to_client(record.client_id, p.open_order(record.view()))
                reason = "" if record.cancel_requested else "expired (end of DAY)"
                self._to_client(
                    record.client_id,
                    p.error(record.order_id, 202, f"Order Canceled - reason:{reason}"),
                )
            elif kind == "rejected":
                record.status = "Cancelled"
                record.completed_ns = now
                reason = event["order"].get("status", "")
                self._to_client(
                    record.client_id,
                    p.error(record.order_id, 201, f"Order rejected - reason:{reason}"),
                )
                self._to_client(record.client_id, p.order_status(record.view()))
        if touched_positions:
            self._push_account(positions=True)

    def _execution(self, record: IbOrder, event: dict[str, Any], now: int) -> None:
        qty, price = int(event["fill_qty"]), int(event["fill_price"])
        record.filled += qty
        record.notional += qty * price
        record.last_price = price
        record.status = "Filled" if record.filled >= record.quantity else "Submitted"
        if record.status == "Filled":
            record.completed_ns = now
        self._exec_seq += 1
        venue = event.get("venue") or ""
        exchange = "ISLAND" if venue in ("", "SIM-BROKER") else venue
        average = round_half_even_div(record.notional, record.filled)
        view = p.ExecutionView(
            exec_id=f"0000e1a7.{self._exec_seq:08x}.01.01",
            order_id=record.order_id,
            client_id=record.client_id,
            perm_id=record.perm_id,
            con_id=record.con_id,
            symbol=record.symbol,
            time_text=_eastern(now).strftime("%Y%m%d %H:%M:%S US/Eastern"),
            account=record.account,
            exchange=exchange,
            side="BOT" if record.action == "BUY" else "SLD",
            shares=qty,
            price=format_price(price),
            cum_qty=record.filled,
            avg_price=format_price(average),
            order_ref=record.order_ref,
            commission=format_price(int(event["commission"])),
        )
        self.executions.append(Execution(view, now))
        self._to_client(record.client_id, p.exec_details(-1, view))
        self._to_client(record.client_id, p.order_status(record.view()))
        if record.status == "Filled":
            self._to_client(record.client_id, p.open_order(record.view()))
        self._to_client(record.client_id, p.commission_report(view))

    def _open_orders(self, session: Session, f: p.Fields, everyone: bool = False) -> None:
        for record in self.orders.values():
            if record.done or (not everyone and record.client_id != session.client_id):
                continue
            self._send(session, p.open_order(record.view()))
            self._send(session, p.order_status(record.view()))
        self._send(session, [53, 1])

    def _all_open_orders(self, session: Session, f: p.Fields) -> None:
        self._open_orders(session, f, everyone=True)

    def _completed_orders(self, session: Session, f: p.Fields) -> None:
        for record in self.orders.values():
            if record.done:
                self._send(session, p.completed_order(record.view()))
        self._send(session, [102])

    def _req_executions(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        client_id = f.integer("filter.clientId", 0)
        account = f.text("filter.acctCode")
        since = f.text("filter.time")
        symbol = f.text("filter.symbol")
        f.skip("filter.secType", "filter.exchange")
        side = f.text("filter.side")
        since_ns = _parse_ib_time(since, "filter.time") if since else None
        for execution in self.executions:
            v = execution.view
            if client_id and v.client_id != client_id:
                continue
            if account and v.account != account:
                continue
            if symbol and v.symbol != symbol:
                continue
            if side and v.side != {"BUY": "BOT", "SELL": "SLD"}.get(side, side):
                continue
            if since_ns is not None and execution.time_ns < since_ns:
                continue
            self._send(session, p.exec_details(req_id, v))
            self._send(session, p.commission_report(v))
        self._send(session, [55, 1, req_id])

    # ---------------------------------------------------- account/positions
    def _account_values(self) -> list[tuple[str, str, str]]:
        book = self.book
        equity = book.equity()
        held = equity - book.cash
        money = format_price
        return [
            ("AccountCode", ACCOUNT, ""),
            ("AccountType", "INDIVIDUAL", ""),
            ("Currency", "USD", "USD"),
            ("NetLiquidation", money(equity), "USD"),
            ("TotalCashValue", money(book.cash), "USD"),
            ("SettledCash", money(book.cash), "USD"),
            ("CashBalance", money(book.cash), "USD"),
            ("CashBalance", money(book.cash), "BASE"),
            ("BuyingPower", money(book.buying_power()), "USD"),
            ("AvailableFunds", money(book.buying_power()), "USD"),
            ("EquityWithLoanValue", money(equity), "USD"),
            ("GrossPositionValue", money(held), "USD"),
            ("ExcessLiquidity", money(book.buying_power()), "USD"),
        ]

    def _req_positions(self, session: Session, _f: p.Fields) -> None:
        session.positions = True
        for symbol in sorted(self.book.positions):
            if self.book.positions[symbol].qty:
                self._send(session, self._position(symbol))
        self._send(session, [62, 1])

    def _position(self, symbol: str) -> list[object]:
        position = self.book.positions.get(symbol)
        qty = position.qty if position else 0
        avg = average_cost(position.cost, qty) if position else 0
        contract = p.contract_fields(self.con_ids[symbol], symbol, "")
        return [61, 3, ACCOUNT, *contract, qty, format_price(avg)]

    def _cancel_positions(self, session: Session, _f: p.Fields) -> None:
        session.positions = False

    def _account_updates(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        subscribe = f.flag("subscribe")
        account = f.text("acctCode")
        if account not in ("", ACCOUNT):
            self._send(session, p.error(-1, 321, f"Error validating request: account {account}"))
            return
        session.account_updates = subscribe
        if subscribe:
            self._send_account(session, portfolio=True)
            self._send(session, [54, 1, ACCOUNT])

    def _send_account(self, session: Session, portfolio: bool) -> None:
        for key, value, currency in self._account_values():
            self._send(session, [6, 2, key, value, currency, ACCOUNT])
        if portfolio:
            for symbol in sorted(self.book.positions):
                self._send(session, self._portfolio(symbol))
        self._send(session, [8, 1, _eastern(self.now()).strftime("%H:%M")])

    def _portfolio(self, symbol: str) -> list[object]:
        position = self.book.positions[symbol]
        price = self.book.last_price.get(symbol, 0)
        qty = position.qty
        avg = average_cost(position.cost, qty)
        value = qty * price
        return [
            7,
            8,
            self.con_ids[symbol],
            symbol,
            "STK",
            "",
            "0",
            "",
            "",
            "NASDAQ",
            "USD",
            symbol,
            "NMS",
            qty,
            format_price(price),
            format_price(value),
            format_price(avg),
            format_price(value - position.cost),
            "0",
            ACCOUNT,
        ]

    def _account_multi(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        account = f.text("account")
        f.skip("modelCode", "ledgerAndNLV")
        if account not in ("", ACCOUNT):
            self._send(
                session, p.error(req_id, 321, f"Error validating request: account {account}")
            )
            return
        session.account_multi.add(req_id)
        for key, value, currency in self._account_values():
            self._send(session, [73, 1, req_id, ACCOUNT, "", key, value, currency])
        self._send(session, [74, 1, req_id])

    def _cancel_account_multi(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.account_multi.discard(f.integer("reqId"))

    def _account_summary(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        f.skip("groupName")
        tags = tuple(t for t in f.text("tags").split(",") if t)
        session.summaries[req_id] = tags
        self._send_summary(session, req_id, tags)
        self._send(session, [64, 1, req_id])

    def _send_summary(self, session: Session, req_id: int, tags: tuple[str, ...]) -> None:
        for key, value, currency in self._account_values():
            if key in tags and currency != "BASE":
                self._send(session, [63, 1, req_id, ACCOUNT, key, value, currency])

    def _cancel_summary(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.summaries.pop(f.integer("reqId"), None)

    def _push_account(self, positions: bool) -> None:
        """After fills and each minute: what subscribed clients are kept current with."""
        for session in list(self.sessions):
            if positions and session.positions:
                for symbol in sorted(self.book.positions):
                    self._send(session, self._position(symbol))
            if session.account_updates:
                self._send_account(session, portfolio=positions)
            for req_id in sorted(session.account_multi):
                for key, value, currency in self._account_values():
                    self._send(session, [73, 1, req_id, ACCOUNT, "", key, value, currency])
            for req_id, tags in session.summaries.items():
                self._send_summary(session, req_id, tags)

    # ---------------------------------------------------------------- bars
    def _historical(self, session: Session, f: p.Fields) -> None:
        req_id = f.integer("reqId")
        contract = p.read_contract(f)
        f.skip("includeExpired")
        end_text = f.text("endDateTime")
        bar_size = f.text("barSizeSetting")
        duration = f.text("durationStr")
        f.skip("useRTH")
        what = f.text("whatToShow")
        format_date = f.integer("formatDate", 1)
        keep_up = f.flag("keepUpToDate")
        symbol = contract.symbol or self.symbols.get(contract.con_id, "")
        problem = None
        if symbol not in self.con_ids:
            problem = (200, "No security definition has been found for the request")
        elif bar_size.strip() not in MINUTE_BARS + DAY_BARS:
            problem = (321, f"Error validating request:-'bar size' {bar_size!r}: 1 min or 1 day")
        elif what != "TRADES":
            problem = (321, f"Error validating request:-'whatToShow' {what!r}: TRADES only")
        elif keep_up and end_text:
            problem = (321, "Error validating request:-'keepUpToDate' needs an empty endDateTime")
        elif format_date not in (1, 2):
            problem = (321, f"Error validating request:-'formatDate' {format_date}")
        if problem is None and self.pacing:
            problem = self._pace((symbol, end_text, bar_size, duration, what, keep_up))
        if problem is not None:
            self._send(session, p.error(req_id, *problem))
            return
        now = self.now()
        end = _parse_ib_time(end_text, "endDateTime") if end_text else now
        start = self._duration_start(duration, end)
        daily = bar_size.strip() in DAY_BARS
        tape = self.standin.tape
        first = start
        if daily:  # one bar per session, stamped at its New York midnight, once it closed
            closes = history.session_closes(self.market.calendar)
            tape = history.daily_tape(tape, [symbol], closes, now)
            first = history.new_york_midnight(start)
        times = tape.times.get(symbol, [])
        bars = tape.bars.get(symbol, [])
        chosen = bars[bisect_left(times, first) : bisect_right(times, end - 1)]
        fields: list[object] = [17, req_id, _ib_time(start), _ib_time(end), len(chosen)]
        for bar in chosen:
            fields += _bar_fields(bar, format_date, daily)
        self._send(session, fields)
        if keep_up:
            session.keep_up[req_id] = (symbol, format_date)

    def _pace(self, key: tuple[object, ...]) -> tuple[int, str] | None:
        """IB's historical-data pacing, enforced so a client that ignores it finds out."""
        wall = time.monotonic()
        while self._hist_times and wall - self._hist_times[0] > HIST_WINDOW_S:
            self._hist_times.popleft()
        last = self._hist_last.get(key)
        if len(self._hist_times) >= HIST_MAX or (
            last is not None and wall - last < HIST_IDENTICAL_S
        ):
            self.count("pacing_violations")
            return (162, "Historical Market Data Service error message:pacing violation")
        self._hist_times.append(wall)
        self._hist_last[key] = wall
        return None

    def _duration_start(self, duration: str, end: int) -> int:
        parts = duration.split()
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in ("S", "D", "W"):
            raise p.ProtocolError(20, "durationStr", duration, "is not '<n> S|D|W'")
        n, unit = int(parts[0]), parts[1]
        if unit == "S":
            return end - n * _NS
        sessions = n * (5 if unit == "W" else 1)
        opens = [o for o, _ in self.market.calendar if o < end]
        return opens[-sessions] if len(opens) >= sessions else (opens[0] if opens else end)

    def _cancel_historical(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.keep_up.pop(f.integer("reqId"), None)

    def _realtime(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        contract = p.read_contract(f)
        bar_size = f.integer("barSize")
        what = f.text("whatToShow")
        symbol = contract.symbol or self.symbols.get(contract.con_id, "")
        if symbol not in self.con_ids:
            self._send(session, p.error(req_id, 200, "No security definition has been found"))
        elif bar_size != 5 or what != "TRADES":
            self._send(session, p.error(req_id, 321, "Error validating request:-5 s TRADES only"))
        else:
            session.realtime[req_id] = symbol

    def _cancel_realtime(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.realtime.pop(f.integer("reqId"), None)

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
        self._apply(events)
        for session in list(self.sessions):
            for bar in bars:
                for req_id, symbol in session.realtime.items():
                    if symbol == bar.symbol:
                        for sub in five_second_bars(bar):
                            self._send(session, [50, 3, req_id, *sub])
                for req_id, (symbol, fmt) in session.keep_up.items():
                    if symbol == bar.symbol:
                        date, o, h, low, c, v, wap, n = _bar_fields(bar, fmt)
                        self._send(session, [90, req_id, n, date, o, c, h, low, wap, v])
        self._push_account(positions=False)
        for session in list(self.sessions):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await session.writer.drain()

    def now(self) -> int:
        return self.standin.market_now()

    _handlers: ClassVar[dict[int, Any]] = {
        3: _place_order,
        4: _cancel_order,
        5: _open_orders,
        6: _account_updates,
        7: _req_executions,
        8: _req_ids,
        9: _contract_details,
        15: _ignore,  # reqAutoOpenOrders
        16: _all_open_orders,
        17: _managed_accounts,
        20: _historical,
        25: _cancel_historical,
        49: _current_time,
        50: _realtime,
        51: _cancel_realtime,
        58: _global_cancel,
        59: _ignore,  # reqMarketDataType
        61: _req_positions,
        62: _account_summary,
        63: _cancel_summary,
        64: _cancel_positions,
        71: _start_api,
        76: _account_multi,
        77: _cancel_account_multi,
        99: _completed_orders,
    }


# ------------------------------------------------------------------ helpers


def average_cost(cost: int, qty: int) -> int:
    """IB's avgCost: the basis per share, positive for longs and shorts alike."""
    if qty == 0:
        return 0
    return round_half_even_div(cost if qty > 0 else -cost, abs(qty))


def _eastern(time_ns: int) -> datetime:
    return datetime.fromtimestamp(time_ns // _NS, tz=EASTERN)


def _ib_time(time_ns: int) -> str:
    return _eastern(time_ns).strftime("%Y%m%d %H:%M:%S")


def _parse_rfc3339(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp()) * _NS + moment.microsecond * 1000


def _parse_ib_time(text: str, name: str) -> int:
    """IB request times: ``YYYYMMDD HH:MM:SS [zone]``, ``YYYYMMDD-HH:MM:SS`` (UTC)."""
    text = text.strip()
    try:
        if "-" in text[:9] and len(text) >= 17:
            moment = datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        else:
            date_part, clock, *zone = text.split(" ", 2)
            moment = datetime.strptime(date_part + clock, "%Y%m%d%H:%M:%S")
            tz = ZoneInfo(zone[0].strip()) if zone and zone[0].strip() else EASTERN
            moment = moment.replace(tzinfo=tz)
    except (ValueError, KeyError, IndexError):
        raise p.ProtocolError(20, name, text, "is not YYYYMMDD HH:MM:SS [zone]") from None
    except Exception:  # ZoneInfoNotFoundError and friends
        raise p.ProtocolError(20, name, text, "names an unknown time zone") from None
    return int(moment.timestamp()) * _NS


def _bar_fields(bar: Bar, format_date: int, daily: bool = False) -> list[object]:
    if daily:  # IB dates a daily bar by its session, "YYYYMMDD", whatever formatDate
        date = _eastern(bar.time_ns).strftime("%Y%m%d")
    elif format_date == 2:
        date = str(bar.time_ns // _NS)
    else:
        date = _eastern(bar.time_ns).strftime("%Y%m%d %H:%M:%S US/Eastern")
    wap = (
        bar.vwap if bar.vwap is not None else round_half_even_div(bar.high + bar.low + bar.close, 3)
    )
    trades = bar.trades if bar.trades is not None else max(1, bar.volume // 100)
    return [
        date,
        format_price(bar.open),
        format_price(bar.high),
        format_price(bar.low),
        format_price(bar.close),
        bar.volume,
        format_price(wap),
        trades,
    ]


def five_second_bars(bar: Bar) -> list[list[object]]:
    """A minute bar as IB's twelve 5-second real-time bars whose aggregate is exactly it.

    The path is open → the extreme on the far side of the close → the other
    extreme → close, each held for four bars, so the twelve bars' first open,
    max high, min low, last close and summed volume are the minute's own.
    """
    up = bar.close >= bar.open
    first, second = (bar.low, bar.high) if up else (bar.high, bar.low)
    path = [bar.open] * 4 + [first] * 4 + [second] * 4 + [bar.close]
    base, extra = divmod(bar.volume, 12)
    start = bar.time_ns // _NS
    out = []
    for i in range(12):
        o, c = path[i], path[i + 1]
        volume = base + (extra if i == 11 else 0)
        out.append(
            [
                start + 5 * i,
                format_price(o),
                format_price(max(o, c)),
                format_price(min(o, c)),
                format_price(c),
                volume,
                format_price(round_half_even_div(o + c, 2)),
                max(1, volume // 100) if volume else 0,
            ]
        )
    return out
