"""Research analytics of a run: would it have made money, and against what.

Pure functions over plain numbers (numpy), no I/O: the equity curve, the
fills, the bars and the signals in; metrics, a benchmark curve and the trade
list out. The conventions are empyrical's (Quantopian's, kept up as
empyrical-reloaded) so a quant reading the numbers knows exactly what they
mean, and the tests hold them to that library to 1e-9:

- returns are *daily*: the equity at each session's last mark, the first
  return measured from the initial capital; 252 periods a year;
- CAGR = (Π(1+r))^(252/n) − 1; volatility = std(r, ddof=1)·√252;
- Sharpe = mean(r − rf)/std(r − rf, ddof=1)·√252 with rf the daily
  equivalent of the stated annual risk-free rate;
- Sortino = mean(r − rf)·252 / (√mean(min(r − rf, 0)²)·√252);
- max drawdown on the daily curve anchored at the initial capital; Calmar =
  CAGR / |max drawdown|;
- beta = cov(r, b)/var(b) (population moments), alpha = (1 + mean(r − rf −
  β(b − rf)))^252 − 1, against the buy-and-hold benchmark's daily returns.

Floats are fine here: these are statistics *about* money, never money the
core books. Money shown to people is rounded to cents at the edge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PERIODS_PER_YEAR = 252
DAY_NS = 86_400 * 10**9
NANO = 1e-9
BENCHMARK_TAKE_FEE = 3_000_000  # nano-units per share: the lit venues' $0.0030 (venues.json)
BENCHMARK_HALF_SPREAD = 1 / 20_000  # the simulated lit venues' half spread: ~0.5 bp


@dataclass(frozen=True)
class FillRow:
    time_ns: int
    symbol: str
    signed_qty: int
    price: int  # nano-units
    fee: int  # nano-units (negative: a rebate)


@dataclass(frozen=True)
class SymbolBars:
    """One symbol's bars as columns (times UTC ns, prices in dollars), in time order."""

    times: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray


Prices = dict[str, SymbolBars]


def prices_from(rows: Sequence[tuple[int, str, int, int, int]]) -> Prices:
    """(time_ns, symbol, high, low, close in nano-units) rows → per-symbol columns."""
    grouped: dict[str, list[tuple[int, int, int, int]]] = {}
    for time_ns, symbol, high, low, close in rows:
        grouped.setdefault(symbol, []).append((time_ns, high, low, close))
    out: Prices = {}
    for symbol, items in sorted(grouped.items()):
        table = np.array(items, dtype=np.float64)
        order = np.argsort(table[:, 0], kind="stable")
        table = table[order]
        times = np.array([items[i][0] for i in order], dtype=np.int64)
        out[symbol] = SymbolBars(times, table[:, 1] * NANO, table[:, 2] * NANO, table[:, 3] * NANO)
    return out


@dataclass(frozen=True)
class ExitCue:
    """An agent's EXIT (or reversing ENTER) signal: why a position was closed."""

    time_ns: int
    symbol: str
    reason: str  # "stop" | "level"


@dataclass(frozen=True)
class Trade:
    symbol: str
    side: str  # LONG | SHORT
    entry_ns: int
    entry_price: float  # dollars, quantity-weighted
    exit_ns: int
    exit_price: float
    quantity: int
    pnl: float  # dollars, after fees
    ret: float  # pnl / entry notional
    holding_ns: int
    mae: float  # worst excursion against the position, fraction of entry price (≤ 0)
    mfe: float  # best excursion in its favour (≥ 0)
    exit_reason: str  # stop | target | reversal | open at end
    stop: float | None = None  # the entry's protective stop, dollars (sim.stops_report)
    r_multiple: float | None = None  # pnl / the risk to that stop (−1 = lost exactly the stop)


# ------------------------------------------------------------------ daily returns
def session_day(time_ns: np.ndarray) -> np.ndarray:
    """UTC day number of each mark; a mark at a bar's end belongs to the bar (−1 ns)."""
    return (np.asarray(time_ns, dtype=np.int64) - 1) // DAY_NS


def daily_closes(
    times_ns: Sequence[int] | np.ndarray, equity: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(day numbers, equity at each day's last mark)."""
    t = np.asarray(times_ns, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    if len(t) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.float64)
    days = session_day(t)
    last = np.flatnonzero(np.r_[days[1:] != days[:-1], True])
    return days[last], e[last]


def daily_returns(initial: float, closes: np.ndarray) -> np.ndarray:
    levels = np.r_[initial, closes]
    return levels[1:] / levels[:-1] - 1.0


def daily_risk_free(annual: float) -> float:
    return (1.0 + annual) ** (1.0 / PERIODS_PER_YEAR) - 1.0


# ------------------------------------------------------------------ metrics
def cagr(returns: np.ndarray) -> float:
    if len(returns) < 1:
        return math.nan
    growth = float(np.nanprod(returns + 1.0))
    return growth ** (PERIODS_PER_YEAR / len(returns)) - 1.0


def annual_volatility(returns: np.ndarray) -> float:
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns, ddof=1)) * math.sqrt(PERIODS_PER_YEAR)


def sharpe(returns: np.ndarray, rf_daily: float = 0.0) -> float:
    if len(returns) < 2:
        return math.nan
    excess = returns - rf_daily
    std = float(np.std(excess, ddof=1))
    if excess.max() == excess.min():
        std = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(excess.mean(), std)) * math.sqrt(PERIODS_PER_YEAR)


def sortino(returns: np.ndarray, rf_daily: float = 0.0) -> float:
    if len(returns) < 2:
        return math.nan
    excess = returns - rf_daily
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) * math.sqrt(PERIODS_PER_YEAR)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.divide(excess.mean() * PERIODS_PER_YEAR, downside))


def drawdown_series(returns: np.ndarray) -> np.ndarray:
    # empyrical's exact arithmetic (a curve from 100, running peak, relative fall),
    # so tiny drawdowns agree to the last bits too
    levels = np.r_[100.0, np.cumprod(returns + 1.0) * 100.0]
    peaks = np.fmax.accumulate(levels)
    return ((levels - peaks) / peaks)[1:]


def max_drawdown(returns: np.ndarray) -> float:
    return float(drawdown_series(returns).min()) if len(returns) else math.nan


def calmar(returns: np.ndarray) -> float:
    worst = max_drawdown(returns)
    if not worst < 0:
        return math.nan
    value = cagr(returns) / abs(worst)
    return math.nan if math.isinf(value) else value


def alpha_beta(
    returns: np.ndarray, benchmark: np.ndarray, rf_daily: float = 0.0
) -> tuple[float, float]:
    if len(returns) < 2 or len(benchmark) < 2:
        return math.nan, math.nan
    centred = benchmark - benchmark.mean()
    variance = float(np.mean(centred**2))
    if variance < 1e-30:
        return math.nan, math.nan
    beta = float(np.mean(centred * returns)) / variance
    residual = (returns - rf_daily) - beta * (benchmark - rf_daily)
    alpha = (1.0 + float(residual.mean())) ** PERIODS_PER_YEAR - 1.0
    return alpha, beta


@dataclass(frozen=True)
class Drawdown:
    depth: float  # ≤ 0
    peak_ns: int | None  # the high before the fall (None: the initial capital)
    trough_ns: int | None
    recovery_ns: int | None  # first mark back at the peak; None: not recovered
    days: int  # trading days from peak to recovery (or to the end)


def drawdown_details(times_ns: np.ndarray, equity: np.ndarray, initial: float) -> Drawdown:
    """The deepest fall of a curve (anchored at ``initial``) with its dates."""
    if len(equity) == 0:
        return Drawdown(0.0, None, None, None, 0)
    levels = np.r_[initial, equity]
    peaks = np.maximum.accumulate(levels)
    depth = levels / peaks - 1.0
    trough = int(np.argmin(depth))
    if depth[trough] >= 0:
        return Drawdown(0.0, None, None, None, 0)
    peak = int(np.flatnonzero(levels[: trough + 1] == peaks[trough])[-1])
    after = np.flatnonzero(levels[trough:] >= peaks[trough])
    recovery = trough + int(after[0]) if len(after) else None

    def at(i: int | None) -> int | None:
        return None if i is None or i == 0 else int(times_ns[i - 1])

    days = session_day(np.asarray(times_ns))
    first = days[peak - 1] if peak > 0 else days[0] - 1
    last = days[(recovery if recovery is not None else len(levels) - 1) - 1]
    span = len(np.unique(days[(days > first) & (days <= last)]))
    return Drawdown(float(depth[trough]), at(peak), at(trough), at(recovery), span)


# ------------------------------------------------------------------ positions
def _last_close_at(bars: Prices, symbols: Sequence[str], times: np.ndarray) -> np.ndarray:
    """(len(times), len(symbols)) last close at or before each time, NaN before the first bar."""
    out = np.full((len(times), len(symbols)), np.nan)
    for j, symbol in enumerate(symbols):
        mine = bars.get(symbol)
        if mine is None or len(mine.times) == 0:
            continue
        index = np.searchsorted(mine.times, times, side="right") - 1
        ok = index >= 0
        out[ok, j] = mine.close[index[ok]]
    return out


def exposure(
    times_ns: np.ndarray,
    equity: np.ndarray,
    fills: Sequence[FillRow],
    bars: Prices,
    period_ns: int,
) -> dict[str, float]:
    """Gross Σ|q·p| and net Σq·p over equity, at every equity mark: mean and max.

    A mark at time t is the state after the bar that ended at t, so it values
    positions at closes of bars starting before t and counts fills up to t.
    """
    if len(times_ns) == 0:
        return {"gross_mean": 0.0, "gross_max": 0.0, "net_mean": 0.0, "net_max": 0.0}
    symbols = sorted(set(bars) | {f.symbol for f in fills})
    marks = np.asarray(times_ns, dtype=np.int64)
    prices = _last_close_at(bars, symbols, marks - period_ns)
    positions = np.zeros((len(marks), len(symbols)))
    for j, symbol in enumerate(symbols):
        mine = [f for f in fills if f.symbol == symbol]
        if not mine:
            continue
        stamp = np.array([f.time_ns for f in mine], dtype=np.int64)
        held = np.cumsum([f.signed_qty for f in mine]).astype(np.float64)
        index = np.searchsorted(stamp, marks, side="right") - 1
        positions[:, j] = np.where(index >= 0, held[np.maximum(index, 0)], 0.0)
    value = np.nan_to_num(positions * prices)
    gross = np.abs(value).sum(axis=1) / equity
    net = value.sum(axis=1) / equity
    return {
        "gross_mean": float(gross.mean()),
        "gross_max": float(gross.max()),
        "net_mean": float(net.mean()),
        "net_max": float(net[np.argmax(np.abs(net))]),
    }


# ------------------------------------------------------------------ benchmark
@dataclass(frozen=True)
class Benchmark:
    times_ns: np.ndarray
    equity: np.ndarray
    shares: dict[str, int]
    entry_price: dict[str, float]  # dollars paid per share, spread included
    costs: float  # dollars: half spread + take fee on entry


def buy_and_hold(bars: Prices, initial: float, times_ns: np.ndarray, period_ns: int) -> Benchmark:
    """Equal weight, same capital, same costs: each symbol gets initial/N dollars,
    buys whole shares at its first bar's close plus the simulated lit venues'
    half spread, pays their $0.0030/share take fee, holds to the end; the
    cash not invested stays cash. Valued at each equity mark."""
    symbols = sorted(s for s, b in bars.items() if len(b.times))
    marks = np.asarray(times_ns, dtype=np.int64)
    if not symbols:
        return Benchmark(marks, np.full(len(marks), initial), {}, {}, 0.0)
    budget = initial / len(symbols)
    shares: dict[str, int] = {}
    paid: dict[str, float] = {}
    costs = 0.0
    for symbol in symbols:
        close = float(bars[symbol].close[0])
        price = close * (1 + BENCHMARK_HALF_SPREAD)
        fee = BENCHMARK_TAKE_FEE * NANO
        quantity = int(budget // (price + fee))
        shares[symbol] = quantity
        paid[symbol] = price
        costs += quantity * (price - close + fee)
    prices = _last_close_at(bars, symbols, marks - period_ns)
    equity = np.full(len(marks), initial)
    for j, symbol in enumerate(symbols):
        spent = shares[symbol] * (paid[symbol] + BENCHMARK_TAKE_FEE * NANO)
        held = ~np.isnan(prices[:, j])
        equity[held] += shares[symbol] * prices[held, j] - spent
    return Benchmark(marks, equity, shares, paid, costs)


# ------------------------------------------------------------------ trades
def round_trips(
    fills: Sequence[FillRow],
    bars: Prices,
    cues: Sequence[ExitCue],
    end_ns: int | None = None,
) -> list[Trade]:
    """Flat → position → flat per symbol (a flip closes one trade and opens the next).

    Fees are split pro rata by quantity on a flipping fill. A position still
    open at the end is a trade marked at the last close, exit reason "open at end".
    """
    cue_times: dict[str, list[tuple[int, str]]] = {}
    for cue in cues:
        cue_times.setdefault(cue.symbol, []).append((cue.time_ns, cue.reason))
    trades: list[Trade] = []
    state: dict[str, dict[str, float]] = {}
    for fill in sorted(fills, key=lambda f: f.time_ns):
        remaining = fill.signed_qty
        fee_per = fill.fee * NANO / abs(fill.signed_qty) if fill.signed_qty else 0.0
        price = fill.price * NANO
        while remaining:
            open_ = state.get(fill.symbol)
            if open_ is None or open_["qty"] == 0:
                state[fill.symbol] = {
                    "qty": remaining,
                    "entry_ns": fill.time_ns,
                    "entry_cost": remaining * price,
                    "opened": abs(remaining),
                    "closed": 0,
                    "exit_value": 0.0,
                    "fees": abs(remaining) * fee_per,
                    "last_ns": fill.time_ns,
                }
                remaining = 0
                continue
            held = int(open_["qty"])
            if (held > 0) == (remaining > 0):  # adding
                open_["qty"] += remaining
                open_["entry_cost"] += remaining * price
                open_["opened"] += abs(remaining)
                open_["fees"] += abs(remaining) * fee_per
                remaining = 0
                continue
            closing = min(abs(remaining), abs(held))
            step = closing if remaining > 0 else -closing
            open_["qty"] += step
            open_["closed"] += closing
            open_["exit_value"] += closing * price
            open_["fees"] += closing * fee_per
            open_["last_ns"] = fill.time_ns
            remaining -= step
            if open_["qty"] == 0:
                reason = _exit_reason(cue_times.get(fill.symbol, []), open_, fill.time_ns)
                trades.append(_trade(fill.symbol, open_, bars.get(fill.symbol), reason))
                del state[fill.symbol]
    for symbol, open_ in sorted(state.items()):
        if open_["qty"] == 0:
            continue
        mine = bars.get(symbol)
        last_of = mine if mine is not None and len(mine.times) > 0 else None
        close = (
            float(last_of.close[-1]) if last_of is not None else open_["entry_cost"] / open_["qty"]
        )
        quantity = abs(open_["qty"])
        open_["closed"] += quantity
        open_["exit_value"] += quantity * close
        last_bar = int(last_of.times[-1]) if last_of is not None else int(open_["last_ns"])
        open_["last_ns"] = end_ns if end_ns is not None else last_bar
        trades.append(_trade(symbol, open_, mine, "open at end"))
    trades.sort(key=lambda t: (t.entry_ns, t.symbol))
    return trades


def _exit_reason(cues: list[tuple[int, str]], open_: dict[str, float], at_ns: int) -> str:
    """The agent's last exit cue for the symbol between entry and the closing fill."""
    chosen = None
    for when, reason in cues:
        if open_["entry_ns"] <= when <= at_ns:
            chosen = reason
    if chosen is None:
        return "engine"  # closed by the portfolio/risk layer, not an agent signal
    return {"stop": "stop", "level": "target", "reversal": "reversal"}.get(chosen, chosen)


def _trade(symbol: str, open_: dict[str, float], bars: SymbolBars | None, reason: str) -> Trade:
    long = open_["entry_cost"] > 0
    opened = open_["opened"]
    entry = abs(open_["entry_cost"]) / opened
    exit_price = open_["exit_value"] / open_["closed"]
    sign = 1 if long else -1
    pnl = sign * (open_["exit_value"] - entry * open_["closed"]) - open_["fees"]
    start, end = int(open_["entry_ns"]), int(open_["last_ns"])
    lo_i = hi_i = 0
    if bars is not None and len(bars.times):
        # bars that started from the entry bar on (the one the entry filled in) to the exit
        lo_i = max(int(np.searchsorted(bars.times, start, side="right")) - 1, 0)
        hi_i = max(int(np.searchsorted(bars.times, end, side="right")), lo_i + 1)
    if bars is not None and hi_i > lo_i:
        high = float(bars.high[lo_i:hi_i].max())
        low = float(bars.low[lo_i:hi_i].min())
        favourable, adverse = (high, low) if long else (low, high)
        mfe = max(0.0, sign * (favourable - entry) / entry)
        mae = min(0.0, sign * (adverse - entry) / entry)
    else:
        mfe = mae = 0.0
    return Trade(
        symbol=symbol,
        side="LONG" if long else "SHORT",
        entry_ns=start,
        entry_price=entry,
        exit_ns=end,
        exit_price=exit_price,
        quantity=int(opened),
        pnl=pnl,
        ret=pnl / (entry * opened) if entry else 0.0,
        holding_ns=end - start,
        mae=mae,
        mfe=mfe,
        exit_reason=reason,
    )


# ------------------------------------------------------------------ everything
def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def analyse(
    initial: float,
    times_ns: Sequence[int],
    equity: Sequence[float],
    fills: Sequence[FillRow],
    bars: Prices,
    cues: Sequence[ExitCue],
    period_ns: int,
    slippage: float,
    risk_free_annual: float = 0.0,
    financing: Mapping[str, float] | None = None,
) -> tuple[dict[str, object], Benchmark, list[Trade]]:
    """All the metrics as plain JSON-ready values (None where undefined).

    ``financing`` is what the run was charged outside its fills, in dollars
    (``short borrow``, ``margin debit interest``): costs paid, in no trade.
    """
    marks = np.asarray(times_ns, dtype=np.int64)
    curve = np.asarray(equity, dtype=np.float64)
    _days, closes = daily_closes(marks, curve)
    returns = daily_returns(initial, closes)
    rf = daily_risk_free(risk_free_annual)
    bench = buy_and_hold(bars, initial, marks, period_ns)
    _, bench_closes = daily_closes(marks, bench.equity)
    bench_returns = daily_returns(initial, bench_closes)
    alpha, beta = alpha_beta(returns, bench_returns, rf)
    day_marks = marks
    if len(marks):
        marked_days = session_day(marks)
        day_marks = marks[np.flatnonzero(np.r_[marked_days[1:] != marked_days[:-1], True])]
    dd = drawdown_details(day_marks, closes, initial)
    bench_dd = max_drawdown(bench_returns)
    trades = round_trips(fills, bars, cues, int(marks[-1]) if len(marks) else None)
    traded = sum(abs(f.signed_qty) * f.price * NANO for f in fills)
    mean_equity = float(curve.mean()) if len(curve) else initial
    fees = sum(f.fee for f in fills) * NANO
    borrow = float((financing or {}).get("short borrow", 0.0))
    interest = float((financing or {}).get("margin debit interest", 0.0))
    final = float(curve[-1]) if len(curve) else initial
    metrics: dict[str, object] = {
        "days": len(returns),
        "risk_free_rate": risk_free_annual,
        "cagr": _finite(cagr(returns)),
        "annual_volatility": _finite(annual_volatility(returns)),
        "sharpe": _finite(sharpe(returns, rf)),
        "sortino": _finite(sortino(returns, rf)),
        "calmar": _finite(calmar(returns)),
        "max_drawdown_daily": _finite(max_drawdown(returns)) or 0.0,
        "drawdown_peak": dd.peak_ns,
        "drawdown_trough": dd.trough_ns,
        "drawdown_recovery": dd.recovery_ns,
        "drawdown_days": dd.days,
        "exposure": exposure(marks, curve, fills, bars, period_ns),
        "turnover": traded / mean_equity if mean_equity else 0.0,
        "turnover_annual": (traded / mean_equity) * PERIODS_PER_YEAR / len(returns)
        if len(returns) and mean_equity
        else 0.0,
        "traded_notional": round(traded, 2),
        "costs": {
            "fees": round(fees, 2),
            "borrow": round(borrow, 2),
            "interest": round(interest, 2),
            "slippage_vs_arrival": round(slippage, 2),
            "total": round(fees + borrow + interest + slippage, 2),
        },
        "benchmark": {
            "kind": "buy-and-hold, equal weight, same capital and costs",
            "return": (float(bench.equity[-1]) / initial - 1.0) if len(bench.equity) else 0.0,
            "final_equity": round(float(bench.equity[-1]), 2) if len(bench.equity) else initial,
            "cagr": _finite(cagr(bench_returns)),
            "max_drawdown_daily": _finite(bench_dd) or 0.0,
            "sharpe": _finite(sharpe(bench_returns, rf)),
            "costs": round(bench.costs, 2),
            "shares": dict(sorted(bench.shares.items())),
        },
        "alpha": _finite(alpha),
        "beta": _finite(beta),
        "excess_return": (final - float(bench.equity[-1])) / initial if len(bench.equity) else 0.0,
        "trades": {
            "count": len(trades),
            "winners": sum(1 for t in trades if t.pnl > 0),
            "avg_return": float(np.mean([t.ret for t in trades])) if trades else None,
            "avg_holding_hours": float(np.mean([t.holding_ns for t in trades])) / 3.6e12
            if trades
            else None,
        },
    }
    return metrics, bench, trades


__all__ = [
    "Benchmark",
    "Drawdown",
    "ExitCue",
    "FillRow",
    "Prices",
    "SymbolBars",
    "Trade",
    "alpha_beta",
    "analyse",
    "annual_volatility",
    "buy_and_hold",
    "cagr",
    "calmar",
    "daily_closes",
    "daily_returns",
    "drawdown_details",
    "exposure",
    "max_drawdown",
    "prices_from",
    "round_trips",
    "sharpe",
    "sortino",
]
