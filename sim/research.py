"""From a finished run to its research numbers: analytics, benchmark, trade list.

The imperative half of ``sim.analytics``: it pulls plain rows out of a
``RunResult`` (fills, bars, exit signals, TCA), calls the pure functions,
and shapes ``trades.csv``, ``benchmark.csv`` and the ``analytics`` and
``display`` blocks of ``summary.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.cells import as_float, as_int
from sim import humanize, stops_report
from sim.analytics import Benchmark, ExitCue, FillRow, Trade, analyse, prices_from
from sim.runner import RunResult
from sim.timefmt import format_time

TRADE_COLUMNS = (
    "symbol",
    "side",
    "entry_time",
    "entry_price",
    "exit_time",
    "exit_price",
    "qty",
    "pnl",
    "return",
    "holding_minutes",
    "mae",
    "mfe",
    "exit_reason",
    "stop",
    "r_multiple",
)
NANO = 1e-9


@dataclass(frozen=True)
class Research:
    metrics: dict[str, object]
    benchmark: Benchmark
    trades: list[Trade]


def _sign(side: object) -> int:
    text = str(getattr(side, "value", side)).lower()
    return 1 if text in ("buy", "b", "1") else -1


def slippage_vs_arrival(tca: list[dict[str, object]]) -> float:
    """Dollars paid against each parent's arrival price: Σ s·(avg − arrival)·filled."""
    total = 0.0
    for record in tca:
        average, arrival = record.get("average_price"), record.get("start_price")
        filled = as_int(record.get("filled") or 0)
        if average is None or arrival is None or not filled:
            continue
        total += _sign(record.get("side")) * (as_float(average) - as_float(arrival)) * filled * NANO
    return total


def research(result: RunResult, risk_free: float = 0.0) -> Research:
    fills = [
        FillRow(f.time_ns, f.symbol, f.quantity * f.side.sign, f.price, f.fee)
        for f, _ in result.fills
    ]
    prices = prices_from([(b.time_ns, b.symbol, b.high, b.low, b.close) for b in result.bars_seen])
    cues = [
        ExitCue(s.time_ns, s.symbol, s.reason.value)
        for s in result.signals
        if s.signal.value in ("EXIT_LONG", "EXIT_SHORT") and s.reason is not None
    ]
    times = [t for t, _, _ in result.equity]
    equity = [e * NANO for _, e, _ in result.equity]
    metrics, bench, trades = analyse(
        result.spec.initial_cash * NANO,
        times,
        equity,
        fills,
        prices,
        cues,
        result.spec.feed.period_ns,
        slippage_vs_arrival(result.tca),
        risk_free,
        {what: amount * NANO for what, amount in result.financing.items()},
    )
    trades = stops_report.annotate(result, trades)
    metrics["stops"] = stops_report.distribution(result, trades)
    for key in ("drawdown_peak", "drawdown_trough", "drawdown_recovery"):
        value = metrics[key]
        metrics[key] = None if value is None else format_time(as_int(value))
    return Research(metrics, bench, trades)


def trade_rows(trades: list[Trade]) -> list[tuple[object, ...]]:
    return [
        (
            t.symbol,
            t.side,
            format_time(t.entry_ns),
            f"{t.entry_price:.4f}",
            format_time(t.exit_ns),
            f"{t.exit_price:.4f}",
            t.quantity,
            f"{t.pnl:.2f}",
            f"{t.ret:.6f}",
            t.holding_ns // 60_000_000_000,
            f"{t.mae:.6f}",
            f"{t.mfe:.6f}",
            t.exit_reason,
            "" if t.stop is None else f"{t.stop:.4f}",
            "" if t.r_multiple is None else f"{t.r_multiple:.4f}",
        )
        for t in trades
    ]


def benchmark_rows(bench: Benchmark) -> list[tuple[str, str]]:
    return [
        (format_time(int(t)), f"{e:.2f}") for t, e in zip(bench.times_ns, bench.equity, strict=True)
    ]


def display(summary: Mapping[str, object]) -> dict[str, str]:
    """The human text of every headline number (terminal, report and summary.json agree)."""
    a = summary.get("analytics") or {}
    assert isinstance(a, Mapping)
    bench = a.get("benchmark") or {}
    exposure = a.get("exposure") or {}
    costs = a.get("costs") or {}
    assert isinstance(bench, Mapping) and isinstance(exposure, Mapping)
    assert isinstance(costs, Mapping)
    alerts = summary.get("alerts") or {}
    assert isinstance(alerts, Mapping)
    out = {
        "initial_equity": humanize.money(summary.get("initial_equity")),
        "final_equity": humanize.money(summary.get("final_equity")),
        "pnl": humanize.money(summary.get("pnl")),
        "return": humanize.percent(summary.get("return")),
        "max_drawdown": humanize.percent(-as_float(summary.get("max_drawdown") or 0)),
        "hit_rate": humanize.percent(summary.get("hit_rate"), signed=False),
        "bars": humanize.count(summary.get("bars")),
        "orders": humanize.count(summary.get("orders")),
        "fills": humanize.count(summary.get("fills")),
        "trades": humanize.count(summary.get("trades")),
        "invariant_checks": humanize.count(summary.get("invariant_checks")),
        "alerts": humanize.count(sum(int(v) for v in alerts.values())),
    }
    if a:
        out.update(
            {
                "cagr": humanize.percent(a.get("cagr")),
                "annual_volatility": humanize.percent(a.get("annual_volatility"), signed=False),
                "sharpe": humanize.ratio(a.get("sharpe")),
                "sortino": humanize.ratio(a.get("sortino")),
                "calmar": humanize.ratio(a.get("calmar")),
                "risk_free_rate": humanize.percent(a.get("risk_free_rate"), signed=False),
                "max_drawdown_daily": humanize.percent(a.get("max_drawdown_daily")),
                "drawdown_dates": _drawdown_dates(a),
                "gross_exposure": f"{humanize.percent(exposure.get('gross_mean'), False)} mean, "
                f"{humanize.percent(exposure.get('gross_max'), False)} max",
                "net_exposure": f"{humanize.percent(exposure.get('net_mean'))} mean, "
                f"{humanize.percent(exposure.get('net_max'))} max",
                "turnover": f"{humanize.ratio(a.get('turnover'))}× "
                f"({humanize.ratio(a.get('turnover_annual'))}× a year)",
                "fees": humanize.fee(costs.get("fees")),
                "slippage_vs_arrival": humanize.money(costs.get("slippage_vs_arrival")),
                "costs_total": humanize.money(costs.get("total")),
                "benchmark_return": humanize.percent(bench.get("return")),
                "benchmark_final_equity": humanize.money(bench.get("final_equity")),
                "benchmark_max_drawdown": humanize.percent(bench.get("max_drawdown_daily")),
                "benchmark_costs": humanize.money(bench.get("costs")),
                "excess_return": humanize.percent(a.get("excess_return")),
                "alpha": humanize.percent(a.get("alpha")),
                "beta": humanize.ratio(a.get("beta")),
            }
        )
    return out


def _drawdown_dates(a: Mapping[str, object]) -> str:
    peak, trough, recovery = (
        a.get(k) for k in ("drawdown_peak", "drawdown_trough", "drawdown_recovery")
    )
    if trough is None:
        return "no drawdown"
    start = str(peak)[:10] if peak else "start"
    end = str(recovery)[:10] if recovery else "not recovered"
    return f"{start} → {str(trough)[:10]} → {end} ({a.get('drawdown_days')} trading days)"


__all__ = ["TRADE_COLUMNS", "Research", "benchmark_rows", "display", "research", "trade_rows"]
