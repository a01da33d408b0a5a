"""The cost model behind algorithm selection (docs/cost-model.md derives it).

Expected shortfall of a schedule = spread + temporary impact + λ·variance,
in the spirit of Almgren & Chriss (2000). Temporary impact per slice is the
square-root law in daily units, ``Y·σ_day·√(q / V_day)`` (Tóth et al. 2011;
Almgren, Thum, Hauptmann & Li 2005 fit the same shape with exponent 0.6): a
slice of ``q`` shares is a fraction ``q / V_day`` of the day's volume, and
with ``σ_day = σ_bar·√b`` and ``V_day = b·v̄`` the bars-per-day ``b`` cancels,
so the law is ``Y·σ_bar·√(q / v̄)`` in the per-bar units the engine measures
(ATR/price, bar volume). The simulator's lit venues charge the same law with
the same ``Y`` (``sim/venues.py``), so the model's impact is what the
simulated tape makes us pay (tests/execution/test_impact_calibration.py).
Every other input is the symbol's own statistic or the trade's own risk
budget (λ = 1 / the money the trade may lose, SPEC §6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

ETA = 0.5
"""Square-root-law coefficient ``Y`` on daily σ and size against daily volume.

Tóth et al. (2011) and the literature since report Y of order 0.5–1 for US
equities; 0.5 is the simulator's ``IMPACT_Y`` (which uses a bar's high−low
range for σ_bar, and the mean range is what the engine's ATR measures). The
number the calibration test pins the model to."""

BETA = 0.5
"""Impact exponent: the square-root law (Almgren et al. 2005 fit 0.6 on
participation of daily volume over a day-long execution; applied per minute
slice that fit charges √390 times the square-root law's impact, issue 12 #5)."""

MAX_PARTICIPATION = 0.5
"""POV ceiling: above 50% we would *be* the market and the impact fit (fitted on
orders well below that) no longer describes anything; also keeps ρ/(1−ρ) ≤ 1."""

SLICE_PARTICIPATION = 0.25
"""The most of a typical bar's volume a schedule plans to take per bar: the
usual upper end desks allow, and the share of a bar the simulated lit venues
let all our orders take together (``sim/venues.py`` PARTICIPATION_CAP). A
schedule above it cannot complete in its bars (the rest is left unfilled:
MARKET parents of several bars' volume filled 59%, issue 12 #5), so the
horizon scan starts at the shortest schedule that respects it."""

REGIME_SIGMAS = 2.0
"""Volatility regime break: ATR beyond mean ± 2σ of its own history — the same
2σ tail rule SPEC §4.4 uses for volume spikes."""


class Urgency(StrEnum):
    LOW = "low"  # no risk aversion: minimise impact only
    NORMAL = "normal"  # risk aversion = 1 / the trade's risk budget
    HIGH = "high"  # a stop was hit: out now, whatever the impact


class Algo(StrEnum):
    MARKET = "market"
    TWAP = "twap"
    VWAP = "vwap"
    POV = "pov"
    ICEBERG = "iceberg"
    ADAPTIVE = "adaptive"
    IS = "is"


@dataclass(frozen=True, slots=True)
class CostInputs:
    """Everything the model needs, as plain numbers (statistics, not money)."""

    quantity: float  # shares to trade
    price: float  # reference price, currency units
    sigma: float  # volatility per bar as a fraction of price (ATR / price)
    bar_volume: float  # typical bar volume (mean over all history)
    half_spread: float  # fraction of price paid to cross (tick/2 / price when unknown)
    risk_aversion: float  # λ per currency unit of variance; 0 = impact only
    max_bars: int  # longest horizon: the most bars the symbol has traded in a day
    day_bars: int = 1  # bars in a trading day (1 for daily bars): the model's time unit

    @property
    def daily_sigma(self) -> float:
        """Daily volatility: per-bar σ scales with √time, σ·√day_bars."""
        return self.sigma * math.sqrt(max(1, self.day_bars))

    @property
    def daily_volume(self) -> float:
        """Typical daily volume: ``day_bars`` typical bars."""
        return max(self.bar_volume, 1.0) * max(1, self.day_bars)

    def slice_impact(self, slice_qty: float) -> float:
        """Per-share impact of one slice, fraction of price, in daily units:
        ``Y·σ_day·(q / V_day)^β`` — equal to ``temporary_impact(q / v̄, σ)``
        when β = ½, since ``b`` cancels."""
        if slice_qty <= 0:
            return 0.0
        return ETA * self.daily_sigma * float((slice_qty / self.daily_volume) ** BETA)


@dataclass(frozen=True, slots=True)
class ScheduleCost:
    bars: int
    expected: float  # currency units
    variance: float  # currency units squared
    objective: float  # expected + λ·variance
    participation: float

    def expected_bps(self, notional: float) -> float:
        return self.expected / notional * 1e4 if notional > 0 else 0.0


def temporary_impact(participation: float, sigma: float) -> float:
    """Per-share temporary impact as a fraction of price: Y·σ·ρ^β, with σ the
    per-bar volatility and ρ the slice over the bar's volume (the square-root
    law's daily units with the bars per day cancelled: ``CostInputs.slice_impact``)."""
    if participation <= 0.0:
        return 0.0
    return ETA * sigma * float(participation**BETA)


def uniform_cost(inputs: CostInputs, bars: int) -> ScheduleCost:
    """Cost of trading ``quantity`` in ``bars`` equal slices (closed-form risk).

    Variance is Almgren–Chriss's σ²τ·Σ x_k² with holdings x_k = X(N−k)/N, whose
    sum is X²(N−1)(2N−1)/(6N).
    """
    x, p = inputs.quantity, inputs.price
    volume = max(inputs.bar_volume, 1.0)
    participation = x / bars / volume
    per_share = inputs.half_spread + temporary_impact(participation, inputs.sigma)
    expected = x * p * per_share
    sigma_price = inputs.sigma * p
    variance = sigma_price**2 * x * x * (bars - 1) * (2 * bars - 1) / (6 * bars)
    objective = expected + inputs.risk_aversion * variance
    return ScheduleCost(bars, expected, variance, objective, participation)


def min_bars(inputs: CostInputs) -> int:
    """The shortest schedule within ``SLICE_PARTICIPATION`` of a typical bar,
    never past the longest horizon (the day's bars left)."""
    per_bar = SLICE_PARTICIPATION * max(inputs.bar_volume, 1.0)
    return max(1, min(max(1, inputs.max_bars), math.ceil(inputs.quantity / per_bar)))


def optimal_horizon(inputs: CostInputs) -> ScheduleCost:
    """The number of bars minimising expected cost + λ·variance (ties: shorter),
    among the schedules that take at most ``SLICE_PARTICIPATION`` of a bar."""
    # The same arithmetic as ``uniform_cost``, inlined: this scan runs once
    # per new parent over up to a day of bars.
    x, p = inputs.quantity, inputs.price
    per_bar = x / max(inputs.bar_volume, 1.0)
    impact_scale = ETA * inputs.sigma
    spread = inputs.half_spread
    risk = inputs.risk_aversion * (inputs.sigma * p) ** 2 * x * x / 6.0
    notional = x * p
    best_bars, best_objective = 1, math.inf
    for bars in range(min_bars(inputs), max(1, inputs.max_bars) + 1):
        rate = per_bar / bars
        expected = notional * (spread + (impact_scale * rate**BETA if rate > 0 else 0.0))
        objective = expected + risk * (bars - 1) * (2 * bars - 1) / bars
        if objective < best_objective:
            best_bars, best_objective = bars, objective
    return uniform_cost(inputs, best_bars)


def linear_eta(inputs: CostInputs, bars: int) -> float:
    """Linear temporary-impact coefficient matching the power law at the plan's rate.

    Almgren–Chriss's closed form needs h(v) = η_lin·v (price per share per
    share-per-bar); we take the η_lin that gives the same impact as
    ``η·σ·ρ^β`` at the schedule's average participation.
    """
    slice_qty = inputs.quantity / bars
    if slice_qty <= 0:
        return 0.0
    participation = slice_qty / max(inputs.bar_volume, 1.0)
    return temporary_impact(participation, inputs.sigma) * inputs.price / slice_qty


def ac_kappa(risk_aversion: float, sigma_price: float, eta_lin: float, tau: float = 1.0) -> float:
    """Almgren–Chriss urgency κ from the discrete-time relation (γ = 0).

    ``cosh(κτ) = 1 + κ̃²τ²/2`` with ``κ̃² = λσ²/η``; κ → 0 as λ → 0 (TWAP).
    """
    if risk_aversion <= 0.0 or sigma_price <= 0.0 or eta_lin <= 0.0:
        return 0.0
    kappa_tilde_sq = risk_aversion * sigma_price**2 / eta_lin
    return math.acosh(1.0 + kappa_tilde_sq * tau * tau / 2.0) / tau


def ac_holdings(quantity: float, bars: int, kappa: float) -> list[float]:
    """x_j = X·sinh(κ(T−t_j))/sinh(κT) for j = 0..N (T = N bars); linear at κ = 0."""
    if bars <= 0:
        return [quantity]
    if kappa * bars < 1e-9:
        return [quantity * (bars - j) / bars for j in range(bars + 1)]
    if kappa * bars > 700.0:  # sinh overflows; the ratio is then e^{−κ t_j}
        return [quantity * math.exp(-kappa * j) if j < bars else 0.0 for j in range(bars + 1)]
    denominator = math.sinh(kappa * bars)
    return [quantity * math.sinh(kappa * (bars - j)) / denominator for j in range(bars + 1)]


@dataclass(frozen=True, slots=True)
class AlgoChoice:
    algo: Algo
    bars: int  # planned horizon in bars
    rate: float  # POV participation ρ (0 for the others)
    kappa: float  # IS urgency (0 for the others)
    expected_cost_bps: float
    reason: str
    impact_bps: float = 0.0  # the temporary-impact part of the expected cost


def choose_algorithm(
    inputs: CostInputs,
    *,
    urgency: Urgency,
    algos_allowed: bool,
    has_profile: bool,
    volume_cv: float,
    atr_zscore: float | None,
) -> AlgoChoice:
    """Pick the algorithm from the model (the rule is docs/cost-model.md §3)."""
    choice = _choose(inputs, urgency, algos_allowed, has_profile, volume_cv, atr_zscore)
    impact = temporary_impact(choice_participation(inputs, choice.bars), inputs.sigma) * 1e4
    return AlgoChoice(
        choice.algo,
        choice.bars,
        choice.rate,
        choice.kappa,
        choice.expected_cost_bps,
        choice.reason,
        impact,
    )


def choice_participation(inputs: CostInputs, bars: int) -> float:
    return inputs.quantity / max(bars, 1) / max(inputs.bar_volume, 1.0)


def _choose(
    inputs: CostInputs,
    urgency: Urgency,
    algos_allowed: bool,
    has_profile: bool,
    volume_cv: float,
    atr_zscore: float | None,
) -> AlgoChoice:
    notional = inputs.quantity * inputs.price
    immediate = uniform_cost(inputs, 1)
    if not algos_allowed:
        return AlgoChoice(
            Algo.MARKET, 1, 0.0, 0.0, immediate.expected_bps(notional), "tier: market only"
        )
    if urgency is Urgency.HIGH:
        return AlgoChoice(
            Algo.MARKET, 1, 0.0, 0.0, immediate.expected_bps(notional), "urgency high"
        )
    best = optimal_horizon(inputs)
    cost_bps = best.expected_bps(notional)
    if best.bars == 1:
        return AlgoChoice(Algo.MARKET, 1, 0.0, 0.0, cost_bps, "one bar minimises the cost")
    if atr_zscore is not None and abs(atr_zscore) > REGIME_SIGMAS:
        return AlgoChoice(
            Algo.ADAPTIVE, best.bars, 0.0, 0.0, cost_bps, f"ATR {atr_zscore:+.1f}σ off history"
        )
    if volume_cv > 1.0:
        rate = min(MAX_PARTICIPATION, best.participation / (1.0 + best.participation))
        return AlgoChoice(
            Algo.POV, best.bars, rate, 0.0, cost_bps, f"bar volume too erratic (cv {volume_cv:.2f})"
        )
    if urgency is Urgency.LOW and inputs.quantity >= inputs.bar_volume:
        return AlgoChoice(
            Algo.ICEBERG, best.bars, 0.0, 0.0, cost_bps, "passive and larger than a bar's volume"
        )
    eta = linear_eta(inputs, best.bars)
    kappa = ac_kappa(inputs.risk_aversion, inputs.sigma * inputs.price, eta)
    if kappa * best.bars > 1.0:
        return AlgoChoice(
            Algo.IS,
            best.bars,
            0.0,
            kappa,
            cost_bps,
            f"risk-averse trajectory (κT={kappa * best.bars:.2f})",
        )
    if has_profile:
        return AlgoChoice(Algo.VWAP, best.bars, 0.0, 0.0, cost_bps, "near-linear; profile known")
    return AlgoChoice(Algo.TWAP, best.bars, 0.0, 0.0, cost_bps, "near-linear; no profile yet")
