"""Interactive Brokers through ``ib_async``: TWS / IB Gateway API socket, mapped to core types.

How the IB model maps onto the ``Broker`` protocol:

* **Ids.** IB order ids are per-client integers and do not survive a reset of
  the API id sequence; the engine's broker client id travels in ``orderRef``,
  which TWS keeps on the order, its executions and completed orders. That is
  the persistent map: after a reconnect or a gateway restart ``ib_async``
  reloads open orders, completed orders and today's executions, and every one
  of them names its broker client id again. ``broker_order_id`` is IB's
  ``permId`` (unique and stable per account).
* **Executions are the truth** (``executions``): a ``Fill`` comes from
  ``execDetails`` with the commission that follows, each exec id once.
* **Reconnects.** TWS/IB Gateway restarts nightly; the socket drop triggers a
  reconnect loop with exponential back-off (and jitter), then real-time bars
  are resubscribed (contracts are qualified once: conIds are stable), missed
  executions reconciled and ``on_trading_connected`` called so the runtime
  reconciles orders.
* **Bars.** Historical through ``history`` (paced), live through ``realtime``
  (5-second bars aggregated to minutes).
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
from decimal import Decimal
from typing import Any

from ib_async import IB, Contract, Stock, Trade

from core.commands import ReplaceOrder, SubmitOrder
from core.errors import BadInput
from core.events import Bar
from gateway.brokers.base import (
    Account,
    BrokerOrder,
    Connection,
    MarketClock,
    NotFound,
    RejectedRequest,
    StreamSinks,
    TradeEvent,
    TwsLink,
)
from gateway.brokers.ibkr.decoding import DecodeWatch
from gateway.brokers.ibkr.executions import Executions
from gateway.brokers.ibkr.history import HistoricalBars
from gateway.brokers.ibkr.mapping import (
    DIRECT_ROUTES,
    NANO,
    NS,
    algo_end,
    broker_order,
    error_code,
    error_text,
    find_trade,
    ib_order,
    market_clock,
    parse_liquid_hours,
    to_money,
    to_ns,
    to_whole,
    was_rejected,
    working_trade,
)
from gateway.brokers.ibkr.pacing import HistoricalPacer
from gateway.brokers.ibkr.realtime import MarketTime, RealtimeBars
from gateway.brokers.ibkr.statuses import OrderStatuses, acknowledged
from gateway.config import IbkrConfig

log = logging.getLogger("gateway.ibkr")


class IbkrBroker:
    """The ``Broker`` over one TWS / IB Gateway connection: connecting and
    reconnecting, order requests and their statuses, and the one delivery
    queue; historical bars (``history``), live bars (``realtime``) and
    executions (``executions``) are objects of their own."""

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
        self._use_algos = use_ib_algos
        self._algo_horizon_ns = algo_horizon_s * NS
        self.ib = IB()
        self.ib.RequestTimeout = request_timeout
        self._history = HistoricalBars(
            self.ib,
            pacer or HistoricalPacer(),
            request_timeout=request_timeout,
            volume_multiplier=volume_multiplier,
            pacing_retry_s=pacing_retry_s,
        )
        self._market = MarketTime()
        self._live = RealtimeBars(self.ib, volume_multiplier, self._enqueue, self._market.saw)
        self._executions = Executions(
            self.ib, self._enqueue, commission_wait=commission_wait, request_timeout=request_timeout
        )
        self._decode = DecodeWatch(self._undecodable)
        self._statuses = OrderStatuses(self._market, self._enqueue)
        self._contracts: dict[str, Contract] = {}
        self._connected = asyncio.Event()
        self._generation = 0  # +1 per lost connection: answers on an old one never come
        self._syncing: int | None = None  # generation whose replayed executions are queued
        self._callbacks: set[asyncio.Task[None]] = set()  # on_trading_connected runs
        self._callback_lock = asyncio.Lock()
        self._closing = False
        self._connector: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._sinks: StreamSinks | None = None
        self._sessions: list[tuple[int, int]] = []
        self.reconnects = 0
        self.bad_messages = 0
        self.ib.disconnectedEvent += self._on_disconnected
        self.ib.execDetailsEvent += self._executions.on_exec
        self.ib.commissionReportEvent += self._executions.on_commission
        self.ib.orderStatusEvent += self._statuses.on_status

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
                self._decode.hook(self.ib.client.decoder)
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

    def _undecodable(self, fields: list[str]) -> None:
        """A message ``ib_async`` could not decode (``decoding``): counted, reported."""
        self.bad_messages += 1
        shown = ",".join(fields[:6]) + ("…" if len(fields) > 6 else "")
        self._enqueue(
            "bad",
            ("tws message", BadInput("tws.message", shown, "cannot be decoded")),
        )

    @property
    def rate_limited(self) -> int:
        """Historical-data pacing violations waited out (``CountsRateLimits``)."""
        return self._history.rate_limited

    def connections(self) -> tuple[Connection, ...]:
        """The TWS socket, its reconnects and pacing waits (``ConnectionReporting``)."""
        links = TwsLink(bool(self.ib.isConnected()), self.reconnects, self.rate_limited)
        return (Connection(self.name, links),)

    @property
    def bad_bars(self) -> list[BadInput]:
        """The historical rows of the last ``bars`` call that could not be read."""
        return self._history.bad_bars

    @property
    def reconciled_fills(self) -> int:
        """Executions booked from ``reqExecutions`` (missed while away, or at a restart)."""
        return self._executions.reconciled_fills

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
        self._live.subscribe(self._contracts, self._symbols)
        await self._executions.reconcile()
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
        self._executions.forget_pending()  # reqExecutions after the reconnect books them
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
        self._market.saw(now_ns)
        if sum(1 for o, _ in self._sessions if o > now_ns) < 1:
            symbol = next(iter(self._contracts), None)
            if symbol is None:
                raise BadInput("contract", self._symbols[:1], "could not be qualified at IB")
            details = await self.ib.reqContractDetailsAsync(self._contracts[symbol])
            if not details:
                raise BadInput("contractDetails", symbol, "came back empty")
            self._sessions = parse_liquid_hours(details[0].liquidHours, details[0].timeZoneId)
        return market_clock(now_ns, self._sessions)

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder:
        """Place the order once per broker client id.

        If the socket dies before TWS answers, whether the order arrived is only
        known after the reconnect, from TWS's own open and completed orders
        (``orderRef``): found, it is returned; not found, it is placed again.
        """
        trade: Trade | None = None
        for _attempt in range(3):
            await self._ready()
            existing = find_trade(self.ib.trades(), broker_client_id)
            if existing is not None and broker_client_id in self._statuses.refused:
                raise RejectedRequest(error_code(existing), error_text(existing))
            if existing is not None and existing is not trade:  # TWS already has it
                return broker_order(existing)
            contract = await self._contract(command.symbol, command.venue)
            order = ib_order(
                command,
                broker_client_id,
                self._config.account_id,
                use_algos=self._use_algos,
                algo_end=algo_end(self._market.ns, self._algo_horizon_ns),
            )
            self._statuses.submitting.add(broker_client_id)
            generation = self._generation

            def current(taken_on: int = generation) -> bool:
                """Still connected on the connection ``generation`` was taken on."""
                return self._connected.is_set() and self._generation == taken_on

            try:
                trade = self.ib.placeOrder(contract, order)
                await acknowledged(trade, current, self._request_timeout)
            except ConnectionError:
                continue  # the socket went between _ready() and the send
            finally:
                self._statuses.submitting.discard(broker_client_id)
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
                self._statuses.refused.add(broker_client_id)
                raise RejectedRequest(error_code(trade), error_text(trade))
            return broker_order(trade)
        raise RejectedRequest(None, f"order {broker_client_id}: TWS kept dropping the connection")

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

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        """The order TWS holds under this id; None for one TWS refused on arrival
        (as with Alpaca, a refused submission leaves no order behind)."""
        await self._ready()
        trade = find_trade(self.ib.trades(), broker_client_id)
        if trade is None or broker_client_id in self._statuses.refused:
            return None
        return broker_order(trade)

    async def cancel(self, broker_client_id: str) -> None:
        await self._ready()
        trade = working_trade(self.ib.trades(), broker_client_id)
        self.ib.cancelOrder(trade.order)

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        """IB modifies in place: the same order id re-sent with the new total quantity
        and limit; ``orderRef`` becomes the new broker client id."""
        await self._ready()
        trade = working_trade(self.ib.trades(), broker_client_id)
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
        self._history.bad_bars = []
        if end_ns <= start_ns:
            return []
        await self._ready()
        return await self._history.bars(
            symbols, start_ns, end_ns, lambda symbol: self._contract(symbol, None), self._symbols
        )

    # ---------------------------------------------------------- streams
    async def stream(self, sinks: StreamSinks) -> None:
        """Start delivering: live minute bars, executions, order statuses, reconnects."""
        self._sinks = sinks
        loop = asyncio.get_running_loop()
        self._worker = loop.create_task(self._deliver(), name="ibkr-events")
        if self._connected.is_set():
            self._live.subscribe(self._contracts, self._symbols)
            await self._executions.reconcile()
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
                    if item.update is not None and item.broker_client_id in self._statuses.refused:
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
        return await self._executions.replay(on_trade)

    async def restart_data_stream(self, reason: str) -> None:
        log.warning("market-data stream: %s; resubscribing real-time bars", reason)
        if not self._connected.is_set():
            return
        self._live.cancel()
        self._live.subscribe(self._contracts, self._symbols)

    async def stop_market_data(self) -> None:
        self._live.stop()

    async def close(self) -> None:
        self._closing = True
        self._executions.forget_pending()
        for task in (self._connector, self._worker, *self._callbacks):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self.ib.disconnect()
