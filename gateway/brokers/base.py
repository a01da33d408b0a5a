"""What the runtime needs from a broker, independent of whose it is.

Adapters speak in core types (``Bar``, ``Fill``, ``OrderUpdate``, nano-unit
prices) and in *broker client ids* (the engine's order id with the
database's namespace prefix, see ``gateway.ids``). Every reply that cannot be
mapped raises ``BadInput``; the runtime counts and logs it and carries on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.commands import CashFlow, Fill, OrderUpdate, ReplaceOrder, SubmitOrder
from core.events import Bar
from core.tiers import AccountTier


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """The broker's view of one order (REST ``GET /orders``)."""

    broker_client_id: str
    broker_order_id: str
    symbol: str
    side: str
    quantity: int
    filled: int
    filled_notional: int  # Σ qty × price in nano-units (from the average, exact to rounding)
    status: str  # the broker's own status word
    open: bool
    replaced_by: str | None = None


@dataclass(frozen=True, slots=True)
class MarketClock:
    """``/v2/clock``: the broker's (possibly simulated) market time."""

    time_ns: int
    is_open: bool
    next_open_ns: int
    next_close_ns: int


@dataclass(frozen=True, slots=True)
class Account:
    equity: int
    cash: int
    buying_power: int
    status: str


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One trade update mapped to core terms; ``fill``/``update`` may be absent.

    ``cum_filled`` is the order's cumulative filled quantity as the broker
    states it in the same message: the runtime uses it to recognise a fill it
    already booked through reconciliation under another id.
    """

    broker_client_id: str
    event: str
    fill: Fill | None
    update: OrderUpdate | None
    cum_filled: int


OnBar = Callable[[Bar], Awaitable[None]]
OnTrade = Callable[[TradeEvent], Awaitable[None]]
OnBad = Callable[[str, Exception], Awaitable[None]]
OnConnected = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class StreamSinks:
    """Where a broker's streams deliver: one value, handed to ``Broker.stream`` once.

    Every adapter (and the tiered and prime-broker compositions, which pass
    sinks of their own to the brokers they wrap) takes the same four
    callbacks; naming them once keeps the signature from being written out
    again in each, and ``dataclasses.replace`` makes a wrapped copy."""

    on_bar: OnBar
    """A closed minute bar."""
    on_trade: OnTrade
    """An execution or order-status update, mapped to core terms."""
    on_bad: OnBad
    """A message that could not be read: ``(what, BadInput)``; counted, never fatal."""
    on_trading_connected: OnConnected
    """The trade-updates stream (re)connected: reconcile what happened while away."""


class RejectedRequest(Exception):
    """The broker refused a request for good (4xx other than 429)."""

    def __init__(self, status: int | None, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class NotFound(RejectedRequest):
    pass


class Broker(Protocol):
    name: str

    async def account(self) -> Account: ...

    async def clock(self) -> MarketClock: ...

    async def submit(self, command: SubmitOrder, broker_client_id: str) -> BrokerOrder: ...

    async def cancel(self, broker_client_id: str) -> None: ...

    async def replace(
        self, command: ReplaceOrder, broker_client_id: str, new_broker_client_id: str
    ) -> BrokerOrder: ...

    async def order(self, broker_client_id: str) -> BrokerOrder | None: ...

    async def open_orders(self) -> list[BrokerOrder]: ...

    async def positions(self) -> dict[str, int]: ...

    async def bars(self, symbols: Sequence[str], start_ns: int, end_ns: int) -> list[Bar]: ...

    async def stream(self, sinks: StreamSinks) -> None: ...

    async def restart_data_stream(self, reason: str) -> None: ...

    async def close(self) -> None: ...


# ------------------------------------------------------------------ abilities
# What some brokers can do beyond ``Broker``. The runtime checks each once, at
# wiring (``isinstance`` against these runtime-checkable protocols), and holds
# the broker under the narrower type from then on: no probing at call sites.


@runtime_checkable
class ReplaysExecutions(Protocol):
    """Replays the executions made while we were down (IBKR's ``reqExecutions``)."""

    async def replay_executions(self, on_trade: Callable[[TradeEvent], Awaitable[None]]) -> int: ...


@runtime_checkable
class StopsMarketData(Protocol):
    """Can stop its bars alone, leaving the trade-updates stream up (graceful stop)."""

    async def stop_market_data(self) -> None: ...


@runtime_checkable
class KeepsReportsWhileStopping(Protocol):
    """Told when the graceful stop begins (the prime broker then stops advancing
    its processed mark, so reports handed over late are read again next start)."""

    def shutting_down(self) -> None: ...


@runtime_checkable
class LearnsReconciledFills(Protocol):
    """Keeps its own positions from the executions it reports (the prime broker's
    ledger: FIX has no positions query), so it must also learn a fill the
    runtime booked by reconciliation (``recon:``), which it never reported."""

    def reconciled(self, broker_client_id: str, fill: Fill) -> None: ...


@runtime_checkable
class ReportsCashFlows(Protocol):
    """Reports deposits and withdrawals (Alpaca's CSD/CSW account activities)."""

    @property
    def name(self) -> str: ...

    async def cash_flows(self, after_ns: int) -> list[CashFlow]: ...


@runtime_checkable
class ReportsBadActivities(Protocol):
    """Keeps the account activities it could not read, for the runtime to report."""

    @property
    def bad_activities(self) -> Sequence[Exception]: ...


@runtime_checkable
class ReportsBadBars(Protocol):
    """Keeps the REST bars it could not read during the last ``bars`` call."""

    @property
    def bad_bars(self) -> Sequence[Exception]: ...


@runtime_checkable
class CountsRateLimits(Protocol):
    """Counts the 429 replies it has waited out (shown in the status line)."""

    @property
    def rate_limited(self) -> int: ...


@runtime_checkable
class Composite(Protocol):
    """A broker made of brokers (the tiered broker): each is asked for its abilities."""

    @property
    def brokers(self) -> Sequence[Broker]: ...


@dataclass(frozen=True, slots=True)
class StreamLinks:
    """Alpaca's two websockets (``None``: not started yet) and its REST 429 count."""

    data_open: bool | None
    trades_open: bool | None
    rate_limited: int


@dataclass(frozen=True, slots=True)
class TwsLink:
    """The TWS socket (``None``: never connected), its reconnects and pacing waits."""

    connected: bool | None
    reconnects: int
    pacing_waits: int


@dataclass(frozen=True, slots=True)
class FixSessionLink:
    """A FIX session: logged on or not, and the next sequence numbers each way."""

    logged_on: bool
    next_sender_seq: int
    next_target_seq: int


@dataclass(frozen=True, slots=True)
class UnreportedLink:
    """A broker (a leg of a composite) that does not report its connections;
    ``detail`` names the error when reading its facts failed."""

    detail: str = ""


LinkFacts = StreamLinks | TwsLink | FixSessionLink | UnreportedLink


@dataclass(frozen=True, slots=True)
class Connection:
    """One broker's connection facts, as the dashboard shows them."""

    broker: str
    facts: LinkFacts


@runtime_checkable
class ConnectionReporting(Protocol):
    """Says what its connections are doing (the dashboard's connections table).

    A leaf adapter reports one ``Connection``; a composite reports its legs'."""

    def connections(self) -> tuple[Connection, ...]: ...


ConnectionReport = Callable[[], tuple[Connection, ...]]


def connection_report(broker: Broker) -> ConnectionReport:
    """How to ask ``broker`` for its connections, decided once at wiring: a
    broker that is not ``ConnectionReporting`` is one ``UnreportedLink``, and
    a report that raises (an adapter's library internals changed) is one
    naming the error, rather than a failed page."""
    name = broker.name
    if not isinstance(broker, ConnectionReporting):
        unreported = (Connection(name, UnreportedLink()),)
        return lambda: unreported
    reporting = broker

    def report() -> tuple[Connection, ...]:
        try:
            return reporting.connections()
        except Exception as exc:
            return (Connection(name, UnreportedLink(type(exc).__name__)),)

    return report


TierOf = Callable[[], AccountTier]
TierChange = Callable[[AccountTier, AccountTier], None]


@runtime_checkable
class RoutesByTier(Protocol):
    """Routes each new order by the account's tier, which the runtime's engine decides;
    reports a change through the callback it is given."""

    def bind(self, tier_of: TierOf, on_tier_change: TierChange | None = None) -> None: ...

    def broker_for(self, tier: AccountTier) -> Broker: ...
