"""``Engine.snapshot()`` / ``Engine.restore(data)``: the whole core state as bytes.

Why: recovery used to replay the journal from the first day, so restart time
grew with the history (a year of 30 symbols' minute bars ≈ 5 minutes). A
snapshot plus the journal tail after it restores the same engine in time
that depends on the state's size, not the history's length.

What is in it (``engine_state``): the engine's clock position, pause flag,
counters, stops and directions, sizing decisions, last signals, cash-flow
ids, the bar-sequence guard, the portfolio, the execution engine (order
book, parents and their algorithms' schedules, venue statistics the smart
router and dark-pool router learn from, each symbol's market statistics, the
random generator's state) and the resting stops; and every agent's learned
state in a twin-neutral form (``snapshot_state``: ATR, granularity, health,
the lossless travel profile as two sorted multisets, the volume multiset).
Both twins export identical values, so a snapshot taken with the compiled
agents restores into the pure-Python ones and vice versa, and the same state
gives the same bytes in either build.

What is not in it: what the restoring engine is *configured* with, i.e. its
instruments, clock, session schedule, agent factory and whether stops rest
at the broker. ``restore`` is an instance method for that reason: build the
engine as usual, then restore into it; a snapshot of a different universe or
stop mode is refused with a message naming the difference.

The byte format is ``core.snapshot_codec`` (framed, versioned, SHA-256,
canonical); ``docs/snapshots.md`` describes it and the restart rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np

from core.execution.engine import ExecutionEngine
from core.snapshot_codec import SnapshotError, SortedInts, decode, encode
from core.snapshot_codec import _field_names as field_names

if TYPE_CHECKING:
    from core.engine import Engine

__all__ = ["SnapshotError", "restore_engine", "snapshot_engine"]

KIND = "sovereign.engine"
_ARRAYS = ("lows", "highs", "volumes")
_SKIP = {ExecutionEngine: frozenset({"exposure_room", "rng", "schedule"})}


class Snapshottable(Protocol):
    """What an agent needs to be in a snapshot (both ``SymbolAgent`` twins)."""

    def snapshot_state(self) -> dict[str, object]: ...

    def restore_state(self, state: dict[str, object]) -> None: ...


def _agent(engine: Engine, symbol: str) -> Snapshottable:
    agent: Any = engine.agent(symbol)
    if not callable(getattr(agent, "snapshot_state", None)) or not callable(
        getattr(agent, "restore_state", None)
    ):
        raise SnapshotError(
            f"the agent of {symbol} ({type(agent).__name__}) has no snapshot_state/restore_state"
        )
    return cast(Snapshottable, agent)


def _environment(engine: Engine) -> dict[str, object]:
    """Objects the restoring engine supplies itself, by the name a snapshot uses."""
    env: dict[str, object] = {f"instrument:{s}": engine.instrument(s) for s in engine._instruments}
    schedule = engine.execution.schedule
    if schedule is not None:
        env["schedule"] = schedule
    return env


def engine_state(engine: Engine) -> dict[str, object]:
    """The state tree ``snapshot_engine`` encodes (readable, for tests and tools)."""
    execution = engine.execution
    agents: dict[str, object] = {}
    for symbol in engine._instruments:
        state = dict(_agent(engine, symbol).snapshot_state())
        for key in _ARRAYS:
            raw = state[key]
            assert isinstance(raw, bytes)
            values = np.frombuffer(raw, dtype=np.int64)
            state[key] = SortedInts(values)
        agents[symbol] = state
    return {
        "kind": KIND,
        "symbols": list(engine._instruments),
        "resting_stops": engine._protective is not None,
        "now": engine._now,
        "urgency": engine._urgency,
        "paused": engine._paused,
        "counters": engine._counters,
        "stops": engine._stops,
        "exits_waiting": engine._exits_waiting,
        "directions": engine._directions,
        "decisions": engine._decisions,
        "last_signals": engine._last_signals,
        "flows": engine._flows,
        "guard": engine._guard,
        "portfolio": engine._portfolio,
        "rng": execution.rng,
        "execution": execution,
        "protective": engine._protective,
        "agents": agents,
    }


def snapshot_engine(engine: Engine) -> bytes:
    """The framed, canonical bytes of the engine's whole state."""
    env = {id(obj): name for name, obj in _environment(engine).items()}
    return encode(engine_state(engine), env, _SKIP)


def restore_engine(engine: Engine, data: bytes) -> None:
    """Make ``engine`` (built with the snapshot's configuration) the snapshotted one.

    Everything is decoded and checked before the engine is touched, so bad
    bytes (truncated, corrupt, another version, another universe) raise
    ``SnapshotError`` and leave it as it was.
    """
    try:
        state = decode(data, _environment(engine))
    except SnapshotError:
        _check_configuration(engine, decode(data, lenient=True))  # the clearer reason first
        raise
    _check_configuration(engine, state)
    symbols = list(engine._instruments)
    execution = state["execution"]
    if type(execution) is not ExecutionEngine:
        raise SnapshotError("snapshot's execution state is not an ExecutionEngine")
    agents = state["agents"]
    if not isinstance(agents, dict) or list(agents) != symbols:
        raise SnapshotError("snapshot's agents do not match its symbols")
    rng = state["rng"]
    if not isinstance(rng, np.random.Generator):
        raise SnapshotError("snapshot's random generator is missing")
    if type(state["portfolio"]) is not type(engine._portfolio):
        raise SnapshotError("snapshot's portfolio is not a Portfolio")
    prepared = {}
    for symbol in symbols:  # every agent can take its state, before any does
        _agent(engine, symbol)
        prepared[symbol] = _agent_state(symbol, agents[symbol])
    for symbol, agent_state in prepared.items():
        try:
            _agent(engine, symbol).restore_state(agent_state)
        except (ValueError, TypeError, KeyError) as exc:
            raise SnapshotError(
                f"snapshot's agent {symbol} cannot be restored ({exc}); rebuild the engine"
            ) from None
    engine._now = state["now"]
    engine._urgency = state["urgency"]
    engine._paused = state["paused"]
    engine._counters = state["counters"]
    engine._stops = state["stops"]
    engine._exits_waiting = state["exits_waiting"]
    engine._directions = state["directions"]
    engine._decisions = state["decisions"]
    engine._last_signals = state["last_signals"]
    engine._flows = state["flows"]
    engine._guard = state["guard"]
    _adopt(engine._portfolio, state["portfolio"])
    target = engine.execution
    _adopt(target, execution, skip=_SKIP[ExecutionEngine])
    target.rng.bit_generator.state = rng.bit_generator.state
    engine._protective = state["protective"]


_INTS = ("bars_seen", "direction", "atr_count", "atr_seed", "gaps", "stale_events")
_OPTIONAL_INTS = ("stop", "g", "prev_close", "last_time", "atr", "period")


def _agent_state(symbol: str, raw: object) -> dict[str, object]:
    """A decoded agent state checked field by field, its arrays as int64 bytes."""
    if not isinstance(raw, dict):
        raise SnapshotError(f"snapshot's agent {symbol} is not a state table")
    state = dict(raw)
    for key in _INTS + _OPTIONAL_INTS:
        value = state.get(key)
        if type(value) is not int and not (value is None and key in _OPTIONAL_INTS):
            raise SnapshotError(f"snapshot's agent {symbol}: {key} is {value!r}, not an integer")
    domain = state.get("domain")
    if domain is not None and not (
        type(domain) is tuple and len(domain) == 2 and all(type(v) is int for v in domain)
    ):
        raise SnapshotError(f"snapshot's agent {symbol}: domain is {domain!r}")
    for key in _ARRAYS:
        array = state.get(key)
        if type(array) is not SortedInts:
            raise SnapshotError(f"snapshot's agent {symbol}: {key} is not a sorted array")
        state[key] = array.values.astype(np.int64).tobytes()
    lows, highs, volumes = (state[k] for k in _ARRAYS)
    assert isinstance(lows, bytes) and isinstance(highs, bytes) and isinstance(volumes, bytes)
    if len(lows) != len(highs):
        raise SnapshotError(f"snapshot's agent {symbol}: as many travel lows as highs expected")
    if volumes and int(np.frombuffer(volumes, dtype=np.int64)[0]) < 0:
        raise SnapshotError(f"snapshot's agent {symbol}: a negative volume")
    return state


def _check_configuration(engine: Engine, state: object) -> None:
    """The snapshot is of an engine like this one: same symbols, same stop mode."""
    if not isinstance(state, dict) or state.get("kind") != KIND:
        raise SnapshotError("these bytes are a snapshot, but not of an engine")
    symbols = list(engine._instruments)
    if state.get("symbols") != symbols:
        raise SnapshotError(
            f"snapshot is of symbols {state.get('symbols')}, this engine trades {symbols}"
        )
    resting = engine._protective is not None
    if state.get("resting_stops") is not resting:
        raise SnapshotError(
            f"snapshot was taken with resting_stops={state.get('resting_stops')},"
            f" this engine has resting_stops={resting}"
        )


def _adopt(target: object, source: object, skip: frozenset[str] = frozenset()) -> None:
    """Copy every field of ``source`` onto ``target`` (same class), in place:
    whoever holds the engine's portfolio or execution engine keeps a live one."""
    if type(target) is not type(source):
        raise SnapshotError(
            f"snapshot holds a {type(source).__name__} where the engine has a"
            f" {type(target).__name__}"
        )
    for name in field_names(type(source)):
        if name not in skip and hasattr(source, name):
            object.__setattr__(target, name, getattr(source, name))
