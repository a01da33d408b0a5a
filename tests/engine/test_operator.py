"""Operator commands (``core.operator``): pause entries, resume, flatten.

What the owner relies on: after *pause* the next entry signal is recorded and
not traded while exits and stops still go out; *resume* trades again;
*flatten* cancels working entries and closes every position through the
normal execution path, and stays paused; each command is a recorded, alerted,
journaled input, so a replay rebuilds the paused state; and a paused engine
never decides to open a position, whatever the market and the venue do.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from core.commands import Alert, CancelOrder, OrdStatus, Record, Side, SubmitOrder
from core.operator import OperatorCommand
from core.signals import Reason, Signal
from gateway import journal as gateway_journal
from sim.journal import canonical, decode_event
from tests.engine.harness import D, Harness, fill_all, of_kind, signal_at, submits
from tests.engine.test_engine_stateful import EngineMachine

LONG = (Signal.ENTER_LONG, Reason.LEVEL, 98 * D)
EXIT = (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)
STOP = (Signal.EXIT_LONG, Reason.STOP, 98 * D)


def _op(h: Harness, action: str, command_id: str = "op-1") -> list:
    return h.engine.handle(OperatorCommand(h.clock.now_ns(), action, command_id, "test"))


def _records(commands: list, kind: str) -> list[Record]:
    return [c for c in commands if isinstance(c, Record) and c.kind == kind]


def _entry_parents(h: Harness) -> list:
    return [p for p in h.engine.parents() if p.intent.purpose == "entry"]


def test_pause_refuses_the_next_entry_but_records_its_signal() -> None:
    h = Harness(script=signal_at({20: LONG}))
    h.bars(10)
    commands = _op(h, "pause")
    assert h.engine.paused
    (record,) = _records(commands, "operator")
    assert record.payload["action"] == "pause" and record.payload["paused"] is True
    assert record.payload["command_id"] == "op-1" and record.payload["origin"] == "test"
    (alert,) = of_kind(commands, Alert)
    assert alert.kind == "operator_pause" and alert.level == "warning"
    h.bars(10)
    _, commands = h.bar()
    (signal,) = _records(commands, "signal")
    assert signal.payload["signal"] == "ENTER_LONG"  # recorded ...
    (risk,) = _records(commands, "risk")
    assert risk.payload == {"symbol": "AAA", "quantity": 0, "reason": "refused: entries paused"}
    assert submits(commands) == [] and _entry_parents(h) == []  # ... and not traded
    assert h.engine.counters()["entries_paused"] == 1


def test_while_paused_an_exit_and_a_stop_still_go_out() -> None:
    h = Harness(
        symbols=["AAA", "BBB"],
        script=lambda agent, bar: (
            signal_at({20: LONG, 25: EXIT})(agent, bar)
            if bar.symbol == "AAA"
            else signal_at({20: LONG, 25: STOP})(agent, bar)
        ),
    )
    for _ in range(20):
        h.bar("AAA")
        h.bar("BBB")
    for symbol in ("AAA", "BBB"):
        _, commands = h.bar(symbol)
        fill_all(h, commands)
    assert h.engine.positions() == {"AAA": 2500, "BBB": 2500}
    _op(h, "pause")
    sent = []
    for _ in range(5):
        for symbol in ("AAA", "BBB"):
            sent += submits(h.bar(symbol)[1])
    assert sorted((o.symbol, o.side, o.quantity) for o in sent) == [
        ("AAA", Side.SELL, 2500),
        ("BBB", Side.SELL, 2500),
    ]
    for order in sent:
        h.fill(order)
    assert h.engine.positions() == {} and h.engine.paused


def test_pause_cancels_a_working_entry_and_resume_trades_again() -> None:
    h = Harness(script=signal_at({20: LONG, 40: LONG}))
    h.bars(20)
    _, commands = h.bar()
    (order,) = submits(commands)
    commands = _op(h, "pause")
    (cancel,) = of_kind(commands, CancelOrder)
    assert cancel.orig_client_order_id == order.client_order_id
    assert _records(commands, "operator")[0].payload["canceled_parents"] == [order.parent_id]
    h.update(cancel.client_order_id, OrdStatus.CANCELED)
    assert h.engine.open_orders() == []
    commands = _op(h, "resume", "op-2")
    assert not h.engine.paused
    assert of_kind(commands, Alert)[0].kind == "operator_resume"
    h.bars(19)
    _, commands = h.bar()
    (entry,) = submits(commands)
    assert entry.side is Side.BUY


def test_flatten_cancels_entries_and_closes_every_position_then_stays_paused() -> None:
    symbols = ["AAA", "BBB", "CCC"]
    schedule = {"AAA": {20: LONG}, "BBB": {20: (Signal.ENTER_SHORT, Reason.LEVEL, 102 * D)}}
    h = Harness(
        symbols=symbols,
        script=lambda agent, bar: signal_at(schedule.get(bar.symbol, {21: LONG}))(agent, bar),
    )
    for _ in range(20):
        for symbol in symbols:
            h.bar(symbol)
    for symbol in ("AAA", "BBB"):
        _, commands = h.bar(symbol)
        fill_all(h, commands)
    h.bar("CCC")
    _, commands = h.bar("CCC")  # CCC's entry is working, unfilled
    (working,) = submits(commands)
    assert h.engine.positions() == {"AAA": 2500, "BBB": -2500}
    commands = _op(h, "flatten")
    assert h.engine.paused
    (record,) = _records(commands, "operator")
    assert record.payload["exits"] == {"AAA": 2500, "BBB": -2500}
    assert record.payload["canceled_parents"] == [working.parent_id]
    assert [c.orig_client_order_id for c in of_kind(commands, CancelOrder)] == [
        working.client_order_id
    ]
    exits = submits(commands)
    assert sorted((o.symbol, o.side, o.quantity) for o in exits) == [
        ("AAA", Side.SELL, 2500),
        ("BBB", Side.BUY, 2500),
    ]
    parents = {p.parent_id: p for p in h.engine.parents()}
    assert all(parents[o.parent_id].intent.purpose == "exit" for o in exits)
    assert "closing 2 positions" in of_kind(commands, Alert)[0].text
    for order in exits:
        h.fill(order)
    assert h.engine.positions() == {}
    # Still paused: the next entry signal is not traded.
    for _ in range(3):
        for symbol in symbols:
            assert submits(h.bar(symbol)[1]) == []


def test_flatten_leaves_an_exit_already_working_alone() -> None:
    h = Harness(script=signal_at({20: LONG, 22: EXIT}))
    h.bars(20)
    fill_all(h, h.bar()[1])
    h.bar()
    _, commands = h.bar()
    (exit_order,) = submits(commands)
    commands = _op(h, "flatten")
    assert submits(commands) == [] and _records(commands, "operator")[0].payload["exits"] == {}
    h.fill(exit_order)
    assert h.engine.positions() == {}


def test_a_bad_operator_command_is_a_counted_bad_input_naming_the_field() -> None:
    h = Harness()
    (alert,) = h.engine.handle(OperatorCommand(h.clock.now_ns(), "liquidate"))
    assert alert.kind == "bad_input" and "action='liquidate'" in alert.text
    (alert,) = h.engine.handle(OperatorCommand(-1, "pause"))
    assert "time_ns" in alert.text
    assert not h.engine.paused and h.engine.counters()["rejected_inputs"] == 2


def test_operator_commands_survive_both_journal_codecs_and_replay_rebuilds_the_pause() -> None:
    command = OperatorCommand(123, "flatten", "op-7", "dashboard")
    text = gateway_journal.encode(command)
    assert gateway_journal.kind_of(command) == "operator"
    assert gateway_journal.decode("operator", text) == command
    assert decode_event(canonical(command)) == command  # type: ignore[arg-type]
    script = signal_at({20: LONG, 30: LONG})
    live, replayed = Harness(script=script), Harness(script=script)
    inputs: list[object] = []
    for h in (live, replayed):
        h.bars(5)
    _op(live, "pause")
    inputs.append(OperatorCommand(live.clock.now_ns(), "pause", "op-1", "test"))
    for event in inputs:
        replayed.engine.handle(gateway_journal.decode("operator", gateway_journal.encode(event)))
    assert replayed.engine.paused == live.engine.paused is True
    for h in (live, replayed):
        h.bars(14)
        assert submits(h.bar()[1]) == []


# ------------------------------------------------------------ properties


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(
        st.tuples(
            st.sampled_from(["AAA", "BBB"]),
            st.sampled_from([None, "long", "short", "exit_long", "exit_short", "stop"]),
            st.sampled_from([None, "pause", "resume", "flatten"]),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_a_paused_engine_never_opens_a_position_with_an_honest_venue(plan) -> None:
    """Every order is filled in full at once; signals and operator commands
    come in any order. While paused, no entry parent is started, no entry
    order is sent, and a symbol flat when the pause came stays flat."""
    pending: dict[str, tuple[Signal, Reason, int]] = {}
    signals = {
        "long": (Signal.ENTER_LONG, Reason.LEVEL, 2 * D),
        "short": (Signal.ENTER_SHORT, Reason.LEVEL, -2 * D),
        "exit_long": (Signal.EXIT_LONG, Reason.LEVEL, 2 * D),
        "exit_short": (Signal.EXIT_SHORT, Reason.LEVEL, -2 * D),
        "stop": (Signal.EXIT_LONG, Reason.STOP, 2 * D),
    }

    def script(agent, bar):
        planned = pending.pop(bar.symbol, None)
        if planned is None:
            return Signal.HOLD, None, None
        kind, reason, distance = planned
        return kind, reason, bar.close - distance

    h = Harness(symbols=["AAA", "BBB"], script=script)
    for _ in range(20):
        for symbol in ("AAA", "BBB"):
            h.bar(symbol)
    flat_at_pause: set[str] = set()
    for n, (symbol, signal, action) in enumerate(plan):
        if action is not None:
            was_paused = h.engine.paused
            commands = _op(h, action, f"op-{n}")
            if h.engine.paused and not was_paused:
                flat_at_pause = {s for s in ("AAA", "BBB") if h.engine.position(s) == 0}
            _fill_everything(h, commands)
        if signal is not None:
            pending[symbol] = signals[signal]
        parents_before = len(_entry_parents(h))
        _, commands = h.bar(symbol)
        if h.engine.paused:
            assert len(_entry_parents(h)) == parents_before
            _assert_no_entry_orders(h, commands)
        _fill_everything(h, commands)
        if h.engine.paused:
            for flat in flat_at_pause:
                assert h.engine.position(flat) == 0


def _fill_everything(h: Harness, commands: list) -> None:
    """Cancels are confirmed, orders filled in full, until nothing is left."""
    queue = list(commands)
    while queue:
        command = queue.pop(0)
        if isinstance(command, SubmitOrder):
            if h.engine.paused:
                _assert_no_entry_orders(h, [command])
            queue += h.fill(command)
        elif isinstance(command, CancelOrder):
            queue += h.update(command.client_order_id, OrdStatus.CANCELED)


def _assert_no_entry_orders(h: Harness, commands: list) -> None:
    for order in submits(commands):
        parent = h.engine.execution.parents[order.parent_id]
        assert parent.intent.purpose == "exit", (order, parent.intent)


class PausedEngineMachine(EngineMachine):
    """The hostile-venue state machine with the operator at the controls: while
    paused, whatever the venue does (late fills, rejects, duplicates), the
    engine starts no entry parent and sends no entry order."""

    paused_entries: int = 0

    def _absorb(self, commands):
        super()._absorb(commands)
        engine = self.h.engine
        if engine.paused:
            _assert_no_entry_orders(self.h, commands)

    @rule(action=st.sampled_from(["pause", "resume", "flatten"]))
    def operator(self, action):
        engine = self.h.engine
        commands = engine.handle(OperatorCommand(self.h.clock.now_ns(), action, "m", "machine"))
        self._absorb(commands)
        assert engine.paused == (action != "resume")
        if action == "flatten":
            for symbol, quantity in engine.positions().items():
                exits = [
                    p for p in engine.execution.active_parents(symbol) if p.intent.purpose == "exit"
                ]
                assert exits, (symbol, quantity)
        self.paused_entries = len(_entry_parents(self.h))

    @invariant()
    def no_entry_parent_starts_while_paused(self):
        if self.h.engine.paused:
            assert len(_entry_parents(self.h)) == self.paused_entries
        else:
            self.paused_entries = len(_entry_parents(self.h))


PausedEngineMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=60, deadline=None
)
TestPausedEngineMachine = PausedEngineMachine.TestCase
