"""Transaction cost analysis per parent order (SPEC §9).

Conventions: everything is a *cost*, positive = bad, with ``s = +1`` for a buy
and ``−1`` for a sell. Perold's (1988) implementation shortfall is computed
twice — as paper-minus-real return and as the sum of its parts — in exact
integers (units × nano-units), so the decomposition sums to the total by
construction *and* by check. Basis points are floats (statistics).

    delay       = s · Q · (P_start − P_decision)
    trading     = s · Σ qᵢ (pᵢ − P_start)
    opportunity = s · (X − Q) · (P_end − P_decision)
    fees        = Σ feeᵢ
    total       = paper − real = s·X·(P_end − P_d) − [s·Σqᵢ(P_end − pᵢ) − fees]

``P_decision`` is the price when the intent was formed (the signal bar's
close), ``P_start`` the arrival price — the mid when the first child reached
a venue (the first print after it went out) — and ``P_end`` the last price
when the parent finished; Q = Σqᵢ filled of X decided. Delay is therefore
the move between the decision and the order's arrival (a gap, a wait for a
slice), trading the cost of working the order from there.
"""

from __future__ import annotations

from dataclasses import dataclass

GRADES: tuple[tuple[float, str], ...] = (
    (-5.0, "Excellent"),
    (2.0, "Good"),
    (10.0, "Acceptable"),
    (25.0, "Poor"),
)


def grade(shortfall_bps: float) -> str:
    """SPEC §9: Excellent < −5, Good < 2, Acceptable < 10, Poor < 25, else Very Poor."""
    for bound, name in GRADES:
        if shortfall_bps < bound:
            return name
    return "Very Poor"


@dataclass(frozen=True, slots=True)
class Execution:
    quantity: int
    price: int
    fee: int = 0
    reference: int | None = None  # the market's price when it traded, without us


@dataclass(frozen=True, slots=True)
class TcaReport:
    parent_id: str
    symbol: str
    side_sign: int
    decided: int
    filled: int
    decision_price: int
    start_price: int
    end_price: int
    average_price: float | None
    interval_vwap: float | None
    # exact money, units × nano-units (divide by 10**decimals for nano-units)
    delay: int
    trading: int
    opportunity: int
    fees: int
    total: int
    paper_minus_real: int
    decimals: int
    # bps
    arrival_slippage_bps: float | None
    vwap_performance_bps: float | None
    shortfall_bps: float
    delay_bps: float
    trading_bps: float
    opportunity_bps: float
    fees_bps: float
    impact_model_bps: float
    impact_realized_bps: float
    grade: str
    algo: str = ""

    def as_record(self) -> dict[str, object]:
        """Machine-readable form (stable keys, JSON-safe values)."""
        return {
            "parent_id": self.parent_id,
            "symbol": self.symbol,
            "side": "buy" if self.side_sign > 0 else "sell",
            "algo": self.algo,
            "decided": self.decided,
            "filled": self.filled,
            "decision_price": self.decision_price,
            "start_price": self.start_price,
            "end_price": self.end_price,
            "average_price": self.average_price,
            "interval_vwap": self.interval_vwap,
            "delay": self.delay,
            "trading": self.trading,
            "opportunity": self.opportunity,
            "fees": self.fees,
            "total": self.total,
            "decimals": self.decimals,
            "arrival_slippage_bps": self.arrival_slippage_bps,
            "vwap_performance_bps": self.vwap_performance_bps,
            "shortfall_bps": self.shortfall_bps,
            "delay_bps": self.delay_bps,
            "trading_bps": self.trading_bps,
            "opportunity_bps": self.opportunity_bps,
            "fees_bps": self.fees_bps,
            "impact_model_bps": self.impact_model_bps,
            "impact_realized_bps": self.impact_realized_bps,
            "grade": self.grade,
        }


def realised_impact_bps(
    side_sign: int, executions: list[Execution], half_spread_bps: float
) -> float | None:
    """What our own trading moved the price we paid, in bps (docs/cost-model.md §5).

    Each execution against the market's price when it traded (the average
    price of the bar it traded in, a price nobody's order moved), quantity-
    weighted, less the half spread the model prices apart: the same quantity
    the model's ``η·σ·ρ^β`` predicts. The arrival-to-end move is *not* impact:
    it is the market's drift (and the strategy's alpha) over the order's life.
    ``None`` when some execution carries no reference.
    """
    if not executions or any(e.reference is None for e in executions):
        return None
    notional = sum(e.quantity * (e.reference or 0) for e in executions)
    if notional <= 0:
        return None
    moved = sum(e.quantity * (e.price - (e.reference or 0)) for e in executions)
    return side_sign * moved / notional * 1e4 - half_spread_bps


def analyse(
    *,
    parent_id: str,
    symbol: str,
    side_sign: int,
    decided: int,
    decision_price: int,
    start_price: int,
    end_price: int,
    executions: list[Execution],
    interval_vwap: float | None,
    impact_model_bps: float,
    half_spread_bps: float = 0.0,
    decimals: int = 0,
    algo: str = "",
) -> TcaReport:
    s = side_sign
    filled = sum(e.quantity for e in executions)
    fees_units = sum(e.fee for e in executions) * 10**decimals  # to units × nano
    traded = sum(e.quantity * e.price for e in executions)
    delay = s * filled * (start_price - decision_price)
    trading = s * (traded - filled * start_price)
    opportunity = s * (decided - filled) * (end_price - decision_price)
    total = delay + trading + opportunity + fees_units
    paper = s * decided * (end_price - decision_price)
    real = s * (filled * end_price - traded) - fees_units
    paper_minus_real = paper - real
    denominator = decided * decision_price  # decision notional, units × nano

    def to_bps(value: int) -> float:
        return value / denominator * 1e4 if denominator else 0.0

    average = traded / filled if filled else None
    arrival = (
        s * (average - decision_price) / decision_price * 1e4
        if average is not None and decision_price > 0
        else None
    )
    vwap_perf = (
        s * (average - interval_vwap) / interval_vwap * 1e4
        if average is not None and interval_vwap
        else None
    )
    shortfall_bps = to_bps(total)
    realized = realised_impact_bps(s, executions, half_spread_bps)
    if realized is None:  # no per-fill reference: the move from arrival to the end
        realized = s * (end_price - start_price) / start_price * 1e4 if start_price else 0.0
    return TcaReport(
        parent_id=parent_id,
        symbol=symbol,
        side_sign=s,
        decided=decided,
        filled=filled,
        decision_price=decision_price,
        start_price=start_price,
        end_price=end_price,
        average_price=average,
        interval_vwap=interval_vwap,
        delay=delay,
        trading=trading,
        opportunity=opportunity,
        fees=fees_units,
        total=total,
        paper_minus_real=paper_minus_real,
        decimals=decimals,
        arrival_slippage_bps=arrival,
        vwap_performance_bps=vwap_perf,
        shortfall_bps=shortfall_bps,
        delay_bps=to_bps(delay),
        trading_bps=to_bps(trading),
        opportunity_bps=to_bps(opportunity),
        fees_bps=to_bps(fees_units),
        impact_model_bps=impact_model_bps,
        impact_realized_bps=realized,
        grade=grade(shortfall_bps),
        algo=algo,
    )
