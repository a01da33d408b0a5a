"""Order requests to the TWS stand-in: place, modify, cancel, list, and executions.

Split from the server so that what IB does with an order (the checks it makes,
the status and execution messages it sends, to which client) is one room; the
server only routes the request here by its msgId.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.money import format_price, round_half_even_div
from standins.broker import ApiError
from standins.tws import protocol as p
from standins.tws.records import ACCOUNT, ALGOS, BOOK_TYPES, TIFS, Execution, IbOrder, Session
from standins.tws.values import (
    eastern,
    parse_ib_time,
    parse_rfc3339,
)

if TYPE_CHECKING:
    from standins.tws.server import TwsServer


class OrderRequests:
    """placeOrder (new and modify), cancels, open/completed orders and executions.

    Orders trade in the server's ``IbBook``; ``apply`` turns the book's events into
    each owning client's openOrder/orderStatus/execDetails/commissionReport.
    """

    def __init__(self, tws: TwsServer) -> None:
        self.tws = tws
        self._perm_seq = 1_000_000
        self._exec_seq = 0

    def place_order(self, session: Session, f: p.Fields) -> None:
        order = p.read_place_order(f)
        client_id = session.client_id or 0
        key = (client_id, order.order_id)
        existing = self.tws.orders.get(key)
        if existing is not None:
            self._modify(session, existing, order)
            return
        if order.order_id < self.tws.next_id(client_id):
            self.tws.send(session, p.error(order.order_id, 103, "Duplicate order id"))
            self.tws.count("rejected_orders")
            return
        self.tws.next_ids[client_id] = order.order_id + 1
        problem = self._order_problem(order)
        if problem is not None:
            self.tws.count("rejected_orders")
            self.tws.send(
                session, p.error(order.order_id, 201, f"Order rejected - reason:{problem}")
            )
            return
        symbol = order.contract.symbol or self.tws.symbols[order.contract.con_id]
        quantity = int(order.total_quantity or 0)
        self._perm_seq += 1
        perm = self._perm_seq
        body: dict[str, Any] = {
            "symbol": symbol,
            "side": order.action.lower(),
            "type": BOOK_TYPES[order.order_type],
            "time_in_force": TIFS[order.tif or "DAY"],
            "qty": str(quantity),
            "client_order_id": f"ib-{perm}",
        }
        if order.order_type == "LMT":
            body["limit_price"] = str(order.lmt_price)
        if order.order_type == "STP":
            body["stop_price"] = str(order.aux_price)
        now = self.tws.now()
        try:
            answer, events = self.tws.book.submit(now, body)
        except ApiError as exc:
            self.tws.count("rejected_orders")
            reason = exc.body.get("message", str(exc))
            self.tws.send(
                session, p.error(order.order_id, 201, f"Order rejected - reason:{reason}")
            )
            return
        record = IbOrder(
            order_id=order.order_id,
            client_id=client_id,
            perm_id=perm,
            symbol=symbol,
            con_id=self.tws.con_ids[symbol],
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
        self.tws.orders[key] = record
        self.tws.by_book_id[record.book_id] = record
        self.tws.send(session, p.open_order(record.view()))
        self.tws.send(session, p.order_status(record.view()))
        self.apply(events)

    def _order_problem(self, order: p.PlacedOrder) -> str | None:
        c = order.contract
        symbol = c.symbol or self.tws.symbols.get(c.con_id, "")
        if c.sec_type != "STK":
            return f"secType {c.sec_type!r} is not traded here (STK only)"
        if symbol not in self.tws.con_ids:
            return f"no security definition for {symbol!r}"
        if c.currency not in ("", "USD"):
            return f"currency {c.currency!r} is not USD"
        if order.action not in ("BUY", "SELL"):
            return f"action {order.action!r} must be BUY or SELL"
        q = order.total_quantity
        if q is None or q <= 0 or q != q.to_integral_value():
            return f"totalQuantity {q} must be a positive whole number of shares"
        if order.order_type not in BOOK_TYPES:
            return f"order type {order.order_type!r} is not supported (MKT, LMT, STP)"
        if order.order_type == "LMT" and (order.lmt_price is None or order.lmt_price <= 0):
            return "a LMT order needs a positive lmtPrice"
        if order.order_type == "STP" and (order.aux_price is None or order.aux_price <= 0):
            return "a STP order needs a positive auxPrice (the stop price)"
        if (order.tif or "DAY") not in TIFS:
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
            self.tws.send(
                session,
                p.error(record.order_id, 104, "Cannot modify a filled order."),
            )
            return
        quantity = int(order.total_quantity or 0)
        if quantity <= record.filled:
            self.tws.send(
                session,
                p.error(record.order_id, 201, "Order rejected - reason:quantity below filled"),
            )
            return
        body: dict[str, Any] = {
            "qty": str(quantity - record.filled),
            "client_order_id": f"ib-{record.perm_id}-{len(self.tws.by_book_id)}",
        }
        if record.order_type == "LMT" and order.lmt_price is not None:
            body["limit_price"] = str(order.lmt_price)
        if record.order_type == "STP" and order.aux_price is not None and order.aux_price > 0:
            body["stop_price"] = str(order.aux_price)
        try:
            answer, events = self.tws.book.replace(self.tws.now(), record.book_id, body)
        except ApiError as exc:
            reason = exc.body.get("message", str(exc))
            self.tws.send(
                session, p.error(record.order_id, 201, f"Order rejected - reason:{reason}")
            )
            return
        record.book_id = answer["id"]
        self.tws.by_book_id[record.book_id] = record
        record.quantity = quantity
        if order.lmt_price is not None and record.order_type == "LMT":
            record.lmt_text = str(order.lmt_price.normalize())
        if "stop_price" in body and order.aux_price is not None:
            record.aux_text = format(order.aux_price.normalize(), "f")
        record.order_ref = order.order_ref or record.order_ref
        record.status = "Submitted"
        self.tws.send(session, p.open_order(record.view()))
        self.tws.send(session, p.order_status(record.view()))
        self.apply([e for e in events if e["event"] not in ("replaced", "new")])

    def cancel_order(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        order_id = f.integer("orderId")
        record = self.tws.orders.get((session.client_id or 0, order_id))
        if record is None or record.done:
            self.tws.send(
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
            events = self.tws.book.cancel(self.tws.now(), record.book_id)
        except ApiError as exc:
            self.tws.to_client(record.client_id, p.error(record.order_id, 161, str(exc)))
            return
        self.apply(events)

    def global_cancel(self, _session: Session, _f: p.Fields) -> None:
        for record in list(self.tws.orders.values()):
            if not record.done:
                self._cancel_record(record)

    def apply(self, events: list[dict[str, Any]]) -> None:
        """The book's order events → the owning client's openOrder/orderStatus/execDetails."""
        touched_positions = False
        for event in events:
            record = self.tws.by_book_id.get(event["order"]["id"])
            if record is None:
                continue
            kind = event["event"]
            now = parse_rfc3339(event["timestamp"])
            if kind == "new":
                if record.status == "PreSubmitted":
                    record.status = "Submitted"
                    self.tws.to_client(record.client_id, p.order_status(record.view()))
            elif kind in ("fill", "partial_fill"):
                self._execution(record, event, now)
                touched_positions = True
            elif kind in ("canceled", "expired"):
                record.status = "Cancelled"
                record.completed_ns = now
                self.tws.to_client(record.client_id, p.order_status(record.view()))
                self.tws.to_client(record.client_id, p.open_order(record.view()))
                reason = "" if record.cancel_requested else "expired (end of DAY)"
                self.tws.to_client(
                    record.client_id,
                    p.error(record.order_id, 202, f"Order Canceled - reason:{reason}"),
                )
            elif kind == "rejected":
                record.status = "Cancelled"
                record.completed_ns = now
                reason = event["order"].get("status", "")
                self.tws.to_client(
                    record.client_id,
                    p.error(record.order_id, 201, f"Order rejected - reason:{reason}"),
                )
                self.tws.to_client(record.client_id, p.order_status(record.view()))
        if touched_positions:
            self.tws.account_desk.push_account(positions=True)

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
            time_text=eastern(now).strftime("%Y%m%d %H:%M:%S US/Eastern"),
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
        self.tws.executions.append(Execution(view, now))
        self.tws.to_client(record.client_id, p.exec_details(-1, view))
        self.tws.to_client(record.client_id, p.order_status(record.view()))
        if record.status == "Filled":
            self.tws.to_client(record.client_id, p.open_order(record.view()))
        self.tws.to_client(record.client_id, p.commission_report(view))

    def open_orders(self, session: Session, f: p.Fields, everyone: bool = False) -> None:
        for record in self.tws.orders.values():
            if record.done or (not everyone and record.client_id != session.client_id):
                continue
            self.tws.send(session, p.open_order(record.view()))
            self.tws.send(session, p.order_status(record.view()))
        self.tws.send(session, [53, 1])

    def all_open_orders(self, session: Session, f: p.Fields) -> None:
        self.open_orders(session, f, everyone=True)

    def completed_orders(self, session: Session, f: p.Fields) -> None:
        for record in self.tws.orders.values():
            if record.done:
                self.tws.send(session, p.completed_order(record.view()))
        self.tws.send(session, [102])

    def req_executions(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        client_id = f.integer("filter.clientId", 0)
        account = f.text("filter.acctCode")
        since = f.text("filter.time")
        symbol = f.text("filter.symbol")
        f.skip("filter.secType", "filter.exchange")
        side = f.text("filter.side")
        since_ns = parse_ib_time(since, "filter.time") if since else None
        for execution in self.tws.executions:
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
            self.tws.send(session, p.exec_details(req_id, v))
            self.tws.send(session, p.commission_report(v))
        self.tws.send(session, [55, 1, req_id])
