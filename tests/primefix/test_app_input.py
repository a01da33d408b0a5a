"""Any NewOrderSingle content: one ExecutionReport answers it, the book stays sound."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from fix.framing import FixMessage
from standins.fix_pb.app import PrimeBrokerApplication
from standins.fix_pb.book import PrimeBook
from tests.primefix.conftest import market


@dataclass
class FakeConfig:
    key: str = "FIX.4.4:PRIMEBROKER->SOVEREIGN"


@dataclass
class FakeSession:
    config: FakeConfig = field(default_factory=FakeConfig)
    sent: list[tuple[bytes, list[tuple[int, object]]]] = field(default_factory=list)

    def send(self, msg_type: bytes, body: list[tuple[int, object]], now_ns: int) -> None:
        self.sent.append((msg_type, body))


values = st.one_of(
    st.sampled_from([b"100", b"0", b"-5", b"10.5", b"1e3", b"abc", b"", b"NaN", b"99999999"]),
    st.binary(max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(
    qty=values,
    ord_type=st.sampled_from([b"1", b"2", b"P", b"3", b"", b"Z"]),
    price=st.one_of(
        st.none(), values, st.sampled_from([b"185.5", b"0.000000001", b"1.0000000001"])
    ),
    tif=st.sampled_from([None, b"0", b"1", b"3", b"6", b"x"]),
    exec_inst=st.sampled_from([None, b"M", b"M P", b"P", b""]),
    min_qty=st.one_of(st.none(), values),
    venue=st.sampled_from([None, b"SIGMA-X", b"NYSE", b"NOWHERE", b""]),
    side=st.sampled_from([b"1", b"2", b"5", b"9", b""]),
    symbol=st.sampled_from([b"AAPL", b"MSFT", b"ZZZZ", b""]),
)
def test_every_order_gets_exactly_one_answer(
    qty, ord_type, price, tif, exec_inst, min_qty, venue, side, symbol
):
    book = PrimeBook(market(), 1)
    app = PrimeBrokerApplication(book, lambda: market().live_start_ns)
    session = FakeSession()
    fields = [(11, b"C1"), (38, qty), (40, ord_type), (54, side), (55, symbol)]
    for tag, value in ((44, price), (59, tif), (18, exec_inst), (110, min_qty), (100, venue)):
        if value is not None:
            fields.append((tag, value))
    app.on_message(FixMessage([(35, b"D"), *fields]), session, 0)  # type: ignore[arg-type]
    assert len(session.sent) == 1
    msg_type, body = session.sent[0]
    answer = dict(body)
    assert msg_type == b"8" and answer[150] in (b"0", b"8")
    if answer[150] == b"8":
        assert answer[58]  # the reason is named
        assert all(not o.open for o in book.orders.values())
    else:
        (order,) = book.orders.values()
        assert order.quantity > 0 and order.symbol in market().instruments
        assert order.min_quantity is None or 0 < order.min_quantity <= order.quantity
    assert book.positions == {} and book.executions == []
