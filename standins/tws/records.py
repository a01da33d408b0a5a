"""What the TWS stand-in remembers: its one account, each order, each execution, each client.

Plain records shared by the request handlers (``order_requests``,
``account_requests``, ``bar_requests``) and the server that owns them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from core.money import format_price, round_half_even_div
from standins.tws import protocol as p
from standins.tws.values import eastern

ACCOUNT = "DU0000001"
ALGOS = {"Adaptive": "adaptivePriority", "Vwap": "", "Twap": ""}
TIFS = {"DAY": "day", "GTC": "gtc", "IOC": "ioc"}


BOOK_TYPES = {"MKT": "market", "LMT": "limit", "STP": "stop"}
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
            else eastern(self.completed_ns).strftime("%Y%m%d %H:%M:%S US/Eastern")
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
