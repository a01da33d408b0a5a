"""The report's input: a run directory's CSVs and summary.json, read and validated.

Kept apart from the drawing so that what a run wrote (and how a bad file is
rejected, naming the field and value) is one place; everything downstream works on
the plain rows of ``RunFiles`` and never touches the disk.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from core.errors import BadInput

BAR_COLUMNS = ("time", "symbol", "close", "volume")
ZONE_COLUMNS = ("support_low", "support_high", "resistance_low", "resistance_high")
SIGNAL_COLUMNS = ("time", "symbol", "signal", "reason", "stop", *ZONE_COLUMNS)


# ----------------------------------------------------------------------------- reading


def _read_csv(path: Path, columns: Sequence[str] | None = None) -> list[dict[str, str]]:
    """Rows of a run CSV; a missing or zero-byte file is a run with no rows of that kind.

    ``columns`` keeps only those cells (a missing column reads as empty): the
    bars and signals files of a long run have hundreds of thousands of rows
    and the report needs a few of their columns.
    """
    if not path.exists() or path.stat().st_size == 0:
        return []
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        header = next(reader, [])
        wanted = list(columns) if columns is not None else header
        where = {name: i for i, name in enumerate(header)}
        picks = [(name, where.get(name)) for name in wanted]
        rows = []
        for cells in reader:
            if not cells:
                continue
            width = len(cells)
            rows.append(
                {name: cells[i] if i is not None and i < width else "" for name, i in picks}
            )
        return rows


def _read_summary(path: Path) -> dict[str, object]:
    if not path.exists() or path.stat().st_size == 0:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInput(str(path), exc.doc[:80], f"not JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise BadInput(str(path), type(data).__name__, "must be a JSON object")
    return data


def _number(text: str | None, field: str) -> float:
    """A float for plotting/statistics; an empty cell is absent (NaN)."""
    if text is None or text.strip() == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise BadInput(field, text, "not a number") from None


def _decimal(text: str | None, field: str) -> Decimal:
    if text is None or text.strip() == "":
        return Decimal(0)
    try:
        return Decimal(text)
    except InvalidOperation:
        raise BadInput(field, text, "not a decimal") from None


def _times(texts: Sequence[str], field: str) -> np.ndarray:
    """ISO-8601 UTC strings → datetime64[ns]; 'Z' and '+00:00' suffixes accepted."""
    cleaned = []
    for text in texts:
        t = text.strip()
        if t.endswith("Z"):
            t = t[:-1]
        elif t.endswith("+00:00"):
            t = t[:-6]
        cleaned.append(t)
    try:
        return np.array(cleaned, dtype="datetime64[ns]")
    except ValueError:
        for original, t in zip(texts, cleaned, strict=True):
            try:
                np.datetime64(t, "ns")
            except ValueError:
                raise BadInput(field, original, "not an ISO-8601 UTC time") from None
        raise


@dataclass(frozen=True, slots=True)
class RunFiles:
    """Everything the report needs, as read from the run directory."""

    bars: list[dict[str, str]]
    signals: list[dict[str, str]]
    orders: list[dict[str, str]]
    fills: list[dict[str, str]]
    tca: list[dict[str, str]]
    equity: list[dict[str, str]]
    summary: dict[str, object]
    trades: list[dict[str, str]] = field(default_factory=list)
    benchmark: list[dict[str, str]] = field(default_factory=list)


def read_run(out_dir: Path) -> RunFiles:
    return RunFiles(
        bars=_read_csv(out_dir / "bars.csv", BAR_COLUMNS),
        signals=_read_csv(out_dir / "signals.csv", SIGNAL_COLUMNS),
        orders=_read_csv(out_dir / "orders.csv"),
        fills=_read_csv(out_dir / "fills.csv"),
        tca=_read_csv(out_dir / "tca.csv"),
        equity=_read_csv(out_dir / "equity.csv"),
        summary=_read_summary(out_dir / "summary.json"),
        trades=_read_csv(out_dir / "trades.csv"),
        benchmark=_read_csv(out_dir / "benchmark.csv", ("time", "equity")),
    )
