import numpy as np
import pytest

from core.clock import ManualClock
from core.commands import (
    Alert,
    CancelOrder,
    OrderType,
    OrdStatus,
    Record,
    ReplaceOrder,
    ScheduleTimer,
    Side,
    Timer,
)
from core.engine import Engine
from core.errors import BadInput
from core.events import Bar
from core.execution.cost_model import Urgency
from core.instruments import Instrument
from core.portfolio import RiskLimits
from core.signals import Reason, Signal
from tests.engine.fakes import ScriptedAgent
from tests.engine.harness import MIN, T0, D, Harness, fill_all, of_kind, signal_at, submits

LONG = (Signal.ENTER_LONG, Reason.LEVEL, 98 * D)


def kinds(commands, kind):
    return [c for c in commands if isinstance(c, Record) and c.kind == kind]


def test_an_entry_is_sized_sent_after_the_bar_and_followed_by_the_agent():
    h = Harness(script=signal_at({20: LONG, 30: (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)}))
    h.bars(20)
    bar, commands = h.bar()
    risk = kinds(commands, "risk")[0].payload
    assert risk["quantity"] == 2500 and risk["reason"] == "ok"  # $5,000 / $2
    (order,) = submits(commands)
    assert order.side is Side.BUY and order.quantity == 2500
    assert order.time_ns >= bar.time_ns + MIN  # no look-ahead: after the bar closed
    agent = h.agents["AAA"]
    assert agent.direction == 0  # nothing filled yet: the agent is still flat
    h.fill(order, quantity=1000)
    assert agent.direction == 1 and agent.stop == 98 * D
    assert h.engine.position("AAA") == 1000
    h.fill(order)
    assert h.engine.position("AAA") == 2500
    assert agent.set_calls == [(1, 98 * D)]
    h.bars(9)
    _, commands = h.bar()
    (exit_order,) = submits(commands)
    assert exit_order.side is Side.SELL and exit_order.quantity == 2500
    h.fill(exit_order, price=101 * D)
    assert agent.direction == 0 and h.engine.position("AAA") == 0
    assert h.engine.cash == 500_000 * D + 2500 * D
    assert h.engine.portfolio.realized() == 2500 * D


def test_a_rejected_entry_leaves_the_agent_flat_and_frees_the_reservation():
    h = Harness(script=signal_at({20: LONG}))
    h.bars(20)
    _, commands = h.bar()
    (order,) = submits(commands)
    out = h.update(order.client_order_id, OrdStatus.REJECTED, "no buying power")
    assert h.agents["AAA"].direction == 0
    # the market parent re-sends on the next bar (one reject is a hiccup)
    _, commands = h.bar()
    assert len(submits(commands)) == 1
    assert kinds(out, "order")[0].payload["to"] == "rejected"


def test_three_rejects_in_a_row_halt_the_parent_with_an_alert():
    h = Harness(script=signal_at({20: LONG}))
    h.bars(20)
    _, commands = h.bar()
    alerts = []
    for _ in range(3):
        (order,) = submits(commands)
        alerts += of_kind(h.update(order.client_order_id, OrdStatus.REJECTED, "halted"), Alert)
        _, commands = h.bar()
    assert [a.kind for a in alerts] == ["parent_halted"]
    assert submits(commands) == []
    assert h.engine.portfolio.reservations == {}
    assert h.engine.parents()[0].state == "halted"


def test_bad_events_are_refused_named_counted_and_harmless():
    h = Harness()
    h.bars(3)
    before = (h.engine.cash, h.engine.positions(), h.engine.counters()["bars"])
    stale = Bar("AAA", T0, 100 * D, 101 * D, 99 * D, 100 * D, 1)
    unknown = Bar("ZZZ", T0 + 10 * MIN, 100 * D, 101 * D, 99 * D, 100 * D, 1)
    outs = [h.engine.handle(e) for e in (stale, unknown, "not an event")]
    texts = [out[0].text for out in outs]
    assert "time=" in texts[0] and "symbol='ZZZ'" in texts[1] and "event='str'" in texts[2]
    assert all(out[0].kind == "bad_input" for out in outs)
    assert h.engine.counters()["rejected_inputs"] == 3
    assert (h.engine.cash, h.engine.positions(), h.engine.counters()["bars"]) == before


def test_unknown_duplicate_and_overfilling_fills_change_nothing():
    h = Harness(script=signal_at({20: LONG}))
    h.bars(20)
    _, commands = h.bar()
    (order,) = submits(commands)
    h.fill(order, quantity=100, exec_id="E1")
    cash = h.engine.cash
    dup = h.fill(order, quantity=100, exec_id="E1")
    over = h.fill(order, quantity=2401, exec_id="E2")
    assert kinds(dup, "duplicate_fill")
    assert (
        of_kind(over, Alert)[0].kind == "fill_overfill" and of_kind(over, Alert)[0].level == "error"
    )
    from core.commands import Fill

    ghost = h.engine.handle(Fill(h.clock.now_ns(), "NOPE-1", "E3", "AAA", Side.BUY, 1, D))
    assert of_kind(ghost, Alert)[0].kind == "fill_unknown"
    assert h.engine.cash == cash and h.engine.position("AAA") == 100
    counters = h.engine.counters()
    assert counters["duplicate_fills"] == 1 and counters["refused_fills"] == 2


def test_retail_sends_plain_market_orders_to_the_broker():
    h = Harness(cash=50_000 * D, script=signal_at({20: LONG}))
    h.bars(20)
    (order,) = submits(h.bar()[1])
    assert order.order_type is OrderType.MARKET and order.venue is None
    assert order.quantity == 250  # $500 / $2


def test_a_low_urgency_order_starts_a_vwap_driven_by_timers():
    h = Harness(script=signal_at({1500: LONG}), urgency=Urgency.LOW)
    for i in range(1500):  # a full day of U-shaped volume
        minute = i % 1440
        h.bar(volume=20_000 + 30 * abs(minute - 720))
    _, commands = h.bar()
    parent = kinds(commands, "parent")[0].payload
    assert parent["algo"] == "vwap"
    timers = of_kind(commands, ScheduleTimer)
    assert {t.key.split(":")[0] for t in timers} == {"wake", "expire"}
    sent = submits(commands)
    assert len(sent) == 1
    fill_all(h, commands)
    total = sent[0].quantity
    wake = next(t for t in timers if t.key.startswith("wake"))
    for _ in range(5):
        h.clock.advance_to(wake.time_ns)
        out = h.engine.handle(Timer(wake.time_ns, wake.key))
        for order in submits(out):
            total += order.quantity
            h.fill(order)
        wake = next(t for t in of_kind(out, ScheduleTimer) if t.key.startswith("wake"))
    assert h.engine.position("AAA") == total > 0
    vwap = h.engine.parents()[0]
    assert vwap.algorithm.schedule[-1][1] == vwap.quantity
    # the slices follow the volume this symbol traded at those minutes of the day
    market = h.engine.execution.market("AAA")
    slices = vwap.algorithm.slices()
    weights = market.profile_weights(vwap.start_ns, MIN, len(slices))
    for part, weight in zip(slices, weights, strict=True):
        assert abs(part - vwap.quantity * weight / sum(weights)) < 1


def test_same_seed_same_commands():
    def run(seed):
        h = Harness(script=signal_at({1500: LONG}), urgency=Urgency.LOW, seed=seed)
        out = []
        for i in range(1501):
            out += h.bar(volume=20_000 + (i % 7) * 100)[1]
        return out

    assert run(3) == run(3)


def test_exit_cancels_a_working_entry_first():
    # Liquid bars (500 shares is 0.25% of one): the model works the exit in one bar.
    h = Harness(script=signal_at({20: LONG, 22: (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)}))
    h.bars(20, volume=200_000)
    (order,) = submits(h.bar(volume=200_000)[1])
    h.update(order.client_order_id, OrdStatus.NEW)
    h.fill(order, quantity=500)
    h.bar(volume=200_000)
    _, commands = h.bar(volume=200_000)
    cancels = of_kind(commands, CancelOrder)
    assert [c.orig_client_order_id for c in cancels] == [order.client_order_id]
    (exit_order,) = submits(commands)
    assert exit_order.side is Side.SELL and exit_order.quantity == 500
    # the cancel lost the race: 200 more filled; after the exit, the residual is chased
    late = h.fill(order, quantity=200)
    h.update(cancels[0].client_order_id, OrdStatus.CANCELED)
    assert h.engine.position("AAA") == 700
    assert [a.kind for a in of_kind(late, Alert)] == []
    out = h.fill(exit_order)
    assert [a.kind for a in of_kind(out, Alert)] == ["residual_position"]
    (chase,) = submits(out)
    assert chase.quantity == 200 and chase.side is Side.SELL
    h.fill(chase)
    assert h.engine.position("AAA") == 0 and h.agents["AAA"].direction == 0


def test_stop_exit_is_market_and_immediate():
    h = Harness(
        cash=5_000_000 * D,
        script=signal_at({20: LONG, 25: (Signal.EXIT_LONG, Reason.STOP, 98 * D)}),
    )
    # bars deep enough that the 25,000-share entry is one bar's quarter at most
    # (a market entry, all filled, before the stop is hit)
    h.bars(20, volume=200_000)
    fill_all(h, h.bar(volume=200_000)[1])
    h.bars(4, volume=200_000)
    _, commands = h.bar(volume=200_000)
    assert kinds(commands, "parent")[0].payload["urgency"] == "high"
    (order,) = submits(commands)
    assert order.order_type is OrderType.MARKET and order.quantity == h.engine.position("AAA")


def test_parent_expiry_cancels_children_then_reports_tca():
    h = Harness(script=signal_at({20: LONG}))
    h.bars(20)
    _, commands = h.bar()
    (order,) = submits(commands)
    expire = next(t for t in of_kind(commands, ScheduleTimer) if t.key.startswith("expire"))
    h.update(order.client_order_id, OrdStatus.NEW)
    h.fill(order, quantity=1000)
    h.clock.advance_to(expire.time_ns)
    out = h.engine.handle(Timer(expire.time_ns, expire.key))
    (cancel,) = of_kind(out, CancelOrder)
    assert h.engine.portfolio.reservations  # still reserved until the cancel is confirmed
    done = h.update(cancel.client_order_id, OrdStatus.CANCELED)
    tca = kinds(done, "tca")[0].payload
    assert tca["filled"] == 1000 and tca["decided"] == 2500 and tca["grade"]
    assert h.engine.portfolio.reservations == {}


def test_risk_refusals_are_recorded_not_dropped():
    h = Harness(
        symbols=["AAA", "BBB"],
        script=signal_at({20: LONG}),
        limits=RiskLimits().tightened({"max_positions": 1}),
    )
    h.bars(20, "AAA")
    h.bars(20, "BBB")
    fill_all(h, h.bar("AAA")[1])
    _, commands = h.bar("BBB")
    risk = kinds(commands, "risk")[0].payload
    assert risk["quantity"] == 0 and "1 positions already open" in risk["reason"]
    assert submits(commands) == []


def test_institutional_children_can_go_dark_with_min_quantity():
    h = Harness(
        cash=5_000_000 * D, script=signal_at({20: (Signal.ENTER_LONG, Reason.LEVEL, 99 * D)})
    )
    h.bars(20, volume=20_000, half_range=D // 20)
    _, commands = h.bar(volume=20_000, half_range=D // 20)
    assert kinds(commands, "parent")[0].payload["algo"] == "is"
    (order,) = submits(commands)
    assert order.order_type is OrderType.PEGGED_MIDPOINT and order.venue in {
        "SIGMA-X",
        "CROSSFINDER",
        "MS-POOL",
        "LEVEL-ATS",
        "LIQUIDNET",
    }
    assert order.min_quantity is not None and order.min_quantity * 100 * D >= 10_000 * D


def test_an_adaptive_parent_reprices_by_cancel_replace():
    h = Harness(script=signal_at({300: LONG}), urgency=Urgency.LOW)
    for i in range(300):
        h.bar(half_range=D // 2 if i < 290 else 5 * D)  # volatility breaks out
    _, commands = h.bar(half_range=5 * D)
    assert kinds(commands, "parent")[0].payload["algo"] == "adaptive"
    (child,) = submits(commands)
    assert child.order_type is OrderType.LIMIT
    h.update(child.client_order_id, OrdStatus.NEW)
    wake = next(t for t in of_kind(commands, ScheduleTimer) if t.key.startswith("wake"))
    h.clock.advance_to(wake.time_ns)
    out = h.engine.handle(Timer(wake.time_ns, wake.key))
    (replace,) = of_kind(out, ReplaceOrder)
    assert replace.orig_client_order_id == child.client_order_id
    assert replace.quantity > child.quantity
    h.update(replace.client_order_id, OrdStatus.REPLACED)
    assert h.engine.order(replace.client_order_id).quantity == replace.quantity


def test_thirty_symbols_is_the_limit():
    instruments = [Instrument(f"S{i}") for i in range(31)]
    with pytest.raises(BadInput, match="more than 30"):
        Engine(instruments, D, ManualClock(), np.random.default_rng(0), agent_factory=ScriptedAgent)
    with pytest.raises(BadInput, match="appears twice"):
        Engine([Instrument("A"), Instrument("A")], D, ManualClock(), np.random.default_rng(0))


def test_malformed_venue_messages_are_refused_before_touching_the_books():
    from core.commands import Fill, OrderUpdate

    h = Harness(script=signal_at({20: LONG}))
    h.bars(20)
    (order,) = submits(h.bar()[1])
    cid = order.client_order_id
    now = h.clock.now_ns()
    bad = [
        Fill(now, cid, "E1", "AAA", Side.BUY, 10.0, 100 * D),
        Fill(now, cid, "E1", "AAA", Side.BUY, 10, "100"),
        Fill(now, cid, "E1", "AAA", Side.BUY, 10, 100 * D, "", 0.5),
        Fill(now, cid, 7, "AAA", Side.BUY, 10, 100 * D),
        Fill(-1, cid, "E1", "AAA", Side.BUY, 10, 100 * D),
        OrderUpdate(now, cid, "new"),
        OrderUpdate(now, 42, OrdStatus.NEW),
        Timer(now, 5),
        Timer("soon", "wake:x"),
    ]
    fields = []
    for event in bad:
        (alert,) = h.engine.handle(event)
        assert alert.kind == "bad_input"
        fields.append(alert.text.split("=")[0])
    assert fields == [
        "quantity",
        "price",
        "fee",
        "exec_id",
        "time_ns",
        "status",
        "client_order_id",
        "key",
        "time_ns",
    ]
    assert h.engine.position("AAA") == 0 and h.engine.cash == 500_000 * D
    assert h.engine.order(cid).status is OrdStatus.PENDING_NEW
    assert h.engine.counters()["rejected_inputs"] == len(bad)


def test_a_pov_parent_follows_market_volume_bar_by_bar():
    h = Harness(script=signal_at({300: LONG}), urgency=Urgency.LOW)
    for i in range(300):
        h.bar(volume=100 if i % 10 else 60_000)  # erratic volume: cv > 1
    _, commands = h.bar(volume=100)
    assert kinds(commands, "parent")[0].payload["algo"] == "pov"
    assert submits(commands) == []  # no market volume seen yet since the intent
    parent = h.engine.parents()[0]
    rho = parent.algorithm.rate_num / parent.algorithm.rate_den
    market = filled = 0
    for i in range(40):
        volume = 100 if i % 10 else 60_000
        _, commands = h.bar(volume=volume)
        market += volume
        for order in submits(commands):
            filled += order.quantity
            h.fill(order)
        assert filled <= rho / (1 - rho) * market
    assert filled > 0 and h.engine.position("AAA") == filled


def test_an_iceberg_shows_only_its_display_and_replenishes_on_fills():
    h = Harness(script=signal_at({300: LONG}), urgency=Urgency.LOW)
    h.bars(300, volume=1_000)
    _, commands = h.bar(volume=1_000)
    assert kinds(commands, "parent")[0].payload["algo"] == "iceberg"
    (child,) = submits(commands)
    parent = h.engine.parents()[0]
    display = parent.algorithm.display
    assert child.order_type is OrderType.LIMIT and child.quantity == display < parent.quantity
    assert child.limit_price == 100 * D
    out = h.fill(child, quantity=display // 2 or 1)
    for order in submits(out):
        assert order.quantity <= display
    working = sum(o.leaves for o in h.engine.open_orders())
    assert working <= display


def test_a_late_fill_that_breaks_a_limit_is_flagged_and_unwound():
    h = Harness(
        symbols=["AAA", "BBB"],
        script=signal_at({20: LONG}),
        limits=RiskLimits().tightened({"max_positions": 1}),
    )
    h.bars(20, "AAA")
    _, commands = h.bar("AAA")
    (order,) = submits(commands)
    expire = next(t for t in of_kind(commands, ScheduleTimer) if t.key.startswith("expire"))
    h.clock.advance_to(expire.time_ns)
    (cancel,) = of_kind(h.engine.handle(Timer(expire.time_ns, expire.key)), CancelOrder)
    h.update(cancel.client_order_id, OrdStatus.CANCELED)
    assert h.engine.portfolio.reservations == {}
    h.bars(20, "BBB")
    _, commands = h.bar("BBB")  # BBB takes the only position slot
    assert kinds(commands, "risk")[0].payload["reason"] == "ok"
    out = h.fill(order, quantity=300)  # AAA's cancel lost the race after all
    alerts = [a.kind for a in of_kind(out, Alert)]
    assert alerts == ["late_fill", "risk_breach"]
    (unwind,) = submits(out)
    assert unwind.symbol == "AAA" and unwind.side is Side.SELL and unwind.quantity == 300
    assert unwind.order_type is OrderType.MARKET
    assert h.engine.counters()["risk_breaches"] == 1


def test_an_odd_lot_position_is_exited_completely():
    h = Harness(
        lot=100,
        script=signal_at({300: LONG, 303: (Signal.EXIT_LONG, Reason.LEVEL, 98 * D)}),
        urgency=Urgency.LOW,
    )
    h.bars(300, volume=1_000)
    (order,) = submits(h.bar(volume=1_000)[1])  # an iceberg showing one lot
    (order,) = submits(h.fill(order))  # replenished
    h.fill(order, quantity=50)  # fills need not come in lots
    assert h.engine.position("AAA") == 150
    h.bars(2, volume=1_000)
    _, commands = h.bar(volume=1_000)
    parent = next(p for p in h.engine.parents() if p.intent.purpose == "exit")
    assert parent.quantity == 150 and parent.choice.algo.value != "market"
    pending = list(of_kind(commands, ScheduleTimer))
    fill_all(h, commands)
    for _ in range(2_000):
        if h.engine.position("AAA") == 0:
            break
        wake = min((t for t in pending if t.key.startswith("wake")), key=lambda t: t.time_ns)
        pending.remove(wake)
        h.clock.advance_to(max(h.clock.now_ns(), wake.time_ns))
        out = h.engine.handle(Timer(wake.time_ns, wake.key))
        pending += of_kind(out, ScheduleTimer)
        fill_all(h, out)
    assert h.engine.position("AAA") == 0
    sizes = [o.quantity for o in h.engine.orders() if o.parent_id == parent.parent_id]
    assert sum(sizes) == 150 and all(q % 100 == 0 for q in sizes[:-1]) and sizes[-1] % 100 == 50


def test_fractional_units_are_sized_and_booked_exactly():
    from core.commands import Fill
    from core.instruments import AssetClass

    coin = Instrument("BTC", asset_class=AssetClass.CRYPTO, qty_decimals=8, lot=1)
    clock = ManualClock(T0)
    agent_box = {}

    def factory(instrument):
        agent_box["a"] = ScriptedAgent(
            instrument, signal_at({20: (Signal.ENTER_LONG, Reason.LEVEL, 29_000 * D)})
        )
        return agent_box["a"]

    engine = Engine([coin], 50_000 * D, clock, np.random.default_rng(0), agent_factory=factory)
    for k in range(21):
        t = T0 + k * MIN
        clock.advance_to(t + MIN)
        out = engine.handle(Bar("BTC", t, 30_000 * D, 30_010 * D, 29_990 * D, 30_000 * D, 10**9))
    (order,) = submits(out)
    # 1% of $50,000 = $500 at a $1,000 stop distance: 0.5 BTC = 50,000,000 units
    assert order.quantity == 50_000_000
    engine.handle(
        Fill(
            clock.now_ns(), order.client_order_id, "E1", "BTC", Side.BUY, 12_345_678, 30_000 * D + 1
        )
    )
    # 0.12345678 BTC × $30,000.000000001, rounded half-even to the nano-unit
    assert engine.cash == 50_000 * D - 3_703_703_400_000
    assert engine.position("BTC") == 12_345_678


def test_a_rejected_cancel_is_retried_until_the_parent_can_finish():
    h = Harness(script=signal_at({20: LONG}))
    h.bars(20)
    _, commands = h.bar()
    (order,) = submits(commands)
    h.update(order.client_order_id, OrdStatus.NEW)
    expire = next(t for t in of_kind(commands, ScheduleTimer) if t.key.startswith("expire"))
    h.clock.advance_to(expire.time_ns)
    (cancel,) = of_kind(h.engine.handle(Timer(expire.time_ns, expire.key)), CancelOrder)
    h.update(cancel.client_order_id, OrdStatus.REJECTED, "too late to cancel")
    assert h.engine.order(order.client_order_id).status is OrdStatus.NEW
    _, commands = h.bar()
    (again,) = of_kind(commands, CancelOrder)
    assert again.orig_client_order_id == order.client_order_id
    done = h.update(again.client_order_id, OrdStatus.CANCELED)
    assert kinds(done, "tca")


def test_a_bar_the_agent_refuses_changes_nothing_in_the_engine():
    def script(agent, bar):
        if bar.volume == 13:
            raise BadInput("volume", 13, "unlucky")
        return Signal.HOLD, None, None

    h = Harness(script=script)
    h.bars(5)
    market = h.engine.execution.market("AAA")
    before = (market.bars, market.volume_sum, h.engine.counters()["bars"], h.engine.now_ns)
    _, out = h.bar(volume=13)
    assert [a.kind for a in out] == ["bad_input"] and "unlucky" in out[0].text
    assert (market.bars, market.volume_sum, h.engine.counters()["bars"], h.engine.now_ns) == before
    h.bar()  # and the next bar is fine
    assert market.bars == 6


DARK = {"SIGMA-X", "CROSSFINDER", "MS-POOL", "LEVEL-ATS", "LIQUIDNET"}


def test_an_institutional_one_bar_entry_sweeps_dark_once_then_goes_lit():
    """Normal urgency, one bar is cheapest (deep volume): the child first tries
    a dark midpoint IOC; what misses goes lit at the next bar, not dark again."""
    h = Harness(cash=5_000_000 * D, script=signal_at({20: LONG}))
    h.bars(20, volume=5_000_000)
    _, commands = h.bar(volume=5_000_000)
    assert kinds(commands, "parent")[0].payload["algo"] == "market"
    (dark,) = submits(commands)
    assert dark.venue in DARK and dark.order_type is OrderType.PEGGED_MIDPOINT
    assert dark.time_in_force.value == "ioc" and dark.min_quantity
    h.update(dark.client_order_id, OrdStatus.NEW)
    h.fill(dark, quantity=dark.quantity // 2 // 100 * 100)  # half matched at the midpoint
    h.update(dark.client_order_id, OrdStatus.EXPIRED)  # the IOC's rest
    _, commands = h.bar(volume=5_000_000)
    (lit,) = submits(commands)
    assert lit.venue not in DARK and lit.order_type is OrderType.MARKET
    assert lit.quantity == dark.quantity - dark.quantity // 2 // 100 * 100


def test_a_stop_never_waits_on_a_dark_pool():
    h = Harness(
        cash=5_000_000 * D,
        script=signal_at({20: LONG, 25: (Signal.EXIT_LONG, Reason.STOP, 98 * D)}),
    )
    h.bars(20, volume=5_000_000)
    _, commands = h.bar(volume=5_000_000)
    (entry,) = submits(commands)
    assert entry.venue in DARK  # the entry did sweep the dark pools
    h.fill(entry)
    h.bars(4, volume=5_000_000)
    _, commands = h.bar(volume=5_000_000)
    (stop,) = submits(commands)
    assert stop.venue not in DARK and stop.order_type is OrderType.MARKET


def test_a_dark_child_refused_before_any_venue_saw_it_teaches_nothing_about_the_pool():
    """The root of the flaky institutional e2e test: at start-up the gateway
    refuses entries decided on old (catch-up) bars, "stale: ... not sent". Those
    dark IOCs were counted as sent-and-missed, 28,622 shares at a time, so three
    pools fell to a fill rate of ~3e-5 before a single order reached them."""
    h = Harness(cash=5_000_000 * D, script=signal_at({20: LONG}))
    h.bars(20, volume=5_000_000)
    _, commands = h.bar(volume=5_000_000)
    (dark,) = submits(commands)
    assert dark.venue in DARK
    stats = h.engine.execution.venues.stats[dark.venue]
    assert stats.orders == 1.0  # counted when routed...
    h.update(dark.client_order_id, OrdStatus.REJECTED, "stale: entry decided on an old bar")
    assert stats.orders == 0.0 and stats.fill_rate == 0.5  # ...and taken back: the prior again
