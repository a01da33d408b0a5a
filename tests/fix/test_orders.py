"""Order flow: core commands -> FIX and execution reports -> core events."""

from __future__ import annotations

import pytest

from core.commands import (
    CancelOrder,
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    ReplaceOrder,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.errors import BadInput
from core.money import price_from_decimal
from fix import codec, dictionary
from fix.framing import FixMessage
from fix.orders import OrderMapper
from tests.fix.helpers import T0, logged_on_acceptor, msg

DARK = SubmitOrder(
    time_ns=T0,
    client_order_id="C1",
    parent_id="P1",
    symbol="INTC",
    side=Side.BUY,
    quantity=500,
    order_type=OrderType.PEGGED_MIDPOINT,
    limit_price=price_from_decimal("25.125"),
    time_in_force=TimeInForce.IOC,
    venue="DARKX",
    min_quantity=100,
)


def _wire(msg_type: bytes, fields, begin: str = "FIX.4.4") -> FixMessage:
    head = [(34, 2), (49, b"A"), (52, b"20240102-10:00:00.000"), (56, b"B")]
    raw = codec.encode(begin.encode(), [(35, msg_type), *head, *fields])
    return FixMessage(codec.parse(raw), raw)


@pytest.mark.parametrize("begin", ["FIX.4.2", "FIX.4.4"])
def test_outbound_messages_are_valid_for_the_dictionary(begin) -> None:
    mapper = OrderMapper(account="ACC1")
    dd = dictionary.load(begin)
    cancel = CancelOrder(T0, "C2", "C1", "INTC", Side.BUY)
    replace = ReplaceOrder(T0, "C3", "C1", "INTC", Side.BUY, 400, price_from_decimal("25.1"))
    for msg_type, fields in (
        mapper.new_order_single(DARK),
        mapper.cancel_request(cancel),
        mapper.replace_request(replace),
    ):
        message = _wire(msg_type, fields, begin)
        parsed = dd.split(message.fields[2:-1])
        assert dd.validate(message.fields[2:-1], parsed) is None, (begin, msg_type)


def test_dark_midpoint_peg_order_fields() -> None:
    msg_type, fields = OrderMapper(account="ACC1").new_order_single(DARK)
    as_dict = {tag: value for tag, value in fields}
    assert msg_type == b"D"
    assert as_dict[40] == b"P" and as_dict[18] == b"M"
    assert as_dict[100] == "DARKX" and as_dict[110] == 100 and as_dict[59] == b"3"
    assert as_dict[44] == "25.125" and as_dict[1] == "ACC1" and as_dict[21] == b"1"


def test_replace_keeps_terms_and_changes_quantity_and_price() -> None:
    mapper = OrderMapper()
    mapper.new_order_single(DARK)
    msg_type, fields = mapper.replace_request(
        ReplaceOrder(T0, "C3", "C1", "INTC", Side.BUY, 300, price_from_decimal("25.2"))
    )
    as_dict = dict(fields)
    assert (msg_type, as_dict[41], as_dict[38], as_dict[44], as_dict[100]) == (
        b"G",
        "C1",
        300,
        "25.2",
        "DARKX",
    )
    with pytest.raises(BadInput, match="orig_client_order_id"):
        mapper.replace_request(ReplaceOrder(T0, "X", "nope", "INTC", Side.BUY, 1))


def _exec_report(exec_id: bytes, exec_type: bytes, status: bytes, qty=b"100", px=b"25.12"):
    return _wire(
        b"8",
        [
            (6, b"25.12"),
            (11, b"C1"),
            (14, qty),
            (17, exec_id),
            (30, b"DARKX"),
            (31, px),
            (32, qty),
            (37, b"O1"),
            (39, status),
            (54, b"1"),
            (55, b"INTC"),
            (60, b"20240102-10:00:01"),
            (150, exec_type),
            (151, b"400"),
        ],
    )


def test_execution_report_becomes_fill_and_status() -> None:
    events = OrderMapper().on_message(_exec_report(b"E1", b"F", b"1"), T0)
    fill, update = events
    assert isinstance(fill, Fill) and isinstance(update, OrderUpdate)
    assert (fill.exec_id, fill.quantity, fill.price, fill.venue, fill.side) == (
        "E1",
        100,
        price_from_decimal("25.12"),
        "DARKX",
        Side.BUY,
    )
    assert update.status is OrdStatus.PARTIALLY_FILLED


def test_duplicate_exec_id_including_possdup_resend_is_dropped() -> None:
    mapper = OrderMapper()
    assert len(mapper.on_message(_exec_report(b"E1", b"F", b"1"), T0)) == 2
    session = logged_on_acceptor()
    report = _exec_report(b"E1", b"F", b"1")
    resent = msg(b"8", 2, T0, report.fields[7:-1], [(43, b"Y"), (122, b"20240102-10:00:00")])
    delivered = session.on_bytes(resent, T0).app
    assert len(delivered) == 1
    assert mapper.on_message(delivered[0], T0) == []
    assert mapper.duplicates == 1


def test_ack_cancel_and_reject_statuses() -> None:
    mapper = OrderMapper()
    assert mapper.on_message(_exec_report(b"E2", b"0", b"0", b"0", b"0"), T0)[0].status is (
        OrdStatus.NEW
    )
    rejected = mapper.on_message(
        _wire(b"8", [(11, b"C1"), (17, b"E3"), (39, b"8"), (58, b"no liquidity"), (150, b"8")]), T0
    )
    assert (rejected[0].status, rejected[0].reason) == (OrdStatus.REJECTED, "no liquidity")
    cancel_reject = mapper.on_message(
        _wire(b"9", [(11, b"C2"), (39, b"0"), (41, b"C1"), (58, b"too late"), (434, b"1")]), T0
    )
    assert cancel_reject == [
        OrderUpdate(cancel_reject[0].time_ns, "C1", OrdStatus.NEW, "cancel rejected: too late")
    ]


@pytest.mark.parametrize(
    ("mangle", "field"),
    [
        ({32: b"1.5"}, "LastQty"),
        ({31: b"abc"}, "LastPx"),
        ({31: b"1.0000000001"}, "LastPx"),
        ({54: b"9"}, "Side"),
        ({150: b"Z"}, "ExecType"),
    ],
)
def test_bad_execution_reports_are_refused_by_name(mangle, field) -> None:
    base = _exec_report(b"E9", b"F", b"2")
    fields = [(t, mangle.get(t, v)) for t, v in base.fields[7:-1]]
    mapper = OrderMapper()
    with pytest.raises(BadInput, match=field):
        mapper.on_message(_wire(b"8", fields), T0)
    fixed = _exec_report(b"E9", b"F", b"2")
    assert len(mapper.on_message(fixed, T0)) == 2  # a rejected report did not poison the id


def test_exec_ids_survive_a_restart_when_seeded() -> None:
    first = OrderMapper()
    first.on_message(_exec_report(b"E1", b"F", b"2"), T0)
    revived = OrderMapper(known_exec_ids=first.exec_ids)
    assert revived.on_message(_exec_report(b"E1", b"F", b"2"), T0) == []
