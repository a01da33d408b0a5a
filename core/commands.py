"""Order vocabulary shared by the core and every shell.

The core returns ``Command`` values; shells (simulator venues, Alpaca, IBKR,
the FIX prime broker) execute them and answer with ``Fill`` and
``OrderUpdate`` events. Field names follow FIX where FIX has a name, so the
FIX mapping is a table, not a translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, −1 for a sell (TCA's ``s``)."""
        return 1 if self is Side.BUY else -1


class OrderType(str, Enum):
    MARKET = "market"
    LIMIT = "limit"
    PEGGED_MIDPOINT = "pegged_midpoint"  # FIX OrdType=P with ExecInst=M
    STOP = "stop"  # FIX OrdType=3 with StopPx(99): a market order once traded through


class TimeInForce(str, Enum):
    DAY = "day"
    IOC = "ioc"
    GTC = "gtc"


class OrdStatus(str, Enum):
    """FIX OrdStatus (39) values the lifecycle uses."""

    PENDING_NEW = "pending_new"
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending_cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending_replace"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"


# ----------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class SubmitOrder:
    """Send a new (child) order. Prices in nano-units, quantity in units."""

    time_ns: int
    client_order_id: str
    parent_id: str | None
    symbol: str
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    limit_price: int | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    venue: str | None = None  # FIX ExDestination(100); None = broker's choice
    min_quantity: int | None = None  # FIX MinQty(110), dark pools
    algo: str | None = None
    stop_price: int | None = None  # FIX StopPx(99): the trigger of an OrderType.STOP


@dataclass(frozen=True, slots=True)
class CancelOrder:
    time_ns: int
    client_order_id: str  # the id of this cancel request
    orig_client_order_id: str
    symbol: str
    side: Side


@dataclass(frozen=True, slots=True)
class ReplaceOrder:
    time_ns: int
    client_order_id: str  # the new id the order takes on once replaced
    orig_client_order_id: str
    symbol: str
    side: Side
    quantity: int
    limit_price: int | None = None
    stop_price: int | None = None  # a resting stop moved (FIX StopPx(99))


@dataclass(frozen=True, slots=True)
class Alert:
    """Something a person should hear about (Telegram, log)."""

    time_ns: int
    level: str  # "info" | "warning" | "error"
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Record:
    """A fact worth persisting (signal, risk decision, TCA, trade)."""

    time_ns: int
    kind: str
    payload: dict[str, object] = field(default_factory=dict)


Command = SubmitOrder | CancelOrder | ReplaceOrder | Alert | Record


# ------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution; ``exec_id`` is unique per venue and deduplicates."""

    time_ns: int
    client_order_id: str
    exec_id: str
    symbol: str
    side: Side
    quantity: int
    price: int
    venue: str = ""
    fee: int = 0  # nano-units of quote currency; negative = rebate


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """A status change reported by a venue (ack, reject, cancel, expiry)."""

    time_ns: int
    client_order_id: str
    status: OrdStatus
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Timer:
    """A scheduled wake-up; ``key`` says whose."""

    time_ns: int
    key: str = ""


@dataclass(frozen=True, slots=True)
class CashFlow:
    """Money moved into (``amount`` > 0) or out of (< 0) the account by its owner.

    A deposit or withdrawal is not P&L, but it moves equity and so the tier
    (SPEC §7). ``flow_id`` is the broker's id of the transfer (Alpaca's activity
    id): the engine applies each id once, so a journal replay or a broker that
    reports the same transfer again never counts it twice. ``amount`` is signed
    nano-units of the quote currency.
    """

    time_ns: int
    flow_id: str
    amount: int
    reason: str = ""
    charge: bool = False
    """A charge or credit of the account itself (short borrow, margin interest):
    P&L, not a transfer by the owner, so it is not counted in net flows."""


# ------------------------------------------------ engine additions (issue 3)


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    """Ask the shell for a ``Timer(time_ns, key)`` event at ``time_ns``.

    The core owns no clock thread: an algorithm that wants to act between bars
    (a TWAP child at a jittered time, a parent's expiry) asks for a wake-up and
    the shell delivers it through ``Engine.handle`` like any other event.
    """

    time_ns: int
    key: str


EngineCommand = Command | ScheduleTimer
"""Everything ``Engine.handle`` may return: the shared commands plus timers."""
