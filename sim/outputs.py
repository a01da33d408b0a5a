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

from core.cells import as_int
from core.commands import OrdStatus
from core.execution.commissions import broker_for_equity
from core.execution.orders import ChildOrder
from core.money import format_price, round_half_even_div
from sim.bars_csv import write_bars, write_signal_rows
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


def _number(value: object) -> float | None:
    """A statistic of a record payload (JSON-ready ``object`` values): a number or None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"not a number: {value!r}")


def _nano_float(value: object) -> str:
    """A float statistic in nano-units (an average price) as a plain decimal."""
    number = _number(value)
    if number is None:
        return ""
    return format(Decimal(repr(number)).scaleb(-9).quantize(Decimal("1E-9")).normalize(), "f")


def _bps(value: object) -> str:
    number = _number(value)
    return "" if number is None else f"{number:.4f}"


def money(nano: int) -> str:
    return format_price(nano)


def _write(path: Path, header: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def average_price(notional: int, filled: int) -> str:
    """Σ qty × price / Σ qty to the nano-unit, half-even: one rule for every file."""
    return format_price(round_half_even_div(notional, filled)) if filled else ""


def quantity(units: int, decimals: int = 0) -> str:
    """A quantity in the instrument's units, printed the same in every file."""
    return str(units) if decimals == 0 else format(Decimal(units).scaleb(-decimals), "f")


def order_rows(result: RunResult) -> list[tuple[object, ...]]:
    """Parents, then each child under every id it had: a replaced id with status
    ``replaced`` and its quantity then; ``filled_qty`` and ``avg_price`` are the
    fills booked under that very id, so every row reconciles with fills.csv."""
    engine = result.engine
    rows: list[tuple[object, ...]] = []
    for parent in engine.parents():
        decimals = parent.instrument.qty_decimals
        filled = sum(c.filled for c in parent.children)
        notional = sum(c.filled_notional for c in parent.children)
        algo = (
            parent.choice.algo.value if hasattr(parent.choice.algo, "value") else parent.choice.algo
        )
        rows.append(
            (
                parent.parent_id,
                "",
                parent.symbol,
                _side(parent.side),
                quantity(parent.quantity, decimals),
                quantity(filled, decimals),
                average_price(notional, filled),
                algo,
                "",
                parent.state,
            )
        )
        for child in parent.children:
            rows.extend(_child_rows(child, parent.parent_id, algo, decimals))
    # Protective stops rest at the broker on their own, under no parent.
    for stop in engine.protective_stops():
        decimals = engine.instrument(stop.symbol).qty_decimals
        rows.extend(_child_rows(stop, "", "STOP", decimals))
    return rows


def _child_rows(
    child: ChildOrder, parent_id: str, algo: str, decimals: int
) -> list[tuple[object, ...]]:
    """One row per id the child had: a replaced id with status ``replaced``."""
    ids = [*(old for old, _ in child.replaced), child.client_order_id]
    sizes = [*(size for _, size in child.replaced), child.quantity]
    rows: list[tuple[object, ...]] = []
    for number, (order_id, size) in enumerate(zip(ids, sizes, strict=True)):
        mine = [f for f in child.fills if f.client_order_id == order_id]
        done = sum(f.quantity for f in mine)
        current = number == len(ids) - 1
        rows.append(
            (
                order_id,
                parent_id,
                child.symbol,
                _side(child.side),
                quantity(size, decimals),
                quantity(done, decimals),
                average_price(sum(f.quantity * f.price for f in mine), done),
                algo,
                child.venue or "",
                child.status.value if current else OrdStatus.REPLACED.value,
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
        "urgency": result.spec.urgency,
        "broker": result.spec.broker or broker_for_equity(initial),
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
        "financing": {
            "short_borrow": money(result.financing.get("short borrow", 0)),
            "debit_interest": money(result.financing.get("margin debit interest", 0)),
        },
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
    with (out_dir / "signals.csv").open("w", newline="", encoding="utf-8") as stream:
        write_signal_rows(stream, result.signals)
    _write(out_dir / "orders.csv", ORDER_COLUMNS, order_rows(result))
    decimals = {i.symbol: i.qty_decimals for i in result.spec.feed.instruments}
    traded = {
        p.parent_id: (sum(c.filled_notional for c in p.children), sum(c.filled for c in p.children))
        for p in result.engine.parents()
    }
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
                quantity(f.quantity, decimals.get(f.symbol, 0)),
                money(f.price),
                f.venue,
                money(f.fee),
                f.exec_id,
            )
            for f, parent in result.fills
        ),
    )
    _write(out_dir / "tca.csv", TCA_COLUMNS, (_tca_row(r, traded) for r in result.tca))
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


def _tca_row(
    record: dict[str, object], traded: dict[str, tuple[int, int]] | None = None
) -> tuple[object, ...]:
    def price(key: str) -> str:
        value = record.get(key)
        return "" if value is None else money(as_int(value))

    decimals = as_int(record.get("decimals") or 0)
    exact = (traded or {}).get(str(record["parent_id"]))
    average = (
        average_price(*exact) if exact is not None else _nano_float(record.get("average_price"))
    )
    return (
        record["parent_id"],
        record["symbol"],
        _side(record["side"]),
        quantity(as_int(record["decided"]), decimals),
        quantity(as_int(record["filled"]), decimals),
        price("decision_price"),
        price("start_price"),
        average,
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
