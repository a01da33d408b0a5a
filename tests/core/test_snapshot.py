"""Engine snapshots: snapshot + tail is the uninterrupted run, on both twins.

The input sequences are the simulator's journals (bars, fills with partials
and duplicates, reordered and rejected reports, timers, financing) under
hypothesis-drawn seeds and fault rates, with hypothesis-drawn junk spliced in
(unknown orders, stray timers, deposits, operator pauses and flattens), so
every kind of input and most error paths are in the state being cut.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from core._agent import SymbolAgent as CompiledAgent
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.commands import CashFlow, Fill, OrderUpdate, OrdStatus, Side, Timer
from core.engine import Engine
from core.instruments import Instrument
from core.operator import OperatorCommand
from core.snapshot import engine_state
from core.snapshot_codec import HEADER_SIZE, SnapshotError, decode, encode
from sim.build import scenario_spec
from sim.faults import FaultRates
from sim.rng import stream
from sim.runner import RunSpec, Simulation, _sessions
from tests.core.test_agent_twins import pure_agent

Inputs = list[tuple[int, object]]
FAULTS = {
    "none": FaultRates(),
    "reports": FaultRates(partial=0.3, duplicate=0.1, reorder=0.1, reject=0.05, cancel_race=0.2),
    "feed": FaultRates(drop_bar=0.01, stale=0.002, delay=0.02, partial=0.2),
}


@functools.lru_cache(maxsize=16)
def journal(seed: int, faults: str) -> tuple[RunSpec, tuple[tuple[int, object], ...]]:
    """The inputs one simulated run gave its engine, in order, with their times."""
    spec = scenario_spec("default", seed=seed, days=2, symbols="AAPL,TSLA", faults=FAULTS[faults])
    sim = Simulation(spec)
    sim._journal._keep = True
    sim.run()
    return spec, tuple(sim._journal.inputs_with_times())


def build(spec: RunSpec, twin: str) -> tuple[ManualClock, Engine]:
    schedule = spec.feed.schedule

    def agent(instrument: Instrument) -> object:
        if twin == "compiled":
            return CompiledAgent(instrument, self_tracking=False, schedule=schedule)
        return pure_agent(instrument, self_tracking=False, schedule=schedule)

    clock = ManualClock(0)
    engine = Engine(
        list(spec.feed.instruments),
        spec.initial_cash,
        clock,
        stream(spec.seed, "engine"),
        agent_factory=agent,  # type: ignore[arg-type]
        schedule=_sessions(schedule),
        resting_stops=True,
    )
    return clock, engine


def feed(clock: ManualClock, engine: Engine, inputs: Sequence[tuple[int, object]]) -> list[object]:
    out: list[object] = []
    for when, event in inputs:
        clock.advance_to(max(clock.now_ns(), when))
        out.extend(engine.handle(event))
    return out


junk = st.one_of(
    st.builds(lambda k: Timer(0, k), st.sampled_from(["wake:P-AAPL-1", "expire:P-X", "x"])),
    st.builds(
        lambda s: OrderUpdate(0, "AAPL-999", s), st.sampled_from([OrdStatus.NEW, OrdStatus.FILLED])
    ),
    st.builds(
        lambda q: Fill(0, "AAPL-1", f"J{q}", "AAPL", Side.BUY, q, 10**11, "SIM", 0),
        st.integers(1, 50),
    ),
    st.builds(
        lambda a, i: CashFlow(0, f"junk-{i}", a, "test"),
        st.integers(-(10**12), 10**13).filter(bool),
        st.integers(0, 3),
    ),
    st.builds(
        lambda a: OperatorCommand(0, a, "op", "test"),
        st.sampled_from(["pause", "resume", "flatten"]),
    ),
)


def spliced(inputs: Sequence[tuple[int, object]], extra: list[tuple[float, object]]) -> Inputs:
    """``inputs`` with each junk event inserted at its fraction of the way, timed there."""
    out = list(inputs)
    for where, event in sorted(extra, key=lambda x: x[0]):
        index = int(where * len(out))
        at = out[index - 1][0] if index else 0
        out.insert(index, (at, dataclasses.replace(event, time_ns=at)))  # type: ignore[type-var]
    return out


def cut_and_resume(
    spec: RunSpec, inputs: Inputs, cut: int, first: str, second: str
) -> tuple[list[object], list[object], bytes, bytes]:
    """(commands after the cut uninterrupted, after restore, final bytes of each)."""
    clock, whole = build(spec, first)
    feed(clock, whole, inputs[:cut])
    snapshot = whole.snapshot()
    after = feed(clock, whole, inputs[cut:])
    clock2, resumed = build(spec, second)
    if cut:
        clock2.advance_to(inputs[cut - 1][0])
    resumed.restore(snapshot)
    assert resumed.snapshot() == snapshot  # restore is exact
    again = feed(clock2, resumed, inputs[cut:])
    return after, again, whole.snapshot(), resumed.snapshot()


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 5),
    faults=st.sampled_from(sorted(FAULTS)),
    where=st.floats(0, 1),
    twins=st.sampled_from(
        [("compiled", "compiled"), ("pure", "pure"), ("compiled", "pure"), ("pure", "compiled")]
    ),
    extra=st.lists(st.tuples(st.floats(0, 0.999), junk), max_size=6),
)
def test_snapshot_plus_tail_is_the_uninterrupted_run(
    seed: int, faults: str, where: float, twins: tuple[str, str], extra: list
) -> None:
    spec, recorded = journal(seed, faults)
    inputs = spliced(recorded, extra)
    cut = int(where * len(inputs))
    after, again, whole, resumed = cut_and_resume(spec, inputs, cut, *twins)
    assert again == after
    assert resumed == whole


def test_the_runs_trade_so_the_cut_state_is_not_trivial() -> None:
    spec, inputs = journal(0, "reports")
    kinds = {type(e).__name__ for _, e in inputs}
    assert {"Bar", "Fill", "OrderUpdate", "Timer"} <= kinds
    clock, engine = build(spec, "compiled")
    feed(clock, engine, inputs[: len(inputs) // 2])
    assert engine.parents() and engine.orders()
    assert engine.agent("AAPL").profile.travelled > 100  # type: ignore[attr-defined]


@pytest.mark.parametrize("twins", [("compiled", "pure"), ("pure", "compiled")])
def test_a_cut_while_an_exit_waits_for_its_stop_cancel_resumes_the_exit(
    twins: tuple[str, str],
) -> None:
    """Seed 0 without faults: after input 292 AAPL's exit waits for the resting
    stop's cancel to be confirmed (stated, found by scanning the journal); the
    restored engine must still send that exit when the confirmation comes."""
    spec, inputs = journal(0, "none")
    cut = 292
    clock, engine = build(spec, twins[0])
    feed(clock, engine, inputs[:cut])
    assert set(engine._exits_waiting) == {"AAPL"}  # the setup this test is about
    after, again, whole, resumed = cut_and_resume(spec, inputs, cut, *twins)
    assert again == after
    assert resumed == whole


@pytest.mark.parametrize("cut", [0.3, 0.7, 1.0])
def test_both_twins_give_the_same_bytes(cut: float) -> None:
    spec, inputs = journal(1, "reports")
    n = int(cut * len(inputs))
    snaps = []
    for twin in ("compiled", "pure"):
        clock, engine = build(spec, twin)
        feed(clock, engine, inputs[:n])
        snaps.append(engine.snapshot())
    assert snaps[0] == snaps[1]


def test_snapshot_is_independent_of_hash_seed() -> None:
    import subprocess
    import sys

    code = (
        "from tests.core.test_snapshot import journal, build, feed;"
        "import hashlib;"
        "spec, ins = journal(2, 'reports');"
        "c, e = build(spec, 'compiled'); feed(c, e, ins);"
        "print(hashlib.sha256(e.snapshot()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("0", "1", "12345")
    }
    assert len(digests) == 1


# ------------------------------------------------------------ bad bytes
@functools.lru_cache(maxsize=1)
def good() -> tuple[RunSpec, bytes]:
    spec, inputs = journal(0, "reports")
    clock, engine = build(spec, "compiled")
    feed(clock, engine, inputs)
    return spec, engine.snapshot()


def fresh_engine() -> Engine:
    return build(good()[0], "compiled")[1]


def expect(data: bytes, message: str) -> None:
    engine = fresh_engine()
    before = engine.snapshot()
    with pytest.raises(SnapshotError, match=message):
        engine.restore(data)
    assert engine.snapshot() == before  # a refused snapshot changes nothing


def test_truncated_snapshot_is_refused_by_name() -> None:
    data = good()[1]
    expect(data[: len(data) // 2], "truncated")
    expect(data[:20], "truncated")


def test_flipped_bit_is_a_checksum_mismatch() -> None:
    data = bytearray(good()[1])
    data[HEADER_SIZE + len(data) // 3] ^= 0x10
    expect(bytes(data), "checksum mismatch")


def test_wrong_version_and_wrong_magic() -> None:
    data = bytearray(good()[1])
    data[8:10] = (99).to_bytes(2, "big")
    expect(bytes(data), "format version 99 is not supported")
    expect(b"PK\x03\x04" + bytes(60), "not a Sovereign engine snapshot")
    expect(b"", "not a Sovereign engine snapshot")


def test_snapshot_of_another_universe_is_refused() -> None:
    spec, data = good()
    clock = ManualClock(0)
    other = Engine([Instrument("ZZZ")], spec.initial_cash, clock, np.random.default_rng(1))
    with pytest.raises(
        SnapshotError,
        match=r"snapshot is of symbols \[.AAPL., .TSLA.\], this engine trades \[.ZZZ.\]",
    ):
        other.restore(data)


def test_a_valid_frame_with_a_garbled_body_names_the_offset() -> None:
    from core.snapshot_codec import frame

    with pytest.raises(SnapshotError, match=r"ends early|malformed"):
        decode(frame(b"\x07\x05\x03"))
    with pytest.raises(SnapshotError, match="unknown value tag"):
        decode(frame(b"\xff"))
    with pytest.raises(SnapshotError, match="not core state"):
        decode(frame(b"\x0d\x00\x09os:system\x00"))


def test_codec_refuses_to_name_classes_outside_core() -> None:
    with pytest.raises(SnapshotError, match="not core state"):
        encode(Path())


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text()
        | st.binary(),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.tuples(inner, inner)
            | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
@settings(max_examples=100, deadline=None)
def test_codec_round_trips_plain_values(value: object) -> None:
    assert decode(encode(value)) == value
    assert encode(decode(encode(value))) == encode(value)


@given(st.lists(st.integers(-(2**62), 2**62), max_size=300))
@settings(max_examples=100, deadline=None)
def test_sorted_arrays_round_trip(values: list[int]) -> None:
    from core.snapshot_codec import SortedInts

    array = np.array(sorted(values), dtype=np.int64)
    back = decode(encode(SortedInts(array)))
    assert back.values.tolist() == sorted(values)


def test_state_tree_names_every_part() -> None:
    spec, inputs = journal(0, "reports")
    clock, engine = build(spec, "pure")
    feed(clock, engine, inputs)
    state = engine_state(engine)
    assert {"portfolio", "execution", "protective", "agents", "rng", "flows"} <= set(state)
    agent = state["agents"]["AAPL"]  # type: ignore[index]
    assert agent["volumes"].values.size == engine.agent("AAPL").bars_seen  # type: ignore[attr-defined]  # the whole multiset


def test_every_engine_attribute_is_in_the_snapshot_or_given_at_construction() -> None:
    """A field added to ``Engine`` without adding it to the snapshot would be
    silently reset by a restart; this names it instead."""
    spec, _ = journal(0, "none")
    _, engine = build(spec, "pure")
    covered = {f"_{key}" for key in engine_state(engine)} | {"_clock", "_instruments"}
    assert set(vars(engine)) - covered == set()
