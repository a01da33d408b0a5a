"""The prime broker's wire tap and outage control: the evidence crash tests rely on.

``/_control/state`` → ``fix.wire`` must report what really crossed the line
(Logons with their MsgSeqNum and ResetSeqNumFlag, ResendRequests, PossDup
resends), and ``drop_fix`` with ``down_s`` must keep the line down that long.
"""

from __future__ import annotations

import asyncio

import pytest

from core.commands import Side, SubmitOrder
from core.errors import BadInput
from fix.framing import encode
from fix.session import Actions
from gateway.brokers.prime_fix import PrimeFixBroker
from standins.fix_pb.tap import WireTap
from tests.primefix.conftest import Recorder, prime_standin, run, settings, wait_until


def _raw(seq: int, msg_type: bytes, *body: tuple[int, object]) -> bytes:
    head = [(35, msg_type), (34, seq), (49, b"SOVEREIGN"), (52, b"20240102-14:30:00.000")]
    return encode(b"FIX.4.4", [*head, (56, b"PRIMEBROKER"), *body])


def test_tap_reads_logons_resends_and_possdup_across_chunk_boundaries() -> None:
    tap = WireTap()
    stream = (
        _raw(7, b"A", (98, 0), (108, 30))
        + _raw(8, b"2", (7, 3), (16, 0))
        + _raw(3, b"D", (43, b"Y"), (11, b"x"))
        + _raw(4, b"4", (43, b"Y"), (36, 7), (123, b"Y"))
        + _raw(1, b"A", (98, 0), (108, 30), (141, b"Y"))
    )
    for i in range(0, len(stream), 13):  # a byte stream, cut anywhere
        tap.inbound(1, stream[i : i + 13], 5, expected=7)
    tap.outbound(
        Actions(
            send=[
                _raw(9, b"A", (98, 0), (108, 30)),
                _raw(4, b"8", (17, b"E1"), (43, b"Y")),
                _raw(10, b"4", (36, 1)),
            ]
        ),
        6,
    )
    state = tap.state_json()
    assert [(x["msg_seq_num"], x["reset_seq_num_flag"]) for x in state["logons_received"]] == [
        (7, False),
        (1, True),
    ]
    assert state["logons_received"][0]["expected_seq_num"] == 7
    assert state["resend_requests_received"] == [{"begin": 3, "end": 0}]
    assert state["poss_dup_exec_ids_sent"] == ["E1"]
    counters = state["counters"]
    assert counters["poss_dup_received"] == 2 and counters["poss_dup_received_D"] == 1
    assert counters["gap_fills_received"] == 1
    assert counters["sequence_resets_sent"] == 1  # 35=4 without GapFillFlag: a hard reset
    assert [x["msg_seq_num"] for x in state["logons_sent"]] == [9]


def test_tap_counts_garbage_and_never_raises() -> None:
    tap = WireTap()
    tap.inbound(1, b"8=FIX.4.4\x019=5\x0135=A\x0110=000\x01" + b"junk", 1, expected=1)
    tap.outbound(Actions(send=[b"not fix at all"]), 1)
    counters = tap.state_json()["counters"]
    assert counters.get("garbled_received", 0) >= 1
    assert counters["unparsable_sent"] == 1


def test_drop_with_outage_keeps_the_line_down_then_resends_what_was_stored(tmp_path) -> None:
    async def scenario() -> None:
        async with prime_standin() as running:
            broker = PrimeFixBroker(
                settings(running.port, tmp_path / "fix.db", min_backoff_s=0.05, max_backoff_s=0.2)
            )
            rec = Recorder()
            await rec.attach(broker)
            assert await broker.connect()
            now = running.standin.market_now()
            order = SubmitOrder(now, "m", None, "MSFT", Side.BUY, 60_000)
            await broker.submit(order, "acct-m")
            await wait_until(lambda: rec.fills, 20)
            with pytest.raises(BadInput, match="down_s"):
                running.pb.control({"fault": "drop_fix", "down_s": -1})
            with pytest.raises(BadInput, match="down_s"):
                running.pb.control({"fault": "drop_fix", "down_s": True})
            answer = running.pb.control({"fault": "drop_fix", "down_s": 30})
            assert answer == {"ok": True, "dropped": 1, "down_s": 30.0}
            await wait_until(lambda: running.pb.app.fills_while_disconnected, 20)
            await asyncio.sleep(0.5)  # reconnect attempts are cut while it lasts
            assert not broker.logged_on and running.pb.acceptor.refused_during_outage >= 1
            assert running.pb.control({"fault": "drop_fix", "down_s": 0})["dropped"] == 0
            assert await broker.connect(10)
            book = running.pb.book.orders["acct-m"]
            await wait_until(lambda: sum(f.quantity for f in rec.fills) == book.cum, 20)
            state = running.pb.state_json()
            wire = state["wire"]
            assert [x["reset_seq_num_flag"] for x in wire["logons_received"]] == [False, False]
            assert wire["resend_requests_received"]
            assert set(state["fills_while_disconnected"]) <= set(wire["poss_dup_exec_ids_sent"])
            ids = [f.exec_id for f in rec.fills]
            assert ids == [e["exec_id"] for e in state["executions"]]
            await broker.close()

    run(scenario())
