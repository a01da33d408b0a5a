"""The TWS API wire at server version 178: framing, the handshake, field reading and writing.

A TWS connection starts with the client's ``API\\0`` and a length-prefixed
``v{min}..{max}`` range; the server answers with one frame of two fields (the
chosen version and its connection time) and from then on every message is a
4-byte big-endian length followed by NUL-terminated text fields, the message
id first. Which fields a message carries depends on the negotiated version;
this stand-in speaks exactly one, 178 (the top of ``ib_async`` 2.x's range,
what a current TWS or IB Gateway negotiates with it), and refuses clients that
cannot speak it. Field lists below follow ``ib_async/decoder.py`` and
``ib_async/client.py`` at that version, message by message.

Pure functions and small value classes: no sockets here.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

SERVER_VERSION = 178
MAX_FRAME = 1 << 20  # TWS refuses messages over ~1 MB; so do we
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"  # Double.MAX_VALUE: "no value" in doubles
_VERSION_RANGE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?: .*)?$", re.S)


class ProtocolError(ValueError):
    """A message the server cannot read; names the field and the value."""

    def __init__(self, message_id: object, field: str, value: object, reason: str) -> None:
        super().__init__(f"message {message_id}: {field}={value!r} {reason}")
        self.field = field
        self.value = value


# ------------------------------------------------------------------ framing


def frame(fields: Iterable[object]) -> bytes:
    """One outgoing message: each field as text + NUL, behind the 4-byte length."""
    body = "".join(f"{encode(f)}\0" for f in fields).encode()
    return struct.pack(">I", len(body)) + body


def encode(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def negotiate(text: str) -> int:
    """The version to speak with a client that offered ``v{min}..{max}``.

    Raises ``ProtocolError`` when 178 is outside the client's range (TWS closes
    such connections; ``ib_async`` 2.x always offers 157..178).
    """
    match = _VERSION_RANGE.match(text)
    if match is None:
        raise ProtocolError("handshake", "version range", text, "is not v<min>..<max>")
    low = int(match.group(1))
    high = int(match.group(2) or match.group(1))
    if not low <= SERVER_VERSION <= high:
        raise ProtocolError(
            "handshake", "version range", text, f"does not include server version {SERVER_VERSION}"
        )
    return SERVER_VERSION


@dataclass
class FrameReader:
    """Splits the client's byte stream into messages (lists of text fields).

    The first message is the handshake: ``API\\0`` then one length-prefixed
    text (not NUL-split). Anything else before it is a protocol error.
    """

    buffer: bytes = b""
    greeted: bool = False

    def feed(self, data: bytes) -> list[list[str]]:
        self.buffer += data
        out: list[list[str]] = []
        while True:
            if not self.greeted:
                if len(self.buffer) < 4:
                    return out
                if self.buffer[:4] != b"API\0":
                    raise ProtocolError("handshake", "prefix", self.buffer[:4], "is not API\\0")
                body = self._take(4)
                if body is None:
                    return out
                self.greeted = True
                out.append([body.decode(errors="replace")])
                continue
            body = self._take(0)
            if body is None:
                return out
            text = body.decode(errors="replace")
            fields = text.split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)

    def _take(self, offset: int) -> bytes | None:
        if len(self.buffer) < offset + 4:
            return None
        (size,) = struct.unpack(">I", self.buffer[offset : offset + 4])
        if size > MAX_FRAME:
            raise ProtocolError("frame", "length", size, f"exceeds {MAX_FRAME} bytes")
        end = offset + 4 + size
        if len(self.buffer) < end:
            return None
        body = self.buffer[offset + 4 : end]
        self.buffer = self.buffer[end:]
        return body


class Fields:
    """Reads one request's fields in order, with errors that name the field."""

    def __init__(self, fields: Sequence[str]) -> None:
        self._fields = list(fields)
        self._i = 0
        self.message_id = self._fields[0] if self._fields else "?"

    def text(self, name: str) -> str:
        if self._i >= len(self._fields):
            raise ProtocolError(self.message_id, name, None, "is missing (message too short)")
        value = self._fields[self._i]
        self._i += 1
        return value

    def integer(self, name: str, default: int | None = None) -> int:
        value = self.text(name)
        if value == "" and default is not None:
            return default
        try:
            return int(value)
        except ValueError:
            raise ProtocolError(self.message_id, name, value, "is not an integer") from None

    def decimal(self, name: str) -> Decimal | None:
        """A double field: empty or Double.MAX_VALUE mean "unset" (None)."""
        value = self.text(name)
        if value == "" or value.upper() == UNSET_DOUBLE_TEXT.upper():
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ProtocolError(self.message_id, name, value, "is not a number") from None
        if not number.is_finite():
            raise ProtocolError(self.message_id, name, value, "is not finite")
        return number

    def flag(self, name: str) -> bool:
        value = self.text(name)
        if value in ("", "0"):
            return False
        if value == "1":
            return True
        raise ProtocolError(self.message_id, name, value, "is not 0 or 1")

    def skip(self, *names: str) -> None:
        for name in names:
            self.text(name)

    @property
    def remaining(self) -> int:
        return len(self._fields) - self._i


# --------------------------------------------------------------- contracts


@dataclass(frozen=True)
class ContractSpec:
    """The 12 contract fields ``ib_async`` sends inside requests."""

    con_id: int
    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str
    currency: str
    local_symbol: str


def read_contract(f: Fields) -> ContractSpec:
    con_id = f.integer("contract.conId", 0)
    symbol = f.text("contract.symbol")
    sec_type = f.text("contract.secType")
    f.skip("contract.lastTradeDateOrContractMonth", "contract.strike", "contract.right")
    f.skip("contract.multiplier")
    exchange = f.text("contract.exchange")
    primary = f.text("contract.primaryExchange")
    currency = f.text("contract.currency")
    local = f.text("contract.localSymbol")
    f.skip("contract.tradingClass")
    return ContractSpec(con_id, symbol, sec_type, exchange, primary, currency, local)


# ------------------------------------------------------------------ orders


@dataclass
class PlacedOrder:
    """The fields of a PLACE_ORDER (3) request the stand-in acts on."""

    order_id: int
    contract: ContractSpec
    action: str
    total_quantity: Decimal | None
    order_type: str
    lmt_price: Decimal | None
    tif: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    min_qty: int | None
    algo_strategy: str
    algo_params: list[tuple[str, str]] = field(default_factory=list)
    what_if: bool = False
    conditions: int = 0
    hidden: bool = False
    aux_price: Decimal | None = None  # STP: the stop price


def read_place_order(f: Fields) -> PlacedOrder:
    """PLACE_ORDER at version 178, field for field as ``ib_async.client.placeOrder`` writes it."""
    order_id = f.integer("orderId")  # (the message id is already read)
    contract = read_contract(f)
    if contract.sec_type == "BAG":
        raise ProtocolError(f.message_id, "contract.secType", "BAG", "combos are not supported")
    f.skip("secIdType", "secId")
    action = f.text("action")
    quantity = f.decimal("totalQuantity")
    order_type = f.text("orderType")
    lmt = f.decimal("lmtPrice")
    aux = f.decimal("auxPrice")
    tif = f.text("tif")
    f.skip("ocaGroup")
    account = f.text("account")
    f.skip("openClose", "origin")
    order_ref = f.text("orderRef")
    transmit = f.flag("transmit")
    parent_id = f.integer("parentId", 0)
    f.skip("blockOrder", "sweepToFill", "displaySize", "triggerMethod")
    outside_rth = f.flag("outsideRth")
    hidden = f.flag("hidden")
    f.skip("sharesAllocation", "discretionaryAmt", "goodAfterTime", "goodTillDate")
    f.skip("faGroup", "faMethod", "faPercentage")  # no faProfile from 177 on
    f.skip("modelCode", "shortSaleSlot", "designatedLocation", "exemptCode", "ocaType")
    f.skip("rule80A", "settlingFirm", "allOrNone")
    min_qty_text = f.text("minQty")
    try:
        min_qty = int(min_qty_text) if min_qty_text else None
    except ValueError:
        raise ProtocolError(f.message_id, "minQty", min_qty_text, "is not an integer") from None
    f.skip("percentOffset", "eTradeOnly", "firmQuoteOnly", "nbboPriceCap", "auctionStrategy")
    f.skip("startingPrice", "stockRefPrice", "delta", "stockRangeLower", "stockRangeUpper")
    f.skip("overridePercentageConstraints", "volatility", "volatilityType")
    delta_neutral_type = f.text("deltaNeutralOrderType")
    f.skip("deltaNeutralAuxPrice")
    if delta_neutral_type:
        raise ProtocolError(
            f.message_id, "deltaNeutralOrderType", delta_neutral_type, "is not supported"
        )
    f.skip("continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent")
    f.skip("scaleInitLevelSize", "scaleSubsLevelSize")
    increment = f.decimal("scalePriceIncrement")
    if increment is not None and increment > 0:
        raise ProtocolError(
            f.message_id, "scalePriceIncrement", increment, "scale orders unsupported"
        )
    f.skip("scaleTable", "activeStartTime", "activeStopTime")
    hedge = f.text("hedgeType")
    if hedge:
        f.skip("hedgeParam")
    f.skip("optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld")
    if f.flag("deltaNeutralContract"):
        f.skip("dnc.conId", "dnc.delta", "dnc.price")
    algo = f.text("algoStrategy")
    params: list[tuple[str, str]] = []
    if algo:
        count = f.integer("algoParams.count", 0)
        if not 0 <= count <= 64:
            raise ProtocolError(f.message_id, "algoParams.count", count, "is out of range")
        params = [(f.text("algoParams.tag"), f.text("algoParams.value")) for _ in range(count)]
    f.skip("algoId")
    what_if = f.flag("whatIf")
    f.skip("orderMiscOptions", "solicited", "randomizeSize", "randomizePrice")
    if order_type in ("PEG BENCH", "PEGBENCH"):
        f.skip("referenceContractId", "isPeggedChangeAmountDecrease", "peggedChangeAmount")
        f.skip("referenceChangeAmount", "referenceExchangeId")
    conditions = f.integer("conditions.count", 0)
    if conditions:
        raise ProtocolError(f.message_id, "conditions.count", conditions, "conditions unsupported")
    # adjusted/trailing fields, soft-dollar tier, cash qty, MiFID II, then 158+ extras:
    # read for shape only; nothing here changes how the stand-in trades.
    return PlacedOrder(
        order_id=order_id,
        contract=contract,
        action=action,
        total_quantity=quantity,
        order_type=order_type,
        lmt_price=lmt,
        aux_price=aux,
        tif=tif,
        account=account,
        order_ref=order_ref,
        transmit=transmit,
        parent_id=parent_id,
        outside_rth=outside_rth,
        min_qty=min_qty,
        algo_strategy=algo,
        algo_params=params,
        what_if=what_if,
        conditions=conditions,
        hidden=hidden,
    )


# -------------------------------------------------------- outgoing messages


def contract_fields(con_id: int, symbol: str, exchange: str = "SMART") -> list[object]:
    """conId, symbol, secType, lastTradeDate, strike, right, multiplier, exchange,
    currency, localSymbol, tradingClass (the 11-field form of order/execution messages)."""
    return [con_id, symbol, "STK", "", "0", "", "", exchange, "USD", symbol, "NMS"]


@dataclass(frozen=True)
class OrderView:
    """What openOrder / completedOrder / orderStatus need to say about one order."""

    order_id: int
    client_id: int
    perm_id: int
    con_id: int
    symbol: str
    action: str
    quantity: int
    order_type: str
    lmt_price: str  # decimal text or "" when unset
    tif: str
    account: str
    order_ref: str
    algo_strategy: str
    algo_params: tuple[tuple[str, str], ...]
    status: str  # IB status word
    filled: int
    avg_fill_price: str
    last_fill_price: str
    min_qty: int | None = None
    completed_time: str = ""
    aux_price: str = ""  # STP: the stop price, decimal text


def _order_terms(o: OrderView) -> list[object]:
    """The order's terms as openOrder and completedOrder both carry them, after the contract."""
    return [
        o.action,
        o.quantity,
        o.order_type,
        o.lmt_price or "0",
        o.aux_price or "0",
        o.tif,
        "",  # ocaGroup
        o.account,
    ]


def open_order(o: OrderView) -> list[object]:
    fields: list[object] = [5, o.order_id, *contract_fields(o.con_id, o.symbol)]
    fields += _order_terms(o)
    fields += ["O", 0, o.order_ref, o.client_id, o.perm_id, 0, 0, "0", "", ""]
    fields += ["", "", ""]  # faGroup, faMethod, faPercentage (no faProfile at 178)
    fields += ["", "", "0", "", "", 0, "", "", "", "", "", "", "", ""]
    fields += [0, 0, 0, 0, "" if o.min_qty is None else o.min_qty, 3, 0, 0, ""]
    fields += [0, 0, "", 0, "", ""]  # parentId, triggerMethod, volatility, type, dn type/aux
    fields += [0, 0, "", "", "", "", ""]  # continuousUpdate .. basisPointsType, combo descr
    fields += [0, 0, 0]  # combo legs, order combo legs, smart combo routing params
    fields += ["", "", ""]  # scale init/subs level size, scale price increment (unset)
    fields += [""]  # hedgeType
    fields += [0, "", "", 0, 0]  # optOutSmartRouting .. notHeld, no delta-neutral contract
    fields += [o.algo_strategy]
    if o.algo_strategy:
        fields += [len(o.algo_params)]
        for tag, value in o.algo_params:
            fields += [tag, value]
    fields += [0, 0, o.status]  # solicited, whatIf, status
    fields += [UNSET_DOUBLE_TEXT] * 9  # margin before/change/after (not a what-if)
    fields += ["", "", "", "USD", "", 0, 0]  # commission, min, max, currency, warning, random
    fields += [0]  # conditions
    fields += ["None", "", "", "", "", "", "", 0, "", "", "", "", 0, 0, "", 0]
    fields += ["", 0, 0]  # duration, postToAts, autoCancelParent
    fields += ["", "", "", "", ""]  # minTradeQty .. midOffsetAtHalf
    return fields


def completed_order(o: OrderView) -> list[object]:
    fields: list[object] = [101, *contract_fields(o.con_id, o.symbol)]
    fields += _order_terms(o)
    fields += ["O", 0, o.order_ref, o.perm_id, 0, 0, "0", "", "", "", ""]
    fields += ["", "", "0", "", "", 0, "", "", "", "", "", "", "", "", 0, 0]
    fields += ["" if o.min_qty is None else o.min_qty, 3, 0, "", 0, "", ""]
    fields += [0, 0, "", "", ""]  # continuousUpdate .. trailingPercent, combo descr
    fields += [0, 0, 0, "", "", "", ""]  # legs, order legs, params, scale x3, hedgeType
    fields += ["", "", 0, 0]  # clearingAccount, clearingIntent, notHeld, no dn contract
    fields += [o.algo_strategy]
    if o.algo_strategy:
        fields += [len(o.algo_params)]
        for tag, value in o.algo_params:
            fields += [tag, value]
    fields += [0, o.status, 0, 0, 0]  # solicited, status, randomize x2, conditions
    fields += ["", "", "", 0, 0, "", o.filled, 0, 0, "", 0, 0, 0]
    fields += [o.completed_time, o.status]
    fields += ["", "", "", "", ""]
    return fields


def order_status(o: OrderView) -> list[object]:
    remaining = o.quantity - o.filled if o.status not in ("Cancelled", "ApiCancelled") else 0
    return [
        3,
        o.order_id,
        o.status,
        o.filled,
        remaining,
        o.avg_fill_price or "0",
        o.perm_id,
        0,
        o.last_fill_price or "0",
        o.client_id,
        "",
        "0",
    ]


@dataclass(frozen=True)
class ExecutionView:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    con_id: int
    symbol: str
    time_text: str  # "YYYYMMDD HH:MM:SS US/Eastern"
    account: str
    exchange: str
    side: str  # BOT / SLD
    shares: int
    price: str
    cum_qty: int
    avg_price: str
    order_ref: str
    commission: str


def exec_details(req_id: int, e: ExecutionView) -> list[object]:
    return [
        11,
        req_id,
        e.order_id,
        *contract_fields(e.con_id, e.symbol, e.exchange),
        e.exec_id,
        e.time_text,
        e.account,
        e.exchange,
        e.side,
        e.shares,
        e.price,
        e.perm_id,
        e.client_id,
        0,
        e.cum_qty,
        e.avg_price,
        e.order_ref,
        "",
        "",
        "",
        1 if e.exchange != "SMART" else 2,  # lastLiquidity: 1 added, 2 removed
        0,  # pendingPriceRevision (178)
    ]


def commission_report(e: ExecutionView) -> list[object]:
    return [59, 1, e.exec_id, e.commission, "USD", UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT, ""]


def error(req_id: int, code: int, text: str) -> list[object]:
    return [4, 2, req_id, code, text, ""]  # advancedOrderRejectJson (166+)


def contract_details(
    req_id: int, symbol: str, con_id: int, long_name: str, trading_hours: str, liquid_hours: str
) -> list[object]:
    """CONTRACT_DATA (10) without the version field (164+)."""
    return [
        10,
        req_id,
        symbol,
        "STK",
        "",  # lastTradeDate (and time, zone)
        "0",
        "",
        "SMART",
        "USD",
        symbol,
        "NMS",
        "NMS",
        con_id,
        "0.01",
        "",  # multiplier
        "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,DAY,GTC,IOC,LIT,LMT,MKT,MIT,NONALGO",
        "SMART,ARCA,NYSE,NASDAQ,IEX,IBKRATS",
        1,
        0,
        long_name,
        "NASDAQ",
        "",
        "Simulated",
        "Simulated",
        "Simulated",
        "US/Eastern",
        trading_hours,
        liquid_hours,
        "",
        "",
        0,  # secIdList count
        1,
        "",
        "",
        "26",
        "",
        "COMMON",
        "1",
        "1",
        "100",
    ]


def historical_bar_fields(date: str, o: str, h: str, low: str, c: str, v: int, wap: str, n: int):
    return [date, o, h, low, c, v, wap, n]
