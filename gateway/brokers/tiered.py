"""One ``Broker`` for the runtime, three underneath: the account's tier picks one.

SPEC §7 gives each account tier its own broker: retail trades through Alpaca,
semi-institutional through Interactive Brokers, institutional through the
prime broker over FIX. The tier is a pure function of equity
(``core.tiers``), and the engine already re-derives order types, algorithms
and venues from it at every decision. ``TieredBroker`` does the same for the
*route*: each new order goes to the broker of the tier current when it is
sent, so an account that crosses $100K or $1M trades through the other broker
from its next order on, with no restart.

Why a composite rather than a switch in the runtime: the runtime keeps talking
to one ``Broker``; orders already placed stay where they are (a cancel or
replace must reach the broker that holds the order, whatever the tier is
now), and fills keep arriving from every broker that still has working
orders. So:

* ``submit`` asks ``tier_of()``, picks that tier's broker and remembers the
  owner of the broker client id; a tier different from the one of the
  previous order is logged and reported once through ``on_tier_change``.
  An order that *reduces* a position goes to the broker holding that position
  (the tier's own broker if it holds some, else the one holding most): shares
  bought through IBKR cannot be sold through Alpaca, whatever the tier is now.
* ``cancel``/``replace``/``order`` go to the owner; an id not remembered (the
  gateway restarted) is looked up at every broker, and learnt from trade
  events and ``open_orders`` listings too.
* ``stream`` merges trade events from every broker; bars come from one data
  source only (``data_source``: the retail or the semi-institutional
  broker), the others' bars are dropped, so each minute reaches the engine
  once.
* ``positions``/``open_orders``/``account`` add up across brokers: the engine
  holds one portfolio, whichever broker each share was bought through.

A tier without a broker of its own uses the one below (institutional → semi →
retail), and says so in the log at construction.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from core.commands import Fill, ReplaceOrder, Side, SubmitOrder
from core.errors import BadInput
from core.events import Bar
from core.money import format_price
from core.tiers import AccountTier, TierCapabilities
from gateway.brokers.base import (
    Account,
    Broker,
    BrokerOrder,
    Connection,
    ConnectionReport,
    CountsRateLimits,
    KeepsReportsWhileStopping,
    LearnsReconciledFills,
    MarketClock,
    NotFound,
    RejectedRequest,
    ReplaysExecutions,
    ReportsBadBars,
    RoutesByTier,
    StopsMarketData,
    StreamSinks,
    TierChange,
    TierOf,
    TradeEvent,
    connection_report,
)
from gateway.storage.schema import FIX_STORE_SUFFIX

log = logging.getLogger("gateway.tiers")

_ORDER = (AccountTier.RETAIL, AccountTier.SEMI_INSTITUTIONAL, AccountTier.INSTITUTIONAL)


def _retail_only() -> AccountTier:
    return AccountTier.RETAIL


def _no_alert(_old: AccountTier, _new: AccountTier) -> None:
    return None


async def _drop_bar(_bar: Bar) -> None:
    return None


class Routes(Protocol):
    """Which broker holds each order, kept across restarts: the gateway's
    ``Storage.routes`` (written durably before the order is sent, so after a
    restart a cancel goes straight to the right broker, and the prime broker's
    ledger is rebuilt from *its* executions only)."""

    def load(self) -> dict[str, str]: ...

    def put(self, broker_client_id: str, broker: str) -> None: ...


class TieredBroker:
    """Routes each new order to the broker of the account's current tier."""

    def __init__(
        self,
        retail: Broker,
        semi: Broker | None = None,
        institutional: Broker | None = None,
        *,
        tier_of: TierOf | None = None,
        on_tier_change: TierChange | None = None,
        data_source: AccountTier = AccountTier.RETAIL,
        routes: Routes | None = None,
    ) -> None:
        """``tier_of`` may be bound later (``bind``): the runtime's engine, whose
        equity decides the tier, is created after the broker. Until then every
        order is retail's."""
        if retail is None:
            raise BadInput("retail", None, "a tiered broker needs the retail broker")
        configured = {
            AccountTier.RETAIL: retail,
            AccountTier.SEMI_INSTITUTIONAL: semi,
            AccountTier.INSTITUTIONAL: institutional,
        }
        self._route: dict[AccountTier, Broker] = {}
        below: Broker = retail
        for tier in _ORDER:
            own = configured[tier]
            if own is None:
                log.warning(
                    "tier %s has no broker of its own: its orders go to %s",
                    tier.value,
                    below.name,
                    extra={"sv_event": "tier_fallback", "sv_kind": tier.value},
                )
                self._route[tier] = below
            else:
                self._route[tier] = own
                below = own
        if data_source not in (AccountTier.RETAIL, AccountTier.SEMI_INSTITUTIONAL):
            raise BadInput(
                "data_source", data_source.value, "must be the retail or semi-institutional broker"
            )
        self.data: Broker = self._route[data_source]
        self.brokers: list[Broker] = []
        for tier in _ORDER:
            broker = self._route[tier]
            if all(broker is not b for b in self.brokers):
                self.brokers.append(broker)
        self.name = "tiered(" + "+".join(b.name for b in self.brokers) + ")"
        # Which legs report their connections, checked once here.
        self._reports: list[ConnectionReport] = [connection_report(b) for b in self.brokers]
        self.tier_of: TierOf = tier_of or _retail_only
        self.on_tier_change: TierChange = on_tier_change or _no_alert
        self.tier: AccountTier | None = None  # the tier of the last order sent
        self.tier_changes = 0
        self.routed: dict[str, int] = {b.name: 0 for b in self.brokers}
        self.exits_to_holder = 0
        self._owner: dict[str, Broker] = {}
        # Signed quantity per symbol at each broker (by broker index): read from
        # every broker at stream start, after each reconnect and at each
        # positions() call, and moved by each execution in between.
        self._held: list[dict[str, int]] = [{} for _ in self.brokers]
        self._exec_seen: set[str] = set()
        self.routes = routes
        if routes is not None:
            by_name = {b.name: b for b in self.brokers}
            for bcid, name in routes.load().items():
                known = by_name.get(name)
                if known is not None:  # a broker no longer configured: asked for
                    self._owner[bcid] = known

    def _remember(self, broker_client_id: str, broker: Broker) -> None:
        if self._owner.get(broker_client_id) is broker:
            return
        self._owner[broker_client_id] = broker
        if self.routes is not None:
            self.routes.put(broker_client_id, broker.name)

    def bind(self, tier_of: TierOf, on_tier_change: TierChange | None = None) -> None:
        self.tier_of = tier_of
        if on_tier_change is not None:
            self.on_tier_change = on_tier_change

    def broker_for(self, tier: AccountTier) -> Broker:
        return self._route[tier]

    def owner(self, broker_client_id: str) -> Broker | None:
        """The broker known to hold this order (None: not known yet)."""
        return self._owner.get(broker_client_id)

    # ------------------------------------------------------------- routing
    def _current_tier(self) -> AccountTier:
        tier = self.tier_of()
        if not isinstance(tier, AccountTier):
            raise BadInput("tier_of", tier, "must return an AccountTier")
        previous = self.tier
        self.tier = tier
        if previous is None:
            log.info(
                "trading tier %s: orders go to %s",
                tier.value,
                self._route[tier].name,
                extra={"sv_event": "tier", "sv_kind": tier.value},
            )
        elif previous is not tier:
            self.tier_changes += 1
            old_broker, new_broker = self._route[previous], self._route[tier]
            log.warning(
                "tier change %s -> %s: new orders go to %s (was %s); orders already"
                " placed stay with their broker",
                previous.value,
                tier.value,
                new_broker.name,
                old_broker.name,
                extra={"sv_event": "tier_change", "sv_kind": f"{previous.value}->{tier.value}"},
            )
            try:
                self.on_tier_change(previous, tier)
            except Exception:  # an alert that fails must not stop the order
                log.exception("tier-change alert failed")
        return tier

    def _holder_of_position(self, command: SubmitOrder, preferred: Broker) -> Broker:
        """The broker an order reducing a position must go to, else ``preferred``."""
        sign = 1 if command.side is Side.BUY else -1
        reducible = [
            (-held.get(command.symbol, 0) * sign, i)
            for i, held in enumerate(self._held)
            if held.get(command.symbol, 0) * sign < 0
        ]
        if not reducible:
            return preferred
        for _, i in reducible:
            if self.brokers[i] is preferred:
                return preferred
        _, best = max(reducible)
        return self.brokers[best]

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder:
        tier = self._current_tier()
        broker = self._holder_of_position(command, self._route[tier])
        if broker is not self._route[tier]:
            self.exits_to_holder += 1
            log.info(
                "order %s reduces %s held at %s: sent there, not to %s (tier %s)",
                broker_client_id,
                command.symbol,
                broker.name,
                self._route[tier].name,
                tier.value,
                extra={"sv_event": "tier_exit_route"},
            )
        # Remembered before sending: a retry or a read-back after a failed send
        # must ask the broker the order may have reached.
        self._remember(broker_client_id, broker)
        self.routed[broker.name] += 1
        return await broker.submit(command, broker_client_id)

    async def _holder(self, broker_client_id: str) -> Broker | None:
        """The owner, learnt by asking every broker when not remembered."""
        known = self._owner.get(broker_client_id)
        if known is not None:
            return known
        found = await self._search(broker_client_id)
        return None if found is None else found[0]

    async def _search(self, broker_client_id: str) -> tuple[Broker, BrokerOrder] | None:
        """Ask every broker for the order (the owner is remembered when found)."""
        failure: Exception | None = None
        for broker in self.brokers:
            try:
                found = await broker.order(broker_client_id)
            except NotFound:
                continue
            except (RejectedRequest, BadInput) as exc:
                failure = failure or exc
                continue
            if found is not None:
                self._remember(broker_client_id, broker)
                return broker, found
        if failure is not None:  # someone could not answer: not provably unknown
            raise failure
        return None

    async def cancel(self, broker_client_id: str) -> None:
        broker = await self._holder(broker_client_id)
        if broker is None:
            raise NotFound(404, f"order {broker_client_id} is unknown to every broker")
        await broker.cancel(broker_client_id)

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder:
        broker = await self._holder(broker_client_id)
        if broker is None:
            raise NotFound(404, f"order {broker_client_id} is unknown to every broker")
        self._remember(new_broker_client_id, broker)
        return await broker.replace(command, broker_client_id, new_broker_client_id)

    async def order(self, broker_client_id: str) -> BrokerOrder | None:
        known = self._owner.get(broker_client_id)
        if known is not None:
            return await known.order(broker_client_id)
        found = await self._search(broker_client_id)
        return None if found is None else found[1]

    # ----------------------------------------------------------- aggregates
    async def open_orders(self) -> list[BrokerOrder]:
        result: list[BrokerOrder] = []
        for broker in self.brokers:
            for o in await broker.open_orders():
                self._remember(o.broker_client_id, broker)
                result.append(o)
        return result

    async def positions(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for i, broker in enumerate(self.brokers):
            held = await broker.positions()
            self._held[i] = {s: q for s, q in held.items() if q}
            for symbol, qty in held.items():
                total[symbol] = total.get(symbol, 0) + qty
        return {s: q for s, q in total.items() if q}

    async def _refresh_positions(self) -> None:
        """Re-read each broker's positions; one that cannot answer keeps its last."""
        for i, broker in enumerate(self.brokers):
            try:
                held = await broker.positions()
            except (RejectedRequest, BadInput) as exc:
                log.warning("positions at %s unreadable: %s", broker.name, exc)
                continue
            self._held[i] = {s: q for s, q in held.items() if q}

    async def account(self) -> Account:
        accounts = [await b.account() for b in self.brokers]
        statuses = sorted({a.status for a in accounts})
        return Account(
            equity=sum(a.equity for a in accounts),
            cash=sum(a.cash for a in accounts),
            buying_power=sum(a.buying_power for a in accounts),
            status=statuses[0] if len(statuses) == 1 else "/".join(statuses),
        )

    # ---------------------------------------------------------------- data
    async def clock(self) -> MarketClock:
        return await self.data.clock()

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]:
        return await self.data.bars(symbols, start_ns, end_ns)

    @property
    def bad_bars(self) -> list[Exception]:
        return list(self.data.bad_bars) if isinstance(self.data, ReportsBadBars) else []

    def connections(self) -> tuple[Connection, ...]:
        """Each leg's connections, leg by leg (``ConnectionReporting``)."""
        return tuple(c for report in self._reports for c in report())

    @property
    def rate_limited(self) -> int:
        return sum(b.rate_limited for b in self.brokers if isinstance(b, CountsRateLimits))

    async def stream(self, sinks: StreamSinks) -> None:
        await self._refresh_positions()

        async def connected() -> None:
            await self._refresh_positions()  # fills missed while away moved them
            await sinks.on_trading_connected()

        for i, broker in enumerate(self.brokers):
            try:
                await broker.stream(
                    StreamSinks(
                        sinks.on_bar if broker is self.data else _drop_bar,
                        self._learning(i, sinks.on_trade),
                        sinks.on_bad,
                        connected,
                    )
                )
            except (RejectedRequest, BadInput, OSError, TimeoutError) as exc:
                if broker is self.data:
                    raise  # no bars, no trading: the start fails as with one broker
                # An account of another tier must not be kept from trading by a
                # broker it is not using now; the adapter keeps reconnecting.
                log.warning(
                    "%s unavailable at start (%s): its orders wait for its reconnect",
                    broker.name,
                    exc,
                    extra={"sv_event": "tier_broker_down", "sv_kind": broker.name},
                )

    async def replay_executions(self, on_trade: Callable[[TradeEvent], Awaitable[None]]) -> int:
        """Each broker that can replay its missed executions (IBKR) does, through the
        same owner and position learning as the stream; one that cannot answer
        is left to the stream's own replay after its reconnect."""
        total = 0
        for i, broker in enumerate(self.brokers):
            if not isinstance(broker, ReplaysExecutions):
                continue
            try:
                total += int(await broker.replay_executions(self._learning(i, on_trade)))
            except (RejectedRequest, BadInput, OSError, TimeoutError) as exc:
                log.warning("%s: executions not replayed at start: %s", broker.name, exc)
        return total

    def _learning(
        self, index: int, on_trade: Callable[[TradeEvent], Awaitable[None]]
    ) -> Callable[[TradeEvent], Awaitable[None]]:
        """A trade event names the broker holding its order, and its fill moves
        that broker's position: remember both (each execution id once)."""
        broker, held = self.brokers[index], self._held

        async def deliver(event: TradeEvent) -> None:
            if event.broker_client_id not in self._owner:
                self._remember(event.broker_client_id, broker)
            fill = event.fill
            if fill is not None and fill.exec_id not in self._exec_seen:
                self._exec_seen.add(fill.exec_id)
                book = held[index]
                qty = book.get(fill.symbol, 0) + (
                    fill.quantity if fill.side is Side.BUY else -fill.quantity
                )
                if qty:
                    book[fill.symbol] = qty
                else:
                    book.pop(fill.symbol, None)
            await on_trade(event)

        return deliver

    async def restart_data_stream(self, reason: str) -> None:
        await self.data.restart_data_stream(reason)

    async def stop_market_data(self) -> None:
        if isinstance(self.data, StopsMarketData):
            await self.data.stop_market_data()
        self.shutting_down()

    def shutting_down(self) -> None:
        """The stop begins (prime_fix: keep the reports handed over from now on)."""
        for broker in self.brokers:
            if isinstance(broker, KeepsReportsWhileStopping):
                broker.shutting_down()

    def reconciled(self, broker_client_id: str, fill: Fill) -> None:
        """A reconciliation fill goes to the ledger of the broker holding the order."""
        owner = self.owner(broker_client_id)
        if isinstance(owner, LearnsReconciledFills):
            owner.reconciled(broker_client_id, fill)

    async def close(self) -> None:
        failure: BaseException | None = None
        for broker in self.brokers:
            try:
                await broker.close()
            except Exception as exc:  # close the others regardless
                log.warning("closing %s failed: %s", broker.name, exc)
                failure = failure or exc
        if failure is not None:
            raise failure


# ------------------------------------------------------------------ wiring


def fix_store_path(database: Path) -> Path:
    """The FIX session store beside the database (docs/prime_fix.md)."""
    return database.with_name(database.name + FIX_STORE_SUFFIX)


def build_tiered(config: Any, storage: Any = None) -> TieredBroker:
    """``[broker] type = "tiered"``: one broker per configured section.

    ``[alpaca]`` is the retail broker (required), ``[ibkr]`` the
    semi-institutional one, ``[fix]`` the institutional prime broker (its
    session store beside the database). Bars come from ``[broker] bars``
    (``alpaca`` or ``ibkr``); the prime broker takes no market data of its own,
    so each bar reaches the runtime once. With ``storage`` (a run, not
    ``--check``) the routes and the prime broker's processed mark are kept in
    its tables (``storage.routes``, ``storage.marks``) and the prime broker
    resumes from the executions of *its* orders (ExecIDs known, ledger rebuilt).
    """
    from gateway.brokers.alpaca import AlpacaBroker

    if config.alpaca is None:
        raise BadInput("alpaca", None, "section is required for broker.type tiered (retail)")
    bars = getattr(config.broker, "bars", "alpaca")
    if bars not in ("alpaca", "ibkr"):
        raise BadInput("broker.bars", bars, "must be alpaca or ibkr")
    if bars == "ibkr" and config.ibkr is None:
        raise BadInput("broker.bars", bars, "needs an [ibkr] section")
    database = Path(config.database.path)
    routes: Routes | None = storage.routes if storage is not None else None
    retail: Broker = AlpacaBroker(config.alpaca, config.broker.paper, config.symbols)
    semi: Broker | None = None
    if config.ibkr is not None:
        from gateway.brokers.ibkr import IbkrBroker

        semi = IbkrBroker(config.ibkr, config.symbols)
    institutional: Broker | None = None
    if config.fix is not None:
        from gateway.brokers.prime_fix import PrimeFixBroker, PrimeFixSettings

        store = fix_store_path(database)
        if storage is None and not store.parent.is_dir():
            # --check before the first run: no session saved yet, and a check writes nothing.
            store = Path(":memory:")
        settings = PrimeFixSettings.from_config(config.fix, store)
        mine: list[Mapping[str, object]] = []
        prefix = ""
        if storage is not None and routes is not None:
            prefix = storage.meta("id_prefix") or ""
            held = routes.load()
            mine = [
                row
                for row in storage.booked.executions()
                if held.get(prefix + str(row["client_order_id"])) == PrimeFixBroker.name
            ]
        marks = storage.marks if storage is not None else None
        institutional = PrimeFixBroker.resuming(settings, None, mine, id_prefix=prefix, marks=marks)
    source = AccountTier.SEMI_INSTITUTIONAL if bars == "ibkr" else AccountTier.RETAIL
    return TieredBroker(retail, semi, institutional, data_source=source, routes=routes)


class _Equity(Protocol):
    def equity(self) -> int: ...

    def tier(self) -> TierCapabilities: ...


def bind_gateway(
    tiered: RoutesByTier, engine: _Equity, alert: Callable[[str, str, str], None]
) -> None:
    """The engine's equity picks the tier (``engine.tier()``, as for order types and
    algorithms); a change is reported through ``alert(level, kind, text)`` (the
    gateway's alerts: database, log and Telegram). The runtime calls this once at
    wiring for any broker that routes by tier."""

    def changed(old: AccountTier, new: AccountTier) -> None:
        alert(
            "warning",
            "tier_change",
            f"account tier {old.value} -> {new.value} (equity"
            f" {format_price(engine.equity())}): new orders go to"
            f" {tiered.broker_for(new).name}, orders already placed stay where they are",
        )

    tiered.bind(lambda: engine.tier().tier, changed)
