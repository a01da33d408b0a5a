"""Short borrow and margin debit interest (issue 12, "what to add")."""

from __future__ import annotations

from pathlib import Path

from core.commands import CashFlow
from sim.financing import FinancingRates, accrual_days, accrue

D = 10**9
DAY = 86_400 * D
FRIDAY_CLOSE = 1_704_488_400 * D  # 2024-01-05 21:00 UTC
MONDAY_CLOSE = FRIDAY_CLOSE + 3 * DAY


def test_a_friday_close_carries_the_weekend() -> None:
    assert accrual_days([FRIDAY_CLOSE, MONDAY_CLOSE]) == {FRIDAY_CLOSE: 3, MONDAY_CLOSE: 1}


def test_borrow_on_short_value_and_interest_on_negative_cash_act_360() -> None:
    rates = FinancingRates(borrow_bps=25, debit_bps=683, hard_to_borrow=(("GME", 1_500),))
    flows = accrue(
        FRIDAY_CLOSE,
        3,
        {"AAA": -1_000, "GME": -100, "LONG": 500},
        {"AAA": 100 * D, "GME": 20 * D, "LONG": 50 * D},
        {},
        -360_000 * D,
        rates,
    )
    borrow, debit = flows
    # $100,000 × 0.25% × 3/360 + $2,000 × 15% × 3/360
    assert borrow.amount == -(
        100_000 * D * 25 * 3 // 3_600_000 + 2_000 * D * 1_500 * 3 // 3_600_000
    )
    assert debit.amount == -(360_000 * D * 683 * 3 // 3_600_000)  # $204.90
    assert all(isinstance(f, CashFlow) and f.charge for f in flows)
    # flat and in credit: nothing to charge
    assert accrue(FRIDAY_CLOSE, 3, {"LONG": 500}, {"LONG": 50 * D}, {}, D, rates) == []


def test_charges_are_booked_as_pnl_and_reconcile(tmp_path: Path) -> None:
    """The invariant checker books the same charges: cash reconciles at every event."""
    from sim.build import scenario_spec
    from sim.outputs import write_outputs
    from sim.runner import Simulation

    spec = scenario_spec("universe30", seed=3, days=6, symbols="8")
    result = Simulation(spec, tmp_path / "journal.jsonl").run()
    assert result.violation is None
    assert result.financing["short borrow"] > 0 and result.financing["margin debit interest"] > 0
    portfolio = result.engine.portfolio
    assert portfolio.financing == -sum(result.financing.values())
    assert portfolio.net_flows == 0  # charges are P&L, not the owner's transfers
    data = write_outputs(result, tmp_path)
    assert data["financing"]["short_borrow"] != "0"
