"""Everything a run leaves behind in ``--out DIR`` (issue 4, item 8).

CSV money is plain decimals, sides ``BUY``/``SELL``; ``summary.json`` holds
the numbers a person checks first (and CI compares across runs).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from core.money import format_price
from sim.bars_csv import SIGNAL_COLUMNS, signal_row, write_bars
from sim.research import TRADE_COLUMNS, Research, benchmark_rows, display, research, trade_rows
from sim.runner import RunResult
from sim.timefmt import format_time

ORDER_COLUMNS = (
    "order_id",
    "parent_id",
    "symbol",
    "side",
    "qty",
    "filled_qty",
    "avg_price",
    "algo",
    "venue",
    "status",
)
FILL_COLUMNS = (
    "time",
    "order_id",
    "parent_id",
    "symbol",
    "side",
    "qty",
    "price",
    "venue",
    "fee",
    "exec_id",
)
TCA_COLUMNS = (
    "parent_id",
    "symbol",
    "side",
    "qty",
    "filled_qty",
    "decision_price",
    "arrival_price",
    "avg_price",
    "interval_vwap",
    "arrival_bps",
    "vwap_bps",
    "is_bps",
    "delay_bps",
    "trading_bps",
    "opportunity_bps",
    "fee_bps",
    "impact_model_bps",
    "impact_realised_bps",
    "grade",
    "algo",
)


def _side(value: object) -> str:
    return str(getattr(value, "value", value)).upper()


def _nano_float(value: object) -> str:
    """A float statistic in nano-units (an average price) as a plain decimal."""
    if value is None:
        return ""
    return format(Decimal(repr(float(value))).scaleb(-9).quantize(Decimal("1E-9")).normalize(), "f")


def _bps(value: object) -> str:
    return "" if value is None else f"{float(value):.4f}"


def money(nano: int) -> str:
    return format_price(nano)


def _write(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def order_rows(result: RunResult) -> list[tuple[object, ...]]:
    engine = result.engine
    rows: list[tuple[object, ...]] = []
    for parent in engine.parents():
        filled = sum(c.filled for c in parent.children)
        notional = sum(c.filled_notional for c in parent.children)
        avg = format_price(notional // filled) if filled else ""
        algo = (
            parent.choice.algo.value if hasattr(parent.choice.algo, "value") else parent.choice.algo
        )
        rows.append(
            (
                parent.parent_id,
                "",
                parent.symbol,
                _side(parent.side),
                parent.quantity,
                filled,
                avg,
                algo,
                "",
                parent.state,
            )
        )
        for child in parent.children:
            child_avg = format_price(child.filled_notional // child.filled) if child.filled else ""
            rows.append(
                (
                    child.client_order_id,
                    parent.parent_id,
                    child.symbol,
                    _side(child.side),
                    child.quantity,
                    child.filled,
                    child_avg,
                    algo,
                    child.venue or "",
                    child.status.value,
                )
            )
    return rows


def summary(result: RunResult, found: Research | None = None) -> dict[str, object]:
    """The headline numbers; ``found`` (the research numbers) is computed when not given."""
    engine = result.engine
    initial = result.spec.initial_cash
    final = engine.equity()
    pnl = final - initial
    peak = initial
    drawdown = 0.0
    for _, equity, _ in result.equity:
        peak = max(peak, equity)
        if peak > 0:
            drawdown = max(drawdown, (peak - equity) / peak)
    trades, wins = _round_trips(result)
    data: dict[str, object] = {
        "run_hash": result.run_hash,
        "seed": result.spec.seed,
        "scenario": result.spec.scenario,
        "data": result.spec.provenance,
        "bars": len(result.bars_seen),
        "orders": len(engine.orders()),
        "parents": len(engine.parents()),
        "fills": len(result.fills),
        "initial_equity": money(initial),
        "final_equity": money(final),
        "pnl": money(pnl),
        "return": round(pnl / initial, 10),
        "max_drawdown": round(drawdown, 10),
        "trades": trades,
        "hit_rate": round(wins / trades, 10) if trades else None,
        "invariant_checks": result.invariant_checks,
        "violation": None if result.violation is None else result.violation.what,
        "crashes_recovered": result.crashes,
        "faults": dict(sorted(result.faults_seen.items())),
        "alerts": dict(sorted(result.alerts.items())),
        "journal_lines": result.journal_lines,
        "positions": dict(sorted(engine.positions().items())),
    }
    found = found if found is not None else research(result)
    data["analytics"] = found.metrics
    data["display"] = display(data)
    return data


def _round_trips(result: RunResult) -> tuple[int, int]:
    """Trades = a position opened from flat and brought back to flat; a win made money."""
    position: dict[str, int] = {}
    cash_flow: dict[str, int] = {}
    trades = wins = 0
    for fill, _ in result.fills:
        signed = fill.quantity * fill.side.sign
        before = position.get(fill.symbol, 0)
        after = before + signed
        cash_flow[fill.symbol] = cash_flow.get(fill.symbol, 0) - signed * fill.price - fill.fee
        position[fill.symbol] = after
        if before != 0 and (after == 0 or (after > 0) != (before > 0)):
            trades += 1
            wins += cash_flow[fill.symbol] > 0
            cash_flow[fill.symbol] = 0
    return trades, wins


def write_outputs(result: RunResult, out_dir: Path, risk_free: float = 0.0) -> dict[str, object]:
    out_dir.mkdir(parents=True, exist_ok=True)
    found = research(result, risk_free)
    _write(out_dir / "trades.csv", TRADE_COLUMNS, trade_rows(found.trades))
    _write(out_dir / "benchmark.csv", ("time", "equity"), benchmark_rows(found.benchmark))
    with (out_dir / "bars.csv").open("w", newline="", encoding="utf-8") as stream:
        write_bars(stream, result.bars_seen)
    _write(out_dir / "signals.csv", SIGNAL_COLUMNS, (signal_row(s) for s in result.signals))
    _write(out_dir / "orders.csv", ORDER_COLUMNS, order_rows(result))
    _write(
        out_dir / "fills.csv",
        FILL_COLUMNS,
        (
            (
                format_time(f.time_ns),
                f.client_order_id,
                parent or "",
                f.symbol,
                _side(f.side),
                f.quantity,
                money(f.price),
                f.venue,
                money(f.fee),
                f.exec_id,
            )
            for f, parent in result.fills
        ),
    )
    _write(out_dir / "tca.csv", TCA_COLUMNS, (_tca_row(r) for r in result.tca))
    _write(
        out_dir / "equity.csv",
        ("time", "equity", "cash"),
        ((format_time(t), money(e), money(c)) for t, e, c in result.equity),
    )
    data = summary(result, found)
    (out_dir / "summary.json").write_text(
        json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    from sim.report import write_report  # matplotlib is heavy: only when writing a report

    write_report(out_dir)
    return data


def _tca_row(record: dict[str, object]) -> tuple[object, ...]:
    def price(key: str) -> str:
        value = record.get(key)
        return "" if value is None else money(int(value))  # type: ignore[arg-type]

    return (
        record["parent_id"],
        record["symbol"],
        _side(record["side"]),
        record["decided"],
        record["filled"],
        price("decision_price"),
        price("start_price"),
        _nano_float(record.get("average_price")),
        _nano_float(record.get("interval_vwap")),
        _bps(record.get("arrival_slippage_bps")),
        _bps(record.get("vwap_performance_bps")),
        _bps(record.get("shortfall_bps")),
        _bps(record.get("delay_bps")),
        _bps(record.get("trading_bps")),
        _bps(record.get("opportunity_bps")),
        _bps(record.get("fees_bps")),
        _bps(record.get("impact_model_bps")),
        _bps(record.get("impact_realized_bps")),
        record.get("grade", ""),
        record.get("algo", ""),
    )


__all__ = ["summary", "write_outputs"]
