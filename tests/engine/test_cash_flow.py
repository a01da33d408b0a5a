"""``CashFlow``: deposits and withdrawals into the core.

What a user relies on: a transfer moves cash and equity (hence the tier) once
per transfer id however often it is reported; a withdrawal is booked even on
margin (cash below zero) but one that would leave no equity is refused loudly
and changes nothing; a malformed one is a bad input;
and a journal replay (simulator or gateway codec) rebuilds the same state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import Alert, CashFlow, Fill, OrderType, Record, Side
from core.events import Bar
from core.signals import Reason, Signal
from core.tiers import AccountTier
from gateway import journal as gateway_journal
from sim.journal import Journal, canonical, decode_event
from tests.engine.harness import MIN, D, Harness, fill_all, of_kind, signal_at, submits


def _flow(flow_id: str, dollars: int, time_ns: int = 0, reason: str = "CSD") -> CashFlow:
    return CashFlow(time_ns, flow_id, dollars * D, reason)


def test_deposit_to_exactly_100k_is_semi_institutional_and_recorded() -> None:
    h = Harness(cash=95_000 * D)
    assert h.engine.tier().tier is AccountTier.RETAIL
    commands = h.engine.handle(_flow("csd-1", 5_000))
    assert h.engine.cash == h.engine.equity() == 100_000 * D
    assert h.engine.tier().tier is AccountTier.SEMI_INSTITUTIONAL  # boundary goes up
    (record,) = of_kind(commands, Record)
    assert record.kind == "cash_flow"
    assert record.payload["flow_id"] == "csd-1"
    assert record.payload["amount"] == 5_000 * D
    assert (record.payload["tier_before"], record.payload["tier_after"]) == (
        "retail",
        "semi_institutional",
    )
    (alert,) = of_kind(commands, Alert)
    assert alert.kind == "cash_flow" and alert.level == "info"
    assert "deposit 5000" in alert.text and "retail -> semi_institutional" in alert.text
    assert h.engine.net_cash_flows == 5_000 * D
    assert h.engine.counters()["cash_flows"] == 1


def test_crossing_1m_and_back_down_follows_equity() -> None:
    h = Harness(cash=950_000 * D)
    h.engine.handle(_flow("a", 50_000))
    assert h.engine.tier().tier is AccountTier.INSTITUTIONAL
    h.engine.handle(_flow("b", -1))
    assert h.engine.tier().tier is AccountTier.SEMI_INSTITUTIONAL
    h.engine.handle(_flow("c", -900_000))
    assert h.engine.tier().tier is AccountTier.RETAIL
    assert h.engine.equity() == 99_999 * D


def test_a_repeated_transfer_id_changes_nothing() -> None:
    h = Harness(cash=95_000 * D)
    h.engine.handle(_flow("same", 10_000))
    again = h.engine.handle(_flow("same", 10_000, time_ns=h.clock.now_ns() + MIN))
    assert again == [Record(again[0].time_ns, "duplicate_cash_flow", {"flow_id": "same"})]
    assert h.engine.cash == 105_000 * D
    # Even a different amount under the same id: the id was decided.
    h.engine.handle(_flow("same", -50_000))
    assert h.engine.cash == 105_000 * D
    assert h.engine.counters()["duplicate_cash_flows"] == 2
    assert h.engine.has_cash_flow("same") and not h.engine.has_cash_flow("other")


def test_a_withdrawal_of_all_the_equity_is_refused_with_an_alert_and_stays_refused() -> None:
    h = Harness(cash=95_000 * D)
    commands = h.engine.handle(_flow("csw-big", -95_000))
    assert h.engine.cash == 95_000 * D and h.engine.net_cash_flows == 0
    (alert,) = of_kind(commands, Alert)
    assert alert.level == "error" and alert.kind == "cash_flow_refused"
    assert f"amount={-95_000 * D}" in alert.text  # names the field and the value
    assert "withdrawal of 95000 would leave no equity (equity 95000)" in alert.text
    assert h.engine.counters()["refused_cash_flows"] == 1
    # The same transfer reported again is a duplicate, not a second alert.
    assert of_kind(h.engine.handle(_flow("csw-big", -95_000)), Alert) == []
    # All but a dollar can go.
    h.engine.handle(_flow("csw-most", -94_999))
    assert h.engine.cash == 1 * D


def test_a_withdrawal_on_margin_is_booked_even_when_cash_goes_negative() -> None:
    """Long on margin, cash is below zero but equity is not: the broker paid the
    excess out, so the engine books it (and the tier follows equity)."""
    h = Harness(cash=150_000 * D)
    h.engine.portfolio.apply_fill("AAA", Side.BUY, 2_000, 100 * D, 0)  # $200K on margin
    h.engine.portfolio.marks["AAA"] = 100 * D
    assert h.engine.cash == -50_000 * D and h.engine.equity() == 150_000 * D
    commands = h.engine.handle(_flow("csw-margin", -60_000))
    assert of_kind(commands, Alert)[0].kind == "cash_flow"
    assert h.engine.equity() == 90_000 * D and h.engine.cash == -110_000 * D
    assert h.engine.tier().tier is AccountTier.RETAIL


@pytest.mark.parametrize(
    ("flow", "field"),
    [
        (CashFlow(-1, "x", D), "time_ns"),
        (CashFlow(0, "", D), "flow_id"),
        (CashFlow(0, 7, D), "flow_id"),  # type: ignore[arg-type]
        (CashFlow(0, "x", 0), "amount"),
        (CashFlow(0, "x", 1.5), "amount"),  # type: ignore[arg-type]
        (CashFlow(0, "x", True), "amount"),  # type: ignore[arg-type]
        (CashFlow(0, "x", Decimal(5)), "amount"),  # type: ignore[arg-type]
        (CashFlow(0, "x", D, None), "reason"),  # type: ignore[arg-type]
    ],
)
def test_malformed_cash_flows_are_bad_input_and_change_nothing(flow: CashFlow, field: str) -> None:
    h = Harness(cash=95_000 * D)
    (alert,) = h.engine.handle(flow)
    assert alert.kind == "bad_input" and alert.text.startswith(f"{field}=")
    assert h.engine.cash == 95_000 * D
    assert h.engine.counters()["rejected_inputs"] == 1
    # Nothing about the id was remembered: the well-formed transfer still applies.
    good = h.engine.handle(CashFlow(0, "x", D, "CSD"))
    assert of_kind(good, Record)[0].kind == "cash_flow"


def test_the_next_entry_after_a_deposit_is_sized_and_typed_by_the_new_equity() -> None:
    """1% risk of equity: a deposit makes the next position larger; at retail the
    order is a plain market order with no venue (SPEC §7)."""
    schedule = {
        4: (Signal.ENTER_LONG, Reason.LEVEL, 98 * D),
        6: (Signal.EXIT_LONG, Reason.LEVEL, None),
        8: (Signal.ENTER_LONG, Reason.LEVEL, 98 * D),
    }
    h = Harness(cash=50_000 * D, script=signal_at(schedule))
    h.bars(4)
    _, commands = h.bar()
    (retail,) = submits(commands)
    assert retail.order_type is OrderType.MARKET and retail.venue is None
    fill_all(h, commands)
    h.bar()
    _, commands = h.bar()  # exit
    fill_all(h, commands)
    assert h.engine.positions() == {}
    h.engine.handle(CashFlow(h.clock.now_ns(), "csd", 1_950_000 * D, "CSD"))
    assert h.engine.tier().tier is AccountTier.INSTITUTIONAL
    h.bar()
    h.bar()
    risks = [d for d in h.engine.decisions() if d.approved]
    assert len(risks) == 2
    before, after = risks
    assert before.equity < 100_000 * D <= 1_000_000 * D <= after.equity
    assert after.risk_quantity > 30 * before.risk_quantity
    assert h.engine.parents()[-1].intent.side is Side.BUY


# ------------------------------------------------------------------ properties

_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("flow"),
            st.integers(0, 6),
            st.integers(-300_000, 300_000).filter(bool),
        ),
        # a bar moving the price by a whole dollar; 1 = its orders fill at once
        st.tuples(st.just("bar"), st.integers(-3, 3), st.integers(0, 1)),
        st.tuples(st.just("bar"), st.integers(-3, 3), st.integers(0, 1)),
    ),
    max_size=50,
)


def _run(ops: list[tuple[str, int, int]], journal: Journal | None = None) -> tuple[Harness, int]:
    """Drive an engine that enters every 3rd bar; returns it and Σ unique applied flows."""

    def script(agent, bar):  # type: ignore[no-untyped-def]
        if agent.bars_seen % 3 == 2 and agent.direction == 0:
            return Signal.ENTER_LONG, Reason.LEVEL, bar.close - 2 * D
        if agent.bars_seen % 3 == 1 and agent.direction > 0:
            return Signal.EXIT_LONG, Reason.LEVEL, None
        return Signal.HOLD, None, None

    h = Harness(cash=90_000 * D, script=script)
    price = 100 * D
    decided: dict[str, bool] = {}
    applied = 0
    pending: list = []

    def feed(event: object) -> list:
        if journal is not None:
            journal.write("in", h.clock.now_ns(), event)
        out = h.engine.handle(event)
        if journal is not None:
            for command in out:
                journal.write("out", h.clock.now_ns(), command)
        return out

    for kind, a, b in ops:
        if kind == "flow":
            flow = CashFlow(h.clock.now_ns(), f"F{a}", b * D, "test")
            if flow.flow_id not in decided:
                ok = flow.amount > 0 or h.engine.equity() + flow.amount > 0
                decided[flow.flow_id] = ok
                applied += flow.amount if ok else 0
            feed(flow)
        else:
            price = max(10 * D, price + a * D)
            t = h.clock.now_ns() - h.clock.now_ns() % MIN
            h.clock.advance_to(t + MIN)
            bar = Bar("AAA", t, price, price + D // 2, price - D // 2, price, 10_000)
            pending.extend(submits(feed(bar)))
            if not b:
                continue
            while pending:
                order = pending.pop(0)
                child = h.engine.order(order.client_order_id)
                if child is None or child.leaves <= 0:
                    continue
                h.exec_seq += 1
                feed(
                    Fill(
                        h.clock.now_ns(),
                        order.client_order_id,
                        f"X{h.exec_seq}",
                        order.symbol,
                        order.side,
                        child.leaves,
                        price,
                        "",
                        D // 100,
                    )
                )
    return h, applied


@settings(max_examples=120, deadline=None)
@given(_ops)
def test_equity_is_initial_plus_unique_flows_plus_trading_pnl(ops) -> None:  # type: ignore[no-untyped-def]
    h, applied = _run(ops)
    p = h.engine.portfolio
    trading = p.realized() + sum(p.unrealized(s) for s in p.positions) - p.fees_paid
    assert h.engine.equity() == 90_000 * D + applied + trading
    assert h.engine.net_cash_flows == applied


@settings(max_examples=60, deadline=None)
@given(_ops)
def test_replaying_the_journal_rebuilds_the_same_state(ops) -> None:  # type: ignore[no-untyped-def]
    """A fresh engine fed the journaled inputs writes the same journal (same run
    hash, so every command is the same) and ends in the same state, through
    both codecs: the simulator's JSONL lines and the gateway's SQLite payloads."""
    journal = Journal()
    original, _ = _run(ops, journal)
    inputs = list(journal.inputs_with_times())
    codecs: dict[str, Callable[[object], object]] = {
        "sim": lambda event: event,
        "gateway": lambda event: gateway_journal.decode(
            gateway_journal.kind_of(event),  # type: ignore[arg-type]
            gateway_journal.encode(event),  # type: ignore[arg-type]
        ),
    }
    for codec in codecs.values():
        fresh = Harness(cash=90_000 * D, script=original.agents["AAA"].script)
        again = Journal()
        for at_ns, event in inputs:
            event = codec(event)
            fresh.clock.advance_to(max(at_ns, fresh.clock.now_ns()))
            again.write("in", at_ns, event)
            for command in fresh.engine.handle(event):
                again.write("out", at_ns, command)
        assert again.run_hash == journal.run_hash
        e, f = original.engine, fresh.engine
        assert (f.cash, f.equity(), f.positions(), f.net_cash_flows, f.tier()) == (
            e.cash,
            e.equity(),
            e.positions(),
            e.net_cash_flows,
            e.tier(),
        )
        assert f.counters() == e.counters()


def test_cash_flow_round_trips_through_both_journal_codecs() -> None:
    flow = CashFlow(1_700_000_000 * D, "20240103153415919::f08c", -12_345_678_901, "CSW x")
    assert decode_event(canonical(flow)) == flow  # type: ignore[arg-type]
    kind = gateway_journal.kind_of(flow)
    assert kind == "cash_flow"
    text = gateway_journal.encode(flow)
    assert gateway_journal.decode(kind, text) == flow
    assert dataclasses.asdict(gateway_journal.decode(kind, text)) == dataclasses.asdict(flow)
