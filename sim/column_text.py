"""CSV text for whole columns at once: the outputs' bulk formatting.

Why: a run writes a row per bar to ``bars.csv`` and ``signals.csv`` — for
``universe30`` over 20 days, 234,000 rows and ~2 million prices — and
formatting them one cell at a time in Python (``format_price``,
``format_time``, ``csv.writer``) was about a fifth of the whole run. Here each
column is formatted by pyarrow's compute kernels (prices, as exact integer
arithmetic on the nano-units) or numpy (timestamps), and rows are joined in
C. The text is exactly what the per-cell functions print; property tests hold
the two equal, and anything the kernels cannot take (a price beyond int64, a
cell that would need CSV quoting) goes the per-cell way.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import TextIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from core.money import PRICE_SCALE, format_price
from sim.timefmt import format_time

_INT64_MIN = -(2**63)


def price_texts(values: Sequence[int | None]) -> pa.Array:
    """``format_price`` of each value (``""`` for ``None``), as a string array."""
    try:
        numbers = pa.array(values, type=pa.int64())
    except (pa.ArrowInvalid, OverflowError, TypeError):
        return pa.array([_price_or_blank(v) for v in values], type=pa.string())
    if len(numbers) and pc.min(numbers).as_py() == _INT64_MIN:  # |min| is not an int64
        return pa.array([_price_or_blank(v) for v in values], type=pa.string())
    magnitude = pc.abs(numbers)
    whole = pc.divide(magnitude, PRICE_SCALE)  # integer division: both are int64
    frac = pc.subtract(magnitude, pc.multiply(whole, PRICE_SCALE))
    whole_text = pc.cast(whole, pa.string())
    digits = pc.utf8_lpad(pc.cast(frac, pa.string()), width=9, padding="0")
    with_frac = pc.binary_join_element_wise(whole_text, pc.utf8_rtrim(digits, characters="0"), ".")
    text = pc.if_else(pc.equal(frac, 0), whole_text, with_frac)
    text = pc.if_else(pc.less(numbers, 0), pc.binary_join_element_wise("-", text, ""), text)
    return pc.fill_null(text, "")


def _price_or_blank(value: int | None) -> str:
    return "" if value is None else format_price(value)


def time_texts(times_ns: Sequence[int]) -> pa.Array:
    """``format_time`` of each timestamp, as a string array.

    Whole seconds (every bar and signal) through numpy's datetime formatting;
    the rare time with sub-second digits, or one numpy cannot hold, per cell.
    """
    try:
        ns = np.asarray(times_ns, dtype=np.int64)
    except OverflowError:
        return pa.array([format_time(t) for t in times_ns], type=pa.string())
    seconds = ns // 1_000_000_000
    whole = seconds * 1_000_000_000 == ns
    text = np.char.add(np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s"), "Z")
    result = text.astype(object)
    for i in np.flatnonzero(~whole | (seconds < -62_135_596_800) | (seconds > 253_402_300_799)):
        result[i] = format_time(int(ns[i]))  # sub-second, or outside years 1..9999
    return pa.array(result, type=pa.string())


def float_texts(values: Iterable[float | None]) -> pa.Array:
    """``repr`` of each float (the shortest exact text), ``""`` for ``None``."""
    return pa.array(["" if v is None else repr(v) for v in values], type=pa.string())


def plain_texts(values: Iterable[object]) -> pa.Array:
    return pa.array([str(v) for v in values], type=pa.string())


def write_columns(stream: TextIO, header: Sequence[str], columns: Sequence[pa.Array]) -> None:
    """Rows of the given string columns, exactly as ``csv.writer`` writes them.

    Rows are joined by pyarrow when no cell needs quoting (the callers' cells
    are numbers, times, tickers and fixed words); a table with a cell that
    might (a comma, quote or line break) or a single column (where an empty
    cell is written ``""``) goes through ``csv.writer`` itself.
    """
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    if not columns or not len(columns[0]):
        return
    if len(columns) == 1 or any(_may_need_quotes(c) for c in columns):
        writer.writerows(zip(*(c.to_pylist() for c in columns), strict=True))
        return
    rows = pc.binary_join_element_wise(*columns, ",")
    stream.write("\n".join(rows.to_pylist()))
    stream.write("\n")


def _may_need_quotes(column: pa.Array) -> bool:
    return bool(pc.any(pc.match_substring_regex(column, r'[,"\r\n]')).as_py())
