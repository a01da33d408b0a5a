"""Issue 12: what the simulated venues and the output files must get right.

Each test failed on the code the issue was filed against: rebates never paid
(#2), a one-bar parent's dark sweep and lit remainder two bars apart (#8),
replaced children missing from orders.csv (#9), fills stamped outside the
session (#10), delay always zero (#11); and the output-file audit of a small
scenario (#1, #7, #9, #10 from the files alone).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from core.commands import (
    Fill,
    OrderType,
    OrderUpdate,
    OrdStatus,
    Side,
    SubmitOrder,
    TimeInForce,
)
from core.events import Bar
from core.execution.venues import default_venues
from core.health import SessionSchedule
from core.instruments import CENT, Instrument
from core.signals import Reason, Signal
from sim.audit import audit
from sim.faults import FaultRates
from sim.outputs import order_rows
from sim.venues import DARK_LATENCY_NS, LIT_LATENCY_NS, VenueSimulator
from tests.engine.harness import MIN, D, Harness, of_kind, signal_at, submits

SYMBOL = "ACME"
VENUES = {v.name: v for v in default_venues()}
DAY = 86_400 * D
MONDAY = 1_704_672_000 * D  # 2024-01-08 00:00 UTC, a Monday
SESSION = (MONDAY + 870 * MIN, MONDAY + 1260 * MIN)  # 14:30-21:00 UTC


def venues(sessions: list[tuple[int, int]] | None = None) -> VenueSimulator:
    schedule = SessionSchedule(sessions) if sessions else None
    return VenueSimulator(
        1,
        {SYMBOL: Instrument(SYMBOL)},
        FaultRates(),
        set(),
        sessions=schedule,
        dark_fill_rate=1.0,
    )


def tape(start_ns: int, o: int, h: int, low: int, c: int, volume: int = 100_000) -> Bar:
    return Bar(SYMBOL, start_ns, o * CENT, h * CENT, low * CENT, c * CENT, volume)


def send(
    sim: VenueSimulator,
    at: int,
    oid: str,
    side: Side,
    qty: int,
    venue: str,
    order_type: OrderType = OrderType.MARKET,
    limit: int | None = None,
    tif: TimeInForce = TimeInForce.DAY,
) -> list[tuple[int, object]]:
    command = SubmitOrder(at, oid, "P-1", SYMBOL, side, qty, order_type, limit, tif, venue, None)
    return sim.receive(at, command)


def fills(reports: list[tuple[int, object]]) -> list[Fill]:
    return [r for _, r in reports if isinstance(r, Fill)]


# ------------------------------------------------------------- #2 maker/taker
def test_a_resting_limit_earns_the_rebate_and_a_marketable_one_pays_the_take_fee() -> None:
    sim = venues()
    t0 = SESSION[0]
    sim.match(tape(t0, 10_000, 10_100, 9_900, 10_000), t0 + MIN)  # last price $100.00
    send(sim, t0 + MIN + 1, "REST", Side.BUY, 100, "NYSE", OrderType.LIMIT, 9_990 * CENT)
    send(sim, t0 + MIN + 1, "TAKE", Side.BUY, 100, "NYSE", OrderType.LIMIT, 10_100 * CENT)
    out = fills(sim.match(tape(t0 + MIN, 10_000, 10_000, 9_950, 9_960), t0 + 2 * MIN))
    by_id = {f.client_order_id: f for f in out}
    nyse = VENUES["NYSE"]
    assert by_id["REST"].fee == -nyse.make_rebate * 100 < 0
    assert by_id["REST"].price == 9_990 * CENT  # a resting order fills at its limit
    assert by_id["TAKE"].fee == nyse.take_fee * 100 > 0


def test_adaptive_in_calm_markets_rests_at_the_last_price() -> None:
    """The engine's Adaptive limit was last + round(r) ticks: marketable by construction."""
    from core.execution.cost_model import Urgency

    long = (Signal.ENTER_LONG, Reason.LEVEL, 98 * D)
    h = Harness(script=signal_at({300: long}), urgency=Urgency.LOW)
    for i in range(300):
        h.bar(half_range=D // 2 if i < 290 else 2 * D)  # volatility breaks out (z > 2)
    bar, commands = h.bar(half_range=2 * D)
    parent = next(c for c in commands if getattr(c, "kind", "") == "parent").payload
    assert parent["algo"] == "adaptive"
    (child,) = submits(commands)
    adaptive = h.engine.parents()[0].algorithm
    assert child.order_type is OrderType.LIMIT
    crossed = (child.limit_price - bar.close) // CENT
    assert crossed == adaptive.offset_ticks() == max(0, round(adaptive.state.ratio) - 1)
    assert adaptive.passive == (crossed == 0)


# ------------------------------------------------------- #8 sweep then lit
def test_a_dark_ioc_is_answered_on_arrival_at_the_last_price() -> None:
    sim = venues([SESSION])
    t0 = SESSION[0]
    sim.match(tape(t0, 100, 101, 99, 100), t0 + MIN)
    arrive = t0 + MIN + DARK_LATENCY_NS
    out = send(
        sim,
        arrive,
        "D-1",
        Side.BUY,
        500,
        "SIGMA-X",
        OrderType.PEGGED_MIDPOINT,
        None,
        TimeInForce.IOC,
    )
    done = [r for _, r in out if isinstance(r, OrderUpdate) and r.status is OrdStatus.CANCELED]
    got = fills(out)
    assert got and got[0].price == 100 * CENT and got[0].time_ns == arrive
    assert all(when < t0 + 2 * MIN for when, _ in out)  # answered inside the next bar
    assert done or sum(f.quantity for f in got) == 500


def test_a_market_parent_sweeps_dark_and_goes_lit_within_one_bar() -> None:
    """Institutional MARKET parent: the IOC remainder is released lit at once."""
    from core.execution.cost_model import Urgency

    long = (Signal.ENTER_LONG, Reason.LEVEL, 98 * D)
    h = Harness(script=signal_at({20: long}), cash=5_000_000 * D, urgency=Urgency.NORMAL)
    h.bars(20, volume=5_000_000)
    _, commands = h.bar(volume=5_000_000)
    parent = next(c for c in commands if getattr(c, "kind", "") == "parent").payload
    assert parent["algo"] == "market"
    (dark,) = submits(commands)
    assert dark.time_in_force is TimeInForce.IOC
    h.update(dark.client_order_id, OrdStatus.NEW)
    out = h.update(dark.client_order_id, OrdStatus.CANCELED, "IOC remainder")
    (lit,) = submits(out)  # same instant, no bar in between
    assert lit.quantity == dark.quantity and lit.venue not in {
        v for v in VENUES if VENUES[v].kind == "dark"
    }


# ----------------------------------------------------------- #10 fill times
def test_daily_bars_fill_inside_that_days_session() -> None:
    sim = venues([SESSION])
    send(sim, MONDAY - DAY // 2, "L-1", Side.BUY, 100, "NYSE")
    out = fills(sim.match(tape(MONDAY, 100, 101, 99, 100), MONDAY + DAY))
    assert out and SESSION[0] <= out[0].time_ns < SESSION[1]
    assert out[0].time_ns == SESSION[0] + LIT_LATENCY_NS


def test_minute_fills_are_stamped_inside_the_bar_that_filled_them() -> None:
    sim = venues([SESSION])
    start = SESSION[0] + 30 * MIN
    send(sim, start + LIT_LATENCY_NS, "L-1", Side.SELL, 100, "ARCA")
    (fill,) = fills(sim.match(tape(start, 100, 101, 99, 100), start + MIN))
    assert start <= fill.time_ns < start + MIN


# ------------------------------------------------------------- #9 orders.csv
def test_orders_csv_lists_every_id_a_replaced_child_had() -> None:
    from core.commands import ReplaceOrder, Timer
    from core.execution.cost_model import Urgency

    long = (Signal.ENTER_LONG, Reason.LEVEL, 98 * D)
    h = Harness(script=signal_at({300: long}), urgency=Urgency.LOW)
    for i in range(300):
        h.bar(half_range=D // 2 if i < 290 else 5 * D)
    _, commands = h.bar(half_range=5 * D)
    (child,) = submits(commands)
    h.update(child.client_order_id, OrdStatus.NEW)
    h.fill(child, quantity=child.quantity // 2)  # fills under the first id
    wake = min(t.time_ns for t in commands if getattr(t, "key", "").startswith("wake"))
    h.clock.advance_to(wake)
    out = h.engine.handle(Timer(wake, f"wake:{h.engine.parents()[0].parent_id}"))
    (replace,) = of_kind(out, ReplaceOrder)
    h.update(replace.client_order_id, OrdStatus.REPLACED)
    rows = {row[0]: row for row in order_rows(SimpleNamespace(engine=h.engine))}  # type: ignore[arg-type]
    assert child.client_order_id in rows and replace.client_order_id in rows
    old = rows[child.client_order_id]
    assert old[9] == "replaced" and old[4] == str(child.quantity)
    assert old[5] == str(child.quantity // 2) and old[6] == "100"


# ----------------------------------------------------------------- #11 delay
def test_delay_is_the_move_from_decision_to_the_first_print_after_the_child() -> None:
    long = (Signal.ENTER_LONG, Reason.LEVEL, 98 * D)
    h = Harness(script=signal_at({20: long}), cash=50_000 * D)  # retail: one market order
    h.bars(20)
    _, commands = h.bar()
    (order,) = submits(commands)
    gap = Bar("AAA", h.clock.now_ns(), 101 * D, 102 * D, 100 * D, 101 * D, 10_000)
    h.k["AAA"] += 1
    h.clock.advance_to(gap.time_ns + MIN)
    h.engine.handle(gap)  # the market opens a dollar higher
    out = h.fill(order, price=101 * D)
    tca = next(c for c in out if getattr(c, "kind", "") == "tca").payload
    assert tca["start_price"] == 101 * D and tca["decision_price"] == 100 * D
    assert tca["delay_bps"] > 99.0  # 1% of the decision notional


# ------------------------------------------------- the audit of a small run
def test_a_small_institutional_run_passes_the_output_file_audit(tmp_path: Path) -> None:
    from sim.build import scenario_spec
    from sim.outputs import write_outputs
    from sim.runner import Simulation

    spec = scenario_spec("universe30", seed=3, days=6, symbols="8")
    result = Simulation(spec, tmp_path / "journal.jsonl").run()
    assert result.violation is None
    write_outputs(result, tmp_path)
    report = audit(tmp_path)
    assert report.fills > 0 and report.lit_pairs > 0
    assert report.lit_over_cap == [], report.lit_over_cap[:3]
    assert report.unknown_fill_orders == []
    assert report.outside_session == []
    assert report.gross_breaches == []
    # the broker's schedule is charged on every fill: prime, $0.002 a share,
    # SEC and TAF on sells; dark fills have no venue fee, so that is all they pay
    import csv
    from decimal import ROUND_CEILING, Decimal

    summary = (tmp_path / "summary.json").read_text(encoding="utf-8")
    assert '"broker": "prime"' in summary
    with (tmp_path / "fills.csv").open(encoding="utf-8") as stream:
        dark = [r for r in csv.DictReader(stream) if VENUES[r["venue"]].kind == "dark"]
    assert dark
    for row in dark:
        qty, value = Decimal(row["qty"]), Decimal(row["qty"]) * Decimal(row["price"])
        expected = qty * Decimal("0.002")
        if row["side"] == "SELL":
            sec = (value * Decimal("0.0000278")).quantize(Decimal("1E-9"), ROUND_CEILING)
            expected += sec + min(qty * Decimal("0.000166"), Decimal("8.30"))
        assert Decimal(row["fee"]) == expected, row
