"""The simulator's runner: determinism, invariants, recovery, and planted bugs.

What a user of ``python -m sim`` relies on (issue 4, "What it must show"):
the same seed gives the same journal byte for byte in any process, the
invariants hold even when every fault is on, a crash is recovered from the
journal, and a bug in the world (a venue that overfills or loses a report)
is caught with the seed and a command that reproduces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from core.commands import CashFlow, Fill
from core.instruments import Instrument
from sim.calendar import exchange_sessions
from sim.demo import DEMO_SYMBOLS, demo_bars
from sim.faults import FaultRates
from sim.journal import canonical, decode_event, dumps
from sim.runner import RunResult, RunSpec, Simulation, feed_from_bars
from sim.venues import VenueSimulator

ROOT = Path(__file__).resolve().parents[2]
CASH = 5_000_000 * 10**9

HEAVY_FAULTS = FaultRates(
    reject=0.1,
    partial=0.3,
    cancel_race=0.4,
    duplicate=0.2,
    reorder=0.2,
    delay=0.03,
    drop_bar=0.01,
    stale=0.002,
    outage=0.001,
    crash=0.004,
)


def demo_spec(
    seed: int = 3,
    sessions: int = 3,
    faults: FaultRates | None = None,
    market_seed: int = 7,
    cash: int = CASH,
) -> RunSpec:
    """A run over the demo's three range-bound symbols on real NYSE sessions."""
    bars = demo_bars(market_seed, sessions)
    instruments = [Instrument(symbol) for symbol, _, _ in DEMO_SYMBOLS]
    sessions_ = exchange_sessions("XNYS", bars[0].time_ns, bars[-1].time_ns)
    feed = feed_from_bars(bars, instruments, sessions_)
    reproduce = f"python -m sim demo-test --seed {seed}"
    return RunSpec("demo", seed, feed, cash, faults or FaultRates(), reproduce)


def run(spec: RunSpec, journal: Path | None = None) -> RunResult:
    return Simulation(spec, journal).run()


def ledger(fills: list[Fill], flows: list[CashFlow]) -> tuple[dict[str, int], int]:
    """Positions and cash change from fills and the broker's cash flows (borrow fees,
    debit interest), each exec id / flow id once (independent of the engine)."""
    positions: dict[str, int] = {}
    cash = 0
    seen: set[str] = set()
    for flow in flows:
        if f"flow:{flow.flow_id}" not in seen:
            seen.add(f"flow:{flow.flow_id}")
            cash += flow.amount
    for fill in fills:
        if fill.exec_id in seen:
            continue
        seen.add(fill.exec_id)
        signed = fill.quantity * (1 if fill.side.value.upper() == "BUY" else -1)
        positions[fill.symbol] = positions.get(fill.symbol, 0) + signed
        cash -= signed * fill.price + fill.fee
    return {s: q for s, q in positions.items() if q}, cash


def nonzero(positions: dict[str, int]) -> dict[str, int]:
    return {s: q for s, q in positions.items() if q}


@pytest.fixture(scope="module")
def clean_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, RunResult, Path, Path]:
    base = tmp_path_factory.mktemp("clean")
    first, second = base / "a.jsonl", base / "b.jsonl"
    return run(demo_spec(), first), run(demo_spec(), second), first, second


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    path = tmp_path_factory.mktemp("faulty") / "journal.jsonl"
    return run(demo_spec(seed=11, sessions=4, faults=HEAVY_FAULTS), path), path


# ------------------------------------------------------------ determinism
def test_same_seed_same_hash_and_identical_journal_bytes(clean_pair) -> None:
    one, two, first, second = clean_pair
    assert one.run_hash == two.run_hash
    assert first.read_bytes() == second.read_bytes()
    assert one.journal_lines == two.journal_lines > 0


def test_run_hash_is_sha256_of_journal_file(clean_pair) -> None:
    one, _, first, _ = clean_pair
    assert hashlib.sha256(first.read_bytes()).hexdigest() == one.run_hash
    assert len(first.read_bytes().splitlines()) == one.journal_lines


def test_clean_run_trades(clean_pair) -> None:
    """The determinism checks would be vacuous on a run that never traded."""
    one = clean_pair[0]
    assert len(one.fills) >= 20
    assert len(one.bars_seen) == len(one.spec.feed.bars)


def test_different_seeds_give_different_hashes() -> None:
    faults = FaultRates(partial=0.3, duplicate=0.1, reorder=0.1)
    hashes = {run(demo_spec(seed=s, sessions=2, faults=faults)).run_hash for s in (1, 2, 3)}
    assert len(hashes) == 3


def test_faulty_run_is_deterministic(faulty) -> None:
    result, _ = faulty
    again = run(demo_spec(seed=11, sessions=4, faults=HEAVY_FAULTS))
    assert again.run_hash == result.run_hash
    assert again.crashes == result.crashes


_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from tests.sim.test_runner import demo_spec, run
from sim.faults import FaultRates
print(run(demo_spec(seed=5, sessions=2, faults=FaultRates(partial=0.3, duplicate=0.1,
    reorder=0.1, crash=0.003))).run_hash)
"""


def test_same_hash_across_processes_with_different_hash_seeds() -> None:
    script = _SCRIPT.format(root=str(ROOT))
    hashes = []
    for hash_seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        hashes.append(done.stdout.strip())
    assert len(hashes[0]) == 64
    assert hashes[0] == hashes[1] == hashes[2]
    in_process = run(
        demo_spec(
            seed=5,
            sessions=2,
            faults=FaultRates(partial=0.3, duplicate=0.1, reorder=0.1, crash=0.003),
        )
    )
    assert in_process.run_hash == hashes[0]


# ------------------------------------------------------------- invariants
def test_clean_run_has_no_violation_and_checks_every_minute(clean_pair) -> None:
    one = clean_pair[0]
    assert one.violation is None
    minutes = len({bar.time_ns for bar in one.bars_seen})
    assert one.invariant_checks >= minutes + len(one.fills)
    assert one.crashes == 0


def test_every_fault_at_high_rates_keeps_invariants(faulty) -> None:
    result, _ = faulty
    assert result.violation is None, str(result.violation)
    assert result.crashes > 0
    for fault in ("reject", "partial", "duplicate", "reorder", "delay", "drop_bar"):
        assert result.faults_seen.get(fault, 0) > 0, fault
    assert len(result.fills) > 0


# ---------------------------------------------------------------- journal
def _journal_entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="ascii").splitlines()]


def test_every_input_line_round_trips_through_decode_event(faulty) -> None:
    _, path = faulty
    raw = path.read_text(encoding="ascii").splitlines()
    kinds: set[str] = set()
    inputs = 0
    for number, line in enumerate(raw):
        entry = json.loads(line)
        assert entry["n"] == number
        assert dumps(entry) == line  # canonical on disk
        if entry["dir"] != "in":
            continue
        inputs += 1
        event = decode_event(entry["item"])
        assert type(event).__name__ == entry["item"]["type"]
        kinds.add(type(event).__name__)
        assert canonical(event) == entry["item"]
    assert inputs > 0
    assert {"Bar", "Fill", "OrderUpdate"} <= kinds


def test_journal_times_never_go_backwards(faulty) -> None:
    _, path = faulty
    times = [entry["at"] for entry in _journal_entries(path)]
    assert times == sorted(times)


# --------------------------------------------------- positions and cash
def _delivered_fills(path: Path) -> list[Fill]:
    fills = []
    for entry in _journal_entries(path):
        if entry["dir"] == "in" and entry["item"]["type"] == "Fill":
            fills.append(decode_event(entry["item"]))
    return fills


def _delivered_flows(path: Path) -> list[CashFlow]:
    return [
        decode_event(entry["item"])
        for entry in _journal_entries(path)
        if entry["dir"] == "in" and entry["item"]["type"] == "CashFlow"
    ]


def test_positions_and_cash_equal_booked_fills(clean_pair) -> None:
    one = clean_pair[0]
    positions, cash_change = ledger([fill for fill, _ in one.fills], one.cash_flows)
    assert nonzero(one.engine.positions()) == positions
    assert one.engine.cash == one.spec.initial_cash + cash_change


def test_recovered_engine_equals_sum_of_delivered_fills(faulty) -> None:
    """After crashes, the rebuilt engine's books are exactly the delivered executions."""
    result, path = faulty
    assert result.crashes > 0
    delivered = _delivered_fills(path)
    positions, cash_change = ledger(delivered, _delivered_flows(path))
    assert nonzero(result.engine.positions()) == positions
    assert result.engine.cash == result.spec.initial_cash + cash_change
    booked = {fill.exec_id for fill, _ in result.fills}
    assert booked == {fill.exec_id for fill in delivered}


def test_every_venue_execution_reached_the_engine(faulty) -> None:
    result, path = faulty
    printed = {f.exec_id for fills in result.venue_book.values() for f in fills}
    delivered = {fill.exec_id for fill in _delivered_fills(path)}
    assert printed == delivered
    for order_id, fills in result.venue_book.items():
        order = result.engine.order(order_id)
        assert order is not None, order_id
        assert sum(f.quantity for f in fills) == order.filled <= order.quantity


def test_recovery_replays_journal_into_the_same_state() -> None:
    """Simulation._recover mid-run: the rebuilt engine has the crashed one's books."""
    spec = demo_spec(seed=4, sessions=2, faults=FaultRates(partial=0.2))
    sim = Simulation(spec)
    sim._journal._keep = True  # a clean run does not keep lines; recovery needs them
    result = sim.run()
    assert result.violation is None
    before = (nonzero(sim.engine.positions()), sim.engine.cash, len(sim.engine.parents()))
    old = sim.engine
    sim._recover(sim._clock.now_ns())
    assert sim.engine is not old
    after = (nonzero(sim.engine.positions()), sim.engine.cash, len(sim.engine.parents()))
    assert after == before
    assert sim.crashes == 1


# ------------------------------------------------------------ planted bugs
def test_overfilling_venue_is_caught_with_seed_and_reproduce(monkeypatch) -> None:
    original = VenueSimulator._fill
    planted = {"done": False}

    def overfill(self, now_ns, order, quantity, price, *when):
        out = original(self, now_ns, order, quantity, price, *when)
        if planted["done"] or not out:
            return out
        planted["done"] = True
        when, fill = out[0]
        bigger = Fill(
            fill.time_ns,
            fill.client_order_id,
            fill.exec_id,
            fill.symbol,
            fill.side,
            fill.quantity + order.quantity,  # more than the order's leaves
            fill.price,
            fill.venue,
            fill.fee,
        )
        return [(when, bigger), *out[1:]]

    monkeypatch.setattr(VenueSimulator, "_fill", overfill)
    spec = demo_spec(seed=21, sessions=2)
    result = run(spec)
    assert planted["done"]
    violation = result.violation
    assert violation is not None
    assert violation.seed == 21
    assert violation.reproduce == spec.reproduce
    assert "21" in str(violation) and spec.reproduce in str(violation)
    # the engine refuses the excess, so its books part from the world's ledger
    assert any(word in violation.what for word in ("overfilled", "position")), violation.what


def test_swallowed_fill_report_is_caught(monkeypatch) -> None:
    original = VenueSimulator._fill
    swallowed: list[str] = []

    def lose_one(self, now_ns, order, quantity, price, *when):
        out = original(self, now_ns, order, quantity, price, *when)
        if not swallowed and out:
            swallowed.append(out[0][1].exec_id)
            return []
        return out

    monkeypatch.setattr(VenueSimulator, "_fill", lose_one)
    spec = demo_spec(seed=22, sessions=2)
    result = run(spec)
    assert swallowed
    violation = result.violation
    assert violation is not None
    assert "never delivered" in violation.what
    assert swallowed[0] in violation.what
    assert violation.seed == 22
    assert violation.reproduce == spec.reproduce


def test_engine_that_ignores_a_fill_is_caught(monkeypatch) -> None:
    """A core bug (a fill dropped inside the engine) breaks position = Σ fills."""
    from core.engine import Engine

    original = Engine.handle
    dropped: list[str] = []

    def forgetful(self, event):
        if type(event) is Fill and not dropped:
            dropped.append(event.exec_id)
            return []
        return original(self, event)

    monkeypatch.setattr(Engine, "handle", forgetful)
    result = run(demo_spec(seed=23, sessions=2))
    assert dropped
    assert result.violation is not None
    assert "position" in result.violation.what or "cash" in result.violation.what


def test_a_fault_planted_on_a_quiet_bar_is_caught_within_the_minute(monkeypatch) -> None:
    """Quiet bars skip the check; the per-minute check still re-derives the books.

    Planted on a bar with nothing working, so no fill or update follows it to
    trigger a check: only the minute's check can catch it in time."""
    from core.engine import Engine

    original = Engine.handle
    planted: list[int] = []

    def corrupt_on_a_quiet_bar(self, event):
        commands = original(self, event)
        quiet = type(event).__name__ == "Bar" and not commands and not self.open_orders()
        if not planted and quiet and self.positions():
            planted.append(event.time_ns)
            self._portfolio.cash += 1  # one nano-dollar the world never paid
        return commands

    monkeypatch.setattr(Engine, "handle", corrupt_on_a_quiet_bar)
    result = run(demo_spec(seed=23, sessions=2))
    assert planted
    assert result.violation is not None
    assert "cash" in result.violation.what
    period = 60_000_000_000
    # delivered at the bar's end (time + period); the next minute's check follows
    assert result.violation.at_ns == planted[0] + 2 * period


# Regression (fixed): core/execution/orders.py OrderBook.on_update: a venue's 'too late to
# cancel' reject (OrdStatus.REJECTED on the cancel request id) arriving after the order already
# reached a terminal state (IOC remainder canceled / filled) finds pending=None, falls through
# to _transition(CANCELED|FILLED -> REJECTED) and is 'refused', so Engine emits a warning Alert
# update_refused for an ordinary cancel race (demo seed 3: ACME-7 cancels IOC ACME-6 as the
# venue cancels its remainder)
def test_fault_free_run_raises_no_refused_update_warnings(clean_pair) -> None:
    one = clean_pair[0]
    assert one.alerts.get("update_refused", 0) == 0, one.alerts


# ------------------------------------------------- generated scenario markets
@pytest.mark.parametrize("seed", [5, 6])
def test_generated_market_with_every_fault_keeps_invariants(seed: int) -> None:
    """The scenario generator's markets (sim.market), not just the demo's, under heavy faults."""
    from sim.build import scenario_spec

    spec = scenario_spec("default", seed, 3, "3", None, HEAVY_FAULTS)
    result = run(spec)
    assert result.violation is None, str(result.violation)
    assert result.crashes > 0
    assert result.fills
    positions, cash_change = ledger([fill for fill, _ in result.fills], result.cash_flows)
    assert nonzero(result.engine.positions()) == positions
    assert result.engine.cash == spec.initial_cash + cash_change
    assert run(spec).run_hash == result.run_hash


def test_crashes_are_invisible_recovery_is_exact(faulty) -> None:
    """The same run without the crash fault: same journal, same books, same signals.

    Recovery replays the journal into a fresh engine, so a crash must leave
    no trace at all; any drift (an agent, the engine's own random stream, an
    order) would change a later line and so the hash.
    """
    result, _ = faulty
    assert result.crashes > 0
    calm = run(demo_spec(seed=11, sessions=4, faults=replace(HEAVY_FAULTS, crash=0.0)))
    assert calm.crashes == 0
    assert calm.run_hash == result.run_hash
    assert calm.engine.positions() == result.engine.positions()
    assert calm.engine.cash == result.engine.cash
    assert [s.signal for s in calm.signals] == [s.signal for s in result.signals]
    assert [o.client_order_id for o in calm.engine.open_orders()] == [
        o.client_order_id for o in result.engine.open_orders()
    ]
