"""Account requests to the TWS stand-in: values, positions, portfolio, summaries.

Split from the server so the account's view of the book (and what subscribed
clients are re-sent after fills and each minute) is one room.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.money import format_price
from standins.tws import protocol as p
from standins.tws.records import ACCOUNT, Session
from standins.tws.values import (
    average_cost,
    eastern,
)

if TYPE_CHECKING:
    from standins.tws.server import TwsServer


class AccountRequests:
    """Account values, positions, portfolio and account summaries, and keeping them current.

    Everything is read from the server's ``IbBook`` when sent, so a client always
    sees the book as it is; ``push`` re-sends what each client subscribed to.
    """

    def __init__(self, tws: TwsServer) -> None:
        self.tws = tws

    def account_values(self) -> list[tuple[str, str, str]]:
        book = self.tws.book
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

    def req_positions(self, session: Session, _f: p.Fields) -> None:
        session.positions = True
        for symbol in sorted(self.tws.book.positions):
            if self.tws.book.positions[symbol].qty:
                self.tws.send(session, self._position(symbol))
        self.tws.send(session, [62, 1])

    def _position(self, symbol: str) -> list[object]:
        position = self.tws.book.positions.get(symbol)
        qty = position.qty if position else 0
        avg = average_cost(position.cost, qty) if position else 0
        contract = p.contract_fields(self.tws.con_ids[symbol], symbol, "")
        return [61, 3, ACCOUNT, *contract, qty, format_price(avg)]

    def cancel_positions(self, session: Session, _f: p.Fields) -> None:
        session.positions = False

    def account_updates(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        subscribe = f.flag("subscribe")
        account = f.text("acctCode")
        if account not in ("", ACCOUNT):
            self.tws.send(session, p.error(-1, 321, f"Error validating request: account {account}"))
            return
        session.account_updates = subscribe
        if subscribe:
            self._send_account(session, portfolio=True)
            self.tws.send(session, [54, 1, ACCOUNT])

    def _send_account(self, session: Session, portfolio: bool) -> None:
        for key, value, currency in self.account_values():
            self.tws.send(session, [6, 2, key, value, currency, ACCOUNT])
        if portfolio:
            for symbol in sorted(self.tws.book.positions):
                self.tws.send(session, self._portfolio(symbol))
        self.tws.send(session, [8, 1, eastern(self.tws.now()).strftime("%H:%M")])

    def _portfolio(self, symbol: str) -> list[object]:
        position = self.tws.book.positions[symbol]
        price = self.tws.book.last_price.get(symbol, 0)
        qty = position.qty
        avg = average_cost(position.cost, qty)
        value = qty * price
        return [
            7,
            8,
            self.tws.con_ids[symbol],
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

    def account_multi(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        account = f.text("account")
        f.skip("modelCode", "ledgerAndNLV")
        if account not in ("", ACCOUNT):
            self.tws.send(
                session, p.error(req_id, 321, f"Error validating request: account {account}")
            )
            return
        session.account_multi.add(req_id)
        for key, value, currency in self.account_values():
            self.tws.send(session, [73, 1, req_id, ACCOUNT, "", key, value, currency])
        self.tws.send(session, [74, 1, req_id])

    def cancel_account_multi(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.account_multi.discard(f.integer("reqId"))

    def account_summary(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        req_id = f.integer("reqId")
        f.skip("groupName")
        tags = tuple(t for t in f.text("tags").split(",") if t)
        session.summaries[req_id] = tags
        self._send_summary(session, req_id, tags)
        self.tws.send(session, [64, 1, req_id])

    def _send_summary(self, session: Session, req_id: int, tags: tuple[str, ...]) -> None:
        for key, value, currency in self.account_values():
            if key in tags and currency != "BASE":
                self.tws.send(session, [63, 1, req_id, ACCOUNT, key, value, currency])

    def cancel_summary(self, session: Session, f: p.Fields) -> None:
        f.skip("version")
        session.summaries.pop(f.integer("reqId"), None)

    def push_account(self, positions: bool) -> None:
        """After fills and each minute: what subscribed clients are kept current with."""
        for session in list(self.tws.sessions):
            if positions and session.positions:
                for symbol in sorted(self.tws.book.positions):
                    self.tws.send(session, self._position(symbol))
            if session.account_updates:
                self._send_account(session, portfolio=positions)
            for req_id in sorted(session.account_multi):
                for key, value, currency in self.account_values():
                    self.tws.send(session, [73, 1, req_id, ACCOUNT, "", key, value, currency])
            for req_id, tags in session.summaries.items():
                self._send_summary(session, req_id, tags)
