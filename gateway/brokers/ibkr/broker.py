"""Interactive Brokers through ``ib_async``: TWS / IB Gateway API socket, mapped to core types.

How the IB model maps onto the ``Broker`` protocol:

* **Ids.** IB order ids are per-client integers and do not survive a reset of
  the API id sequence; the engine's broker client id travels in ``orderRef``,
  which TWS keeps on the order, its executions and completed orders. That is
  the persistent map: after a reconnect or a gateway restart ``ib_async``
  reloads open orders, completed orders and today's executions, and every one
  of them names its broker client id again. ``broker_order_id`` is IB's
  ``permId`` (unique and stable per account).
* **Executions are the truth.** A ``Fill`` is built from ``execDetails``
  (exec id, shares, price, cumulative quantity), never from ``orderStatus``;
  its fee comes from the ``commissionReport`` that follows (waited for up to
  ``commission_wait`` seconds). Exec ids already delivered are remembered, so a
  reconnect's ``reqExecutions`` replay books only what was missed.
* **Reconnects.** TWS/IB Gateway restarts nightly; the socket drop triggers a
  reconnect loop with exponential back-off (and jitter), then real-time bars
  are resubscribed (contracts are qualified once: conIds are stable), missed
  executions reconciled and ``on_trading_connected`` called so the runtime
  reconciles orders.
* **Bars.** Warm-up and gap backfill through ``reqHistoricalData`` (1 min
  TRADES, RTH, epoch dates) under ``HistoricalPacer`` (IB's pacing rules);
  live minutes are IB's 5-second real-time bars aggregated, a minute emitted
  once its 12th bar (second :55) arrives. A minute with a missing 5-second bar
  is dropped (counted): the runtime sees the gap and backfills it.
* **Algos.** For the semi-institutional tier a child's ``algo`` picks IB's own
  algo: ``adaptive`` → ``Adaptive`` (priority from ``adaptive:<priority>`` or
  Urgent for market, Normal for limit orders), ``vwap`` → ``Vwap``, ``twap`` →
  ``Twap`` (both bounded to ``algo_horizon_s`` of market time). Other engine
  algorithms (pov, iceberg, is, market) send plain orders: the engine slices.
* **Bad input.** A reply that cannot be mapped raises ``BadInput``; a message
  ``ib_async`` itself cannot decode (it logs and drops those) is detected
  around its decoder and reported through ``on_bad``.

Prices cross the wire as decimal text and reach us as floats; they are turned
into ``Decimal`` through their shortest ``repr`` and quantized to nano-units.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ib_async import IB, Contract, Stock, Trade
from ib_async import Fill as IbFill

from core.commands import OrderUpdate, OrdStatus, ReplaceOrder, SubmitOrder
from core.errors import BadInput
from core.events import Bar
from gateway.brokers.base import (
    Account,
    BrokerOrder,
    MarketClock,
    NotFound,
    RejectedRequest,
    StreamSinks,
    TradeEvent,
)
from gateway.brokers.ibkr.mapping import (
    DIRECT_ROUTES,
    NANO,
    NS,
    broker_order,
    commission_fee,
    error_code,
    error_text,
    fill_event,
    ib_order,
    market_clock,
    order_ref,
    parse_liquid_hours,
    to_money,
    to_ns,
    to_price,
    to_whole,
    was_rejected,
)
from gateway.brokers.ibkr.pacing import HistoricalPacer, MinuteAggregator
from gateway.config import IbkrConfig

log = logging.getLogger("gateway.ibkr")

_decoding: list[IbkrBroker] = []


class _DecodeFailures(logging.Handler):
    """``ib_async``'s decoder logs (and drops) messages it cannot decode; while one of
    our brokers is decoding, such a record is that broker's bad input."""

    def emit(self, record: logging.LogRecord) -> None:
        if _decoding and record.levelno >= logging.ERROR:
            _decoding[-1]._decode_failed(record.getMessage())


_DECODE_HANDLER = _DecodeFailures()
logging.getLogger("ib_async.Decoder").addHandler(_DECODE_HANDLER)


class IbkrBroker:
    name = "ibkr"

    def __init__(
        self,
        config: IbkrConfig,
        symbols: Sequence[str],
        *,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
        max_backoff: float = 60.0,
        commission_wait: float = 2.0,
        pacer: HistoricalPacer | None = None,
        use_ib_algos: bool = True,
        algo_horizon_s: int = 300,
        volume_multiplier: int = 1,
        pacing_retry_s: float = 15.0,
    ) -> None:
        self._config = config
        self._symbols = list(symbols)
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._max_backoff = max_backoff
        self._commission_wait = commission_wait
        self._use_algos = use_ib_algos
        self._algo_horizon_ns = algo_horizon_s * NS
        self._volume_multiplier = volume_multiplier
        self.pacer = pacer or HistoricalPacer()
        self.pacing_retry_s = pacing_retry_s
        self.ib = IB()
        self.ib.RequestTimeout = request_timeout
        self._contracts: dict[str, Contract] = {}
        self._connected = asyncio.Event()
        self._generation = 0  # +1 per lost connection: answers on an old one never come
        self._syncing: int | None = None  # generation whose replayed executions are queued
        self._callbacks: set[asyncio.Task[None]] = set()  # on_trading_connected runs
        self._callback_lock = asyncio.Lock()
        self._closing = False
        self._connector: asyncio.Task[None] | None = None
        self._seen: set[str] = set()
        self._pending: dict[str, tuple[Trade | None, IbFill, asyncio.TimerHandle]] = {}
        self._statuses: dict[tuple[str, int], str] = {}
        self._refused: set[str] = set()  # refused in submit(): told by exception
        self._submitting: set[str] = set()  # submit() awaiting TWS's first answer
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._sinks: StreamSinks | None = None
        self._realtime: dict[str, Any] = {}
        self._aggregators: dict[str, MinuteAggregator] = {}
        self._sessions: list[tuple[int, int]] = []
        self._market_now_ns = 0
        self._decode_error: str | None = None
        self.bad_bars: list[BadInput] = []
        self.rate_limited = 0
        self.reconnects = 0
        self.bad_messages = 0
        self.incomplete_minutes = 0
        self.reconciled_fills = 0  # executions booked from reqExecutions after a reconnect
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.execDetailsEvent += self._on_exec
        self.ib.commissionReportEvent += self._on_commission
        self.ib.orderStatusEvent += self._on_status

    # ------------------------------------------------------- connection
    async def connect(self) -> None:
        """Connect (retrying with back-off until TWS answers), then resynchronise."""
        delay = 0.5
        attempt = 0
        while not self._closing:
            attempt += 1
            try:
                await self.ib.connectAsync(
                    self._config.host,
                    self._config.port,
                    self._config.client_id,
                    timeout=self._connect_timeout,
                    account=self._config.account_id,
                )
                self._hook_decoder()
                await self._after_connect()
                if self.ib.isConnected():
                    return
                # Dropped while resynchronising: _on_disconnected saw this task
                # still running and left the reconnecting to this loop.
                raise ConnectionError("connection lost while resynchronising")
            except (OSError, ConnectionError, TimeoutError) as exc:
                if self.ib.isConnected():  # connected, but resynchronising failed
                    self.ib.disconnect()
                wait = min(delay * (1 + random.random()), self._max_backoff)
                log.warning(
                    "TWS %s:%s not reachable (%s); retry %d in %.1fs",
                    self._config.host,
                    self._config.port,
                    exc or type(exc).__name__,
                    attempt,
                    wait,
                )
                await asyncio.sleep(wait)
                delay = min(delay * 2, self._max_backoff)

    def _hook_decoder(self) -> None:
        decoder = self.ib.client.decoder
        if getattr(decoder, "_sovereign_hooked", False):
            return
        original = decoder.interpret

        def interpret(fields: list[str]) -> None:
            _decoding.append(self)
            self._decode_error = None
            try:
                original(fields)
            finally:
                _decoding.pop()
            if self._decode_error is not None:
                self.bad_messages += 1
                shown = ",".join(fields[:6]) + ("…" if len(fields) > 6 else "")
                self._enqueue(
                    "bad",
                    ("tws message", BadInput("tws.message", shown, "cannot be decoded")),
                )

        decoder.interpret = interpret
        decoder._sovereign_hooked = True

    def _decode_failed(self, message: str) -> None:
        self._decode_error = message

    async def _after_connect(self) -> None:
        await self._qualify(self._symbols)
        generation = self._generation
        log.info(
            "connected to TWS %s:%s as client %d (server version %d)",
            self._config.host,
            self._config.port,
            self._config.client_id,
            self.ib.client.serverVersion(),
        )
        if self._sinks is None:
            self._connected.set()
            return
        self._subscribe_bars()
        await self._reconcile_executions()
        # Requests (``_ready``) wait until the executions missed while away have
        # been delivered: a reconciliation that read a completed order first
        # would book its quantity as a synthetic fill, and TWS's real
        # executions (ids, commissions) would then be dropped as already booked.
        self._syncing = generation
        self._enqueue("synced", generation)
        self._enqueue("connected", None)

    async def _qualify(self, symbols: Sequence[str]) -> None:
        wanted = [s for s in symbols if s not in self._contracts]
        if not wanted:
            return
        contracts = [Stock(s, "SMART", "USD") for s in wanted]
        qualified = await self.ib.qualifyContractsAsync(*contracts)
        for symbol, contract in zip(wanted, qualified, strict=True):
            if isinstance(contract, Contract) and contract.conId:
                self._contracts[symbol] = contract
            else:
                log.warning("IB has no unique STK/SMART/USD contract for %s", symbol)

    def _on_disconnected(self) -> None:
        self._connected.clear()
        self._generation += 1
        if self._closing:
            return
        self.reconnects += 1
        log.warning("TWS connection lost; reconnecting", extra={"sv_event": "tws_disconnected"})
        for _, _, timer in self._pending.values():
            timer.cancel()
        self._pending.clear()  # reqExecutions after the reconnect books them with fees
        if self._connector is None or self._connector.done():
            self._connector = asyncio.get_event_loop().create_task(self.connect())

    def _ensure_connecting(self) -> None:
        """Start the reconnect loop unless it runs, or the socket is up and only the
        delivery of the replayed executions is awaited. A socket left up by a
        resynchronisation that failed half-way is closed: the disconnect handler
        then starts over."""
        if self._closing or (self._connector is not None and not self._connector.done()):
            return
        if self.ib.isConnected():
            if self._syncing != self._generation:
                self.ib.disconnect()
            return
        self._connector = asyncio.get_running_loop().create_task(self.connect())

    async def _ready(self) -> None:
        if self._connected.is_set():
            return
        self._ensure_connecting()
        try:
            await asyncio.wait_for(self._connected.wait(), self._request_timeout)
        except TimeoutError:
            raise RejectedRequest(None, "not connected to TWS / IB Gateway") from None

    # --------------------------------------------------------- requests
    async def account(self) -> Account:
        await self._ready()
        values = {
            (v.tag, v.currency): v.value
            for v in self.ib.accountValues(self._config.account_id)
            if not v.modelCode
        }
        if ("NetLiquidation", "USD") not in values:
            summary = await self.ib.accountSummaryAsync(self._config.account_id)
            values.update({(v.tag, v.currency): v.value for v in summary})

        def money(tag: str) -> int:
            if (tag, "USD") not in values:
                raise BadInput(f"account.{tag}", None, "is missing from the account values")
            return to_money(values[(tag, "USD")], f"account.{tag}")

        return Account(
            equity=money("NetLiquidation"),
            cash=money("TotalCashValue"),
            buying_power=money("BuyingPower"),
            status="ACTIVE",
        )

    async def clock(self) -> MarketClock:
        await self._ready()
        now = await asyncio.wait_for(self.ib.reqCurrentTimeAsync(), self._request_timeout)
        now_ns = to_ns(now, "currentTime")
        self._market_now_ns = max(self._market_now_ns, now_ns)
        if sum(1 for o, _ in self._sessions if o > now_ns) < 1:
            await self._load_sessions()
        return market_clock(now_ns, self._sessions)

    async def _load_sessions(self) -> None:
        symbol = next(iter(self._contracts), None)
        if symbol is None:
            raise BadInput("contract", self._symbols[:1], "could not be qualified at IB")
        details = await self.ib.reqContractDetailsAsync(self._contracts[symbol])
        if not details:
            raise BadInput("contractDetails", symbol, "came back empty")
        self._sessions = parse_liquid_hours(details[0].liquidHours, details[0].timeZoneId)

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder:
        """Place the order once per broker client id.

        If the socket dies before TWS answers, whether the order arrived is only
        known after the reconnect, from TWS's own open and completed orders
        (``orderRef``): found, it is returned; not found, it is placed again.
        """
        trade: Trade | None = None
        for _attempt in range(3):
            await self._ready()
            existing = self._trade(broker_client_id)
            if existing is not None and broker_client_id in self._refused:
                raise RejectedRequest(error_code(existing), error_text(existing))
            if existing is not None and existing is not trade:  # TWS already has it
                return broker_order(existing)
            contract = await self._contract(command.symbol, command.venue)
            order = ib_order(
                command,
                broker_client_id,
                self._config.account_id,
                use_algos=self._use_algos,
                algo_end=self._algo_end(),
            )
            self._submitting.add(broker_client_id)
            generation = self._generation
            try:
                trade = self.ib.placeOrder(contract, order)
                await self._acknowledged(trade, generation)
            except ConnectionError:
                continue  # the socket went between _ready() and the send
            finally:
                self._submitting.discard(broker_client_id)
            if trade.orderStatus.status in ("PendingSubmit", "") and (
                self._generation != generation or not self._connected.is_set()
            ):
                log.warning(
                    "TWS went away before answering %s; checking after reconnect", broker_client_id
                )
                continue
            if trade.orderStatus.status in (
                "Cancelled",
                "ApiCancelled",
                "Inactive",
            ) and was_rejected(trade):
                # The runtime books the refusal from this exception; the same news from
                # the status stream would be a second, conflicting answer.
                self._refused.add(broker_client_id)
                raise RejectedRequest(error_code(trade), error_text(trade))
            return broker_order(trade)
        raise RejectedRequest(None, f"order {broker_client_id}: TWS kept dropping the connection")

    def _algo_end(self) -> str:
        """IB algo ``endTime``: ``algo_horizon_s`` after the last known market time."""
        if not self._market_now_ns:
            return ""
        moment = datetime.fromtimestamp(
            (self._market_now_ns + self._algo_horizon_ns) // NS, tz=ZoneInfo("US/Eastern")
        )
        return moment.strftime("%H:%M:%S US/Eastern")

    async def _acknowledged(self, trade: Trade, generation: int) -> None:
        """Wait until TWS answers an order (status beyond PendingSubmit, or done), or
        the connection it was sent on is gone (even if a new one is already up)."""
        deadline = time.monotonic() + self._request_timeout
        answered = asyncio.Event()

        def on_status(_trade: Trade) -> None:
            answered.set()

        trade.statusEvent += on_status
        try:
            while trade.orderStatus.status in ("PendingSubmit", "") and not trade.isDone():
                if (
                    time.monotonic() > deadline
                    or not self._connected.is_set()
                    or self._generation != generation
                ):
                    return
                answered.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), 0.05)  # woken by the answer
        finally:
            trade.statusEvent -= on_status

    async def _contract(self, symbol: str, venue: str | None) -> Contract:
        if symbol not in self._contracts:
            await self._qualify([symbol])
        contract = self._contracts.get(symbol)
        if contract is None:
            raise NotFound(None, f"no IB contract for {symbol}")
        if venue and venue.upper() in DIRECT_ROUTES:
            return Stock(
                symbol,
                venue.upper(),
                "USD",
                conId=contract.conId,
                primaryExchange=contract.primaryExchange,
            )
        return contract

    def _trade(self, broker_client_id: str) -> Trade | None:
        found = [t for t in self.ib.trades() if order_ref(t) == broker_client_id]
        if not found:
            return None
        live = [t for t in found if not t.isDone()]
        return (live or found)[-1]

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        """The order TWS holds under this id; None for one TWS refused on arrival
        (as with Alpaca, a refused submission leaves no order behind)."""
        await self._ready()
        trade = self._trade(broker_client_id)
        if trade is None or broker_client_id in self._refused:
            return None
        return broker_order(trade)

    async def cancel(self, broker_client_id: str) -> None:
        await self._ready()
        trade = self._trade(broker_client_id)
        if trade is None:
            raise NotFound(None, f"order {broker_client_id} is not known to TWS")
        if trade.isDone():
            raise RejectedRequest(None, f"order is already {trade.orderStatus.status}")
        self.ib.cancelOrder(trade.order)

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        """IB modifies in place: the same order id re-sent with the new total quantity
        and limit; ``orderRef`` becomes the new broker client id."""
        await self._ready()
        trade = self._trade(broker_client_id)
        if trade is None:
            raise NotFound(None, f"order {broker_client_id} is not known to TWS")
        if trade.isDone():
            raise RejectedRequest(None, f"order is already {trade.orderStatus.status}")
        trade.order.totalQuantity = command.quantity
        if command.limit_price is not None:
            if trade.order.orderType != "LMT":
                raise RejectedRequest(None, "only limit orders take a new limit price")
            trade.order.lmtPrice = float((Decimal(command.limit_price) * NANO).normalize())
        if command.stop_price is not None:
            if trade.order.orderType != "STP":
                raise RejectedRequest(None, "only stop orders take a new stop price")
            trade.order.auxPrice = float((Decimal(command.stop_price) * NANO).normalize())
        trade.order.orderRef = new_broker_client_id
        before = len(trade.log)
        generation = self._generation
        try:
            self.ib.placeOrder(trade.contract, trade.order)
        except ConnectionError:
            trade.order.orderRef = broker_client_id
            raise RejectedRequest(None, "not connected to TWS: order not modified") from None
        deadline = time.monotonic() + self._request_timeout
        answered = False
        while time.monotonic() < deadline and self._generation == generation:
            answers = trade.log[before + 1 :]
            if any(e.errorCode for e in answers):
                entry = next(e for e in answers if e.errorCode)
                trade.order.orderRef = broker_client_id
                raise RejectedRequest(entry.errorCode, entry.message)
            if answers:
                answered = True
                break
            await asyncio.sleep(0.01)
        if not answered and self._generation != generation:
            # Lost with the connection; the runtime's reconciliation reads the order's
            # state (and orderRef) from TWS after the reconnect.
            raise RejectedRequest(None, "connection to TWS lost before the modify was answered")
        self._enqueue("trade", TradeEvent(broker_client_id, "replaced", None, None, 0))
        return broker_order(trade)

    async def open_orders(self) -> list[BrokerOrder]:
        await self._ready()
        trades = await asyncio.wait_for(self.ib.reqAllOpenOrdersAsync(), self._request_timeout)
        return [broker_order(t) for t in trades if not t.isDone()]

    async def positions(self) -> dict[str, int]:
        await self._ready()
        rows = await asyncio.wait_for(self.ib.reqPositionsAsync(), self._request_timeout)
        out: dict[str, int] = {}
        for row in rows:
            if self._config.account_id and row.account != self._config.account_id:
                continue
            if row.contract.secType != "STK":
                continue
            qty = to_whole(row.position, f"position.{row.contract.symbol}")
            if qty:
                out[row.contract.symbol] = out.get(row.contract.symbol, 0) + qty
        return out

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        """Minute bars with start in [start_ns, end_ns), paced, at most a day per request."""
        self.bad_bars = []
        if end_ns <= start_ns:
            return []
        await self._ready()
        out: list[Bar] = []
        for symbol in symbols:
            contract = await self._contract(symbol, None)
            chunk_end = end_ns
            while chunk_end > start_ns:
                seconds = min(86_400, -(-(chunk_end - start_ns) // NS))
                end_text = datetime.fromtimestamp(chunk_end // NS, tz=UTC).strftime(
                    "%Y%m%d-%H:%M:%S"
                )
                duration = f"{seconds} S"
                rows = await self._historical(contract, symbol, end_text, duration)
                for row in rows:
                    try:
                        bar = self._bar(symbol, row)
                    except BadInput as exc:
                        self.bad_bars.append(exc)
                        continue
                    if start_ns <= bar.time_ns < end_ns:
                        out.append(bar)
                chunk_end -= seconds * NS
        order = {s: i for i, s in enumerate(self._symbols)}
        unique = {(b.symbol, b.time_ns): b for b in out}
        return sorted(unique.values(), key=lambda b: (b.time_ns, order.get(b.symbol, 0)))

    async def _historical(self, contract: Contract, symbol: str, end: str, duration: str) -> Any:
        """One paced request; a pacing violation TWS reports anyway (another client on
        the same login spends the same budget) is counted and retried after a wait."""
        errors: list[tuple[int, int, str]] = []

        def on_error(req_id: int, code: int, text: str, _contract: Any) -> None:
            errors.append((req_id, code, text))

        self.ib.errorEvent += on_error
        try:
            for attempt in range(4):
                await self.pacer.acquire((symbol, end, duration, "1 min"), symbol)
                rows = await self.ib.reqHistoricalDataAsync(
                    contract,
                    end,
                    duration,
                    "1 min",
                    "TRADES",
                    True,
                    2,
                    timeout=self._request_timeout,
                )
                paced = [
                    e for e in errors if e[0] == rows.reqId and e[1] == 162 and "pacing" in e[2]
                ]
                if not paced:
                    return rows
                self.rate_limited += 1
                wait = self.pacing_retry_s * (attempt + 1)
                log.warning("historical data pacing violation for %s; retry in %.1fs", symbol, wait)
                await asyncio.sleep(wait)
            raise RejectedRequest(162, f"historical data for {symbol}: pacing violations persist")
        finally:
            self.ib.errorEvent -= on_error

    def _bar(self, symbol: str, row: Any) -> Bar:
        try:
            return Bar(
                symbol=symbol,
                time_ns=to_ns(row.date, "bar.date"),
                open=to_price(row.open, "bar.open"),
                high=to_price(row.high, "bar.high"),
                low=to_price(row.low, "bar.low"),
                close=to_price(row.close, "bar.close"),
                volume=to_whole(row.volume, "bar.volume") * self._volume_multiplier,
                vwap=None,
                trades=None if row.barCount < 0 else int(row.barCount),
            )
        except BadInput:
            raise
        except ValueError as exc:
            raise BadInput("bar", repr(row)[:120], str(exc)) from None

    # ---------------------------------------------------------- streams
    async def stream(self, sinks: StreamSinks) -> None:
        """Start delivering: live minute bars, executions, order statuses, reconnects."""
        self._sinks = sinks
        loop = asyncio.get_running_loop()
        self._worker = loop.create_task(self._deliver(), name="ibkr-events")
        if self._connected.is_set():
            self._subscribe_bars()
            await self._reconcile_executions()
            self._enqueue("connected", None)
        else:
            await self._ready()  # _after_connect subscribes and reconciles

    def _enqueue(self, kind: str, item: Any) -> None:
        self._queue.put_nowait((kind, item))

    async def _deliver(self) -> None:
        """One consumer, so a symbol's bars and an order's events keep their order."""
        while True:
            kind, item = await self._queue.get()
            if self._sinks is None:
                continue
            sinks = self._sinks
            try:
                if kind == "bar":
                    await sinks.on_bar(item)
                elif kind == "trade":
                    if item.update is not None and item.broker_client_id in self._refused:
                        continue
                    await sinks.on_trade(item)
                elif kind == "bad":
                    await sinks.on_bad(*item)
                elif kind == "synced":
                    if self._syncing == item:
                        self._syncing = None
                    if item == self._generation and self.ib.isConnected():
                        self._connected.set()  # the missed executions are delivered
                elif kind == "connected":
                    # Not awaited here: the runtime's reconciliation asks the broker
                    # (``_ready``), which may wait for a newer connection's
                    # "synced" queued behind this item: awaiting would deadlock.
                    task = asyncio.get_running_loop().create_task(
                        self._reconciled(sinks.on_trading_connected)
                    )
                    self._callbacks.add(task)
                    task.add_done_callback(self._callbacks.discard)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivering %s failed", kind)

    async def _reconciled(self, on_connected: Callable[[], Awaitable[None]]) -> None:
        """One ``on_trading_connected`` at a time, after the events queued before it."""
        async with self._callback_lock:
            try:
                await on_connected()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("on_trading_connected failed")

    def _subscribe_bars(self) -> None:
        for symbol, contract in self._contracts.items():
            if symbol not in self._symbols:
                continue
            old = self._realtime.pop(symbol, None)
            if old is not None:
                old.updateEvent.clear()
            bars = self.ib.reqRealTimeBars(contract, 5, "TRADES", False)
            bars.updateEvent += self._bar_handler(symbol)
            self._realtime[symbol] = bars
            self._aggregators[symbol] = MinuteAggregator(symbol, self._volume_multiplier)

    def _bar_handler(self, symbol: str) -> Callable[[Any, bool], None]:
        def handle(bars: Any, has_new: bool) -> None:
            if not has_new or not bars:
                return
            row = bars[-1]
            aggregator = self._aggregators[symbol]
            try:
                time_s = to_ns(row.time, "realtimeBar.time") // NS
                bar = aggregator.add(
                    time_s,
                    to_price(row.open_, "realtimeBar.open"),
                    to_price(row.high, "realtimeBar.high"),
                    to_price(row.low, "realtimeBar.low"),
                    to_price(row.close, "realtimeBar.close"),
                    to_whole(row.volume, "realtimeBar.volume"),
                    max(0, int(row.count)),
                )
                self._market_now_ns = max(self._market_now_ns, (time_s + 5) * NS)
            except (BadInput, ValueError) as exc:
                aggregator.parts = {}
                error = exc if isinstance(exc, BadInput) else BadInput("bar", symbol, str(exc))
                self._enqueue("bad", ("bar", error))
                return
            self.incomplete_minutes = sum(a.incomplete for a in self._aggregators.values())
            if bar is not None:
                self._enqueue("bar", bar)

        return handle

    def _on_exec(self, trade: Trade, fill: IbFill) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._seen or exec_id in self._pending:
            return
        loop = asyncio.get_event_loop()
        timer = loop.call_later(self._commission_wait, self._flush, exec_id)
        self._pending[exec_id] = (trade, fill, timer)

    def _on_commission(self, trade: Trade, fill: IbFill, _report: Any) -> None:
        exec_id = fill.execution.execId
        pending = self._pending.pop(exec_id, None)
        if pending is None:
            return
        pending[2].cancel()
        self._emit_fill(trade, fill, commission_fee)

    def _flush(self, exec_id: str) -> None:
        pending = self._pending.pop(exec_id, None)
        if pending is None:
            return
        log.warning("no commission report for execution %s; booked with fee 0", exec_id)
        self._emit_fill(pending[0], pending[1], commission_fee)

    def _emit_fill(
        self, trade: Trade | None, fill: IbFill, fee_of: Callable[[IbFill], int]
    ) -> None:
        exec_id = fill.execution.execId
        if exec_id in self._seen:
            return
        self._seen.add(exec_id)
        try:
            event = fill_event(trade, fill, fee_of(fill))
        except BadInput as exc:
            self._enqueue("bad", ("execution", exc))
            return
        self._enqueue("trade", event)

    async def _reconcile_executions(self) -> None:
        """Book today's executions this process has not delivered (missed while away)."""
        missed = await self._missed_executions()
        for trade, fill in missed:
            self._emit_fill(trade, fill, commission_fee)
        self.reconciled_fills += len(missed)
        if missed:
            log.info("reconciled %d executions from reqExecutions", len(missed))

    async def replay_executions(self, on_trade: Callable[[TradeEvent], Awaitable[None]]) -> int:
        """Deliver, before the stream starts, every execution TWS reports that this
        process has not delivered yet: their real exec ids and commissions.

        Why: after a restart the runtime reconciles its open orders before it
        starts the stream. An order that filled while the gateway was down is a
        completed order at TWS; without this the runtime could only book the
        missing *quantity* (a synthetic ``recon:`` fill at the average price and
        no fee), and TWS's own executions, replayed a moment later, would be
        dropped as already booked. Returns how many were delivered.

        TWS not reachable within ``connect_timeout``: nothing is replayed here
        (the stream's own replay after the connect books them, later)."""
        if not self._connected.is_set():
            self._ensure_connecting()
            try:
                await asyncio.wait_for(self._connected.wait(), self._connect_timeout)
            except TimeoutError:
                log.warning("TWS not connected at start: executions replayed after connect")
                return 0
        missed = await self._missed_executions()
        delivered = 0
        for trade, fill in missed:
            exec_id = fill.execution.execId
            if exec_id in self._seen:
                continue  # delivered by the live stream meanwhile
            self._seen.add(exec_id)
            try:
                event = fill_event(trade, fill, commission_fee(fill))
            except BadInput as exc:
                self._enqueue("bad", ("execution", exc))  # told once the stream starts
                continue
            delivered += 1
            await on_trade(event)
        self.reconciled_fills += delivered
        if delivered:
            log.info(
                "replayed %d executions from reqExecutions before reconciling"
                " (those already in the database are skipped there)",
                delivered,
            )
        return delivered

    async def _missed_executions(self) -> list[tuple[Trade | None, IbFill]]:
        """Today's executions (``reqExecutions``) not delivered yet, oldest first,
        each with its order (by permId) and the commission ib_async stored for it."""
        try:
            fills = await asyncio.wait_for(self.ib.reqExecutionsAsync(), self._request_timeout)
        except (TimeoutError, ConnectionError) as exc:
            log.warning("reqExecutions failed: %s", exc)
            return []
        by_perm = {t.order.permId: t for t in self.ib.trades() if t.order.permId}
        # ib_async attaches commission reports to the Fill it stored first (at
        # connect), not to the copies a later reqExecutions returns.
        stored = {f.execution.execId: f for f in self.ib.fills()}
        fills = [stored.get(f.execution.execId, f) for f in fills]
        missed: list[tuple[Trade | None, IbFill]] = []
        for fill in sorted(fills, key=lambda f: (f.execution.time, f.execution.execId)):
            if fill.execution.execId in self._seen:
                continue
            pending = self._pending.pop(fill.execution.execId, None)
            if pending is not None:
                pending[2].cancel()
            missed.append((by_perm.get(fill.execution.permId), fill))
        return missed

    def _on_status(self, trade: Trade) -> None:
        status = trade.orderStatus.status
        ref = order_ref(trade)
        key = (ref, trade.order.permId or trade.order.orderId)
        previous = self._statuses.get(key)
        update: OrderUpdate | None = None
        now = self._market_now_ns or time.time_ns()
        if status in ("PreSubmitted", "Submitted") and previous is None:
            update = OrderUpdate(now, ref, OrdStatus.NEW, status)
        elif status in ("Cancelled", "ApiCancelled", "Inactive") and previous not in (
            "Cancelled",
            "ApiCancelled",
            "Inactive",
        ):
            if (was_rejected(trade) or status == "Inactive") and ref in self._submitting:
                self._refused.add(ref)  # submit() raises RejectedRequest with the reason
            elif was_rejected(trade) or status == "Inactive":
                update = OrderUpdate(now, ref, OrdStatus.REJECTED, error_text(trade)[:200])
            else:
                update = OrderUpdate(now, ref, OrdStatus.CANCELED, status)
        if status not in ("PendingCancel", "ValidationError", "PendingSubmit"):
            self._statuses[key] = status
        if update is not None:
            cum = to_whole(trade.orderStatus.filled, "orderStatus.filled")
            self._enqueue("trade", TradeEvent(ref, status.lower(), None, update, cum))

    async def restart_data_stream(self, reason: str) -> None:
        log.warning("market-data stream: %s; resubscribing real-time bars", reason)
        if not self._connected.is_set():
            return
        for bars in list(self._realtime.values()):
            with contextlib.suppress(Exception):
                self.ib.cancelRealTimeBars(bars)
        self._subscribe_bars()

    async def stop_market_data(self) -> None:
        for bars in list(self._realtime.values()):
            bars.updateEvent.clear()
            with contextlib.suppress(Exception):
                self.ib.cancelRealTimeBars(bars)
        self._realtime.clear()

    async def close(self) -> None:
        self._closing = True
        for _, _, timer in self._pending.values():
            timer.cancel()
        for task in (self._connector, self._worker, *self._callbacks):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.ib.disconnect()
