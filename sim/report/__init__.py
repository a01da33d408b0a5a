"""``report.html``: a run as interactive charts and tables, built from its files alone.

The report is built *only* from the files a run writes into its output
directory (bars, signals, orders, fills, TCA, equity, benchmark, trades CSVs
and summary.json), so it can be regenerated for any past run and never
depends on the runner's in-memory state. It is one self-contained HTML file:
plotly.js's basic partial bundle is embedded (sim/vendor/plotly/, no CDN, works
offline), each chart is plotly JSON in the page, the trade list is a table
sortable by any column. It opens fast on big runs: the text paints before any
script, and charts are drawn lazily (those in view first, the rest when idle).

At the top it says what the market was: a seeded scenario is flagged as
synthetic (built with the patterns the strategy trades, so its return tests
the machinery, not an edge); a replay says which data, dates and adjustment.

Determinism: the same inputs give byte-identical HTML (chart ids are
numbered, JSON is written with fixed separators). Big runs stay light: each
plotted series is decimated to ≤ ~2000 points keeping every bucket's min and
max; the CSVs keep every row.

Where each part lives: ``files`` reads the run directory; ``aggregates`` is the pure
arithmetic (decimation, ranking, TCA groups); ``charts`` builds the plotly figures;
``tables`` and ``markup`` the HTML fragments; ``page`` puts the sections in order and
writes ``report.html``. This package re-exports the names callers use.
"""

from sim.report.aggregates import (
    MAX_POINTS,
    TcaGroup,
    downsample_indices,
    rank_symbols,
    tca_by_algo,
    tca_by_venue,
)
from sim.report.charts import FillMarker, fill_markers, line_points
from sim.report.files import RunFiles, read_run
from sim.report.page import BASIC_BUNDLE, BUNDLES, MAX_SYMBOLS, render_html, write_report

__all__ = [
    "BASIC_BUNDLE",
    "BUNDLES",
    "MAX_POINTS",
    "MAX_SYMBOLS",
    "FillMarker",
    "RunFiles",
    "TcaGroup",
    "downsample_indices",
    "fill_markers",
    "line_points",
    "rank_symbols",
    "read_run",
    "render_html",
    "tca_by_algo",
    "tca_by_venue",
    "write_report",
]
