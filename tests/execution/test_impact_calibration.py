"""Issue 12 #5: the cost model's impact is what the simulated tape charges.

The model (``core/execution/cost_model.py``) and the simulated lit venues
(``sim/venues.py``) both state the square-root law; this holds them to the
same units and coefficient. For a range of child sizes the model's expected
impact of a one-bar order is compared with what the venue simulator made it
pay, measured the way TCA measures it (the fill against the bar's average
price, less the half spread). Before the fix the model charged a one-minute
slice √390·η/Y ≈ 5.6·ρ^0.1 times the venue's impact (ratio ≈ 0.2).

And end to end: on a slice of ``universe30`` (seed 3), the median of
``impact_realised_bps / impact_model_bps`` over filled parents, from the run's
own ``tca.csv``, is within [0.5, 2].
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.commands import Fill, OrderType, Side, SubmitOrder, TimeInForce
from core.events import Bar
from core.execution.cost_model import Algo, CostInputs, Urgency, choose_algorithm
from core.execution.tca import Execution, realised_impact_bps
from core.instruments import CENT, Instrument
from sim.audit import audit
from sim.faults import FaultRates
from sim.venues import VenueSimulator

MINUTE = 60_000_000_000
SYMBOL = "ACME"
VOLUME = 2_000_000


def _bar(start: int) -> Bar:
    # $100 ± $0.60: a 120 bps range, the σ_bar an ATR of such bars measures
    return Bar(
        SYMBOL, start * MINUTE, 100 * 10**9, 10_060 * CENT, 9_940 * CENT, 100 * 10**9, VOLUME
    )


def _venue_impact_bps(side: Side, quantity: int) -> float:
    venues = VenueSimulator(1, {SYMBOL: Instrument(SYMBOL)}, FaultRates(), set())
    command = SubmitOrder(
        0, "C1", None, SYMBOL, side, quantity, OrderType.MARKET, None, TimeInForce.DAY, "NYSE"
    )
    venues.receive(0, command)
    bar = _bar(0)
    fills = [r for _, r in venues.match(bar, MINUTE) if isinstance(r, Fill)]
    assert sum(f.quantity for f in fills) == quantity  # within the 25% cap
    mean = (bar.open + bar.high + bar.low + bar.close) // 4
    executions = [Execution(f.quantity, f.price, f.fee, mean) for f in fills]
    half_spread_bps = CENT / 2 / mean * 1e4
    impact = realised_impact_bps(side.sign, executions, half_spread_bps)
    assert impact is not None
    return impact


def _model_impact_bps(quantity: int) -> float:
    bar = _bar(0)
    inputs = CostInputs(
        quantity=float(quantity),
        price=100.0,
        sigma=(bar.high - bar.low) / bar.close,  # ATR / price on such bars
        bar_volume=float(VOLUME),
        half_spread=CENT / 2 / bar.close,
        risk_aversion=0.0,
        max_bars=390,
        day_bars=390,  # minute bars
    )
    choice = choose_algorithm(
        inputs,
        urgency=Urgency.HIGH,
        algos_allowed=True,
        has_profile=True,
        volume_cv=0.5,
        atr_zscore=0.0,
    )
    assert choice.algo is Algo.MARKET and choice.bars == 1
    return choice.impact_bps


@pytest.mark.parametrize("participation", [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25])
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_model_impact_matches_the_venues_square_root_impact(
    participation: float, side: Side
) -> None:
    quantity = int(VOLUME * participation)
    realised, model = _venue_impact_bps(side, quantity), _model_impact_bps(quantity)
    assert model > 0
    assert 0.5 <= realised / model <= 2.0, (participation, realised, model)


def test_universe30_impact_ratio_median_within_half_and_double(tmp_path: Path) -> None:
    out = tmp_path / "run"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            "universe30",
            "--seed",
            "3",
            "--symbols",
            "6",
            "--days",
            "5",
            "--out",
            str(out),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    result = audit(out)
    assert result.impact_ratio_parents >= 10
    assert result.impact_ratio_median is not None
    assert 0.5 <= result.impact_ratio_median <= 2.0, result.impact_ratio_median
