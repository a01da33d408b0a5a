"""sim.report: the HTML report is built from a run directory's files alone."""

from __future__ import annotations

import csv
import itertools
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("plotly")

from core.errors import BadInput
from sim.report import (
    MAX_SYMBOLS,
    RunFiles,
    downsample_indices,
    fill_markers,
    line_points,
    rank_symbols,
    read_run,
    render_html,
    tca_by_algo,
    tca_by_venue,
    write_report,
)

HEADERS = {
    "bars.csv": "time,symbol,open,high,low,close,volume",
    "signals.csv": "time,symbol,signal,reason,conviction,support_low,support_high,"
    "resistance_low,resistance_high,volume_percentile,spike,granularity,stop,health",
    "orders.csv": "order_id,parent_id,symbol,side,qty,filled_qty,avg_price,algo,venue,status",
    "fills.csv": "time,order_id,parent_id,symbol,side,qty,price,venue,fee,exec_id",
    "tca.csv": "parent_id,symbol,side,qty,filled_qty,decision_price,arrival_price,avg_price,"
    "interval_vwap,arrival_bps,vwap_bps,is_bps,delay_bps,trading_bps,opportunity_bps,fee_bps,"
    "impact_model_bps,impact_realised_bps,grade,algo",
    "equity.csv": "time,equity,cash",
}

SUMMARY = {
    "run_hash": "9f1c2e7ab0",
    "seed": 7,
    "scenario": "trend <b>&</b> chop",
    "bars": 60,
    "orders": 6,
    "fills": 4,
    "pnl": "1234.56",
    "return": "0.00123",
    "max_drawdown": "0.0456",
    "trades": 2,
    "hit_rate": "0.5",
    "invariant_checks": 987,
    "positions": {"AAA": 100, "BBB": 0},
}


def _write(path: Path, header: str, rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(header.split(","))
        writer.writerows(rows)


def _minute(i: int) -> str:
    day, minute = divmod(i, 30)
    return f"2024-01-0{2 + day}T14:{30 + minute:02d}:00Z"


def make_run(tmp: Path, trades: bool = True, symbols: tuple[str, ...] = ("AAA", "BBB")) -> Path:
    """Two sessions of 30 minute bars per symbol; two parents (TWAP on AAA, POV on BBB)."""
    tmp.mkdir(parents=True, exist_ok=True)
    bars, signals, equity = [], [], []
    for k, sym in enumerate(symbols):
        for i in range(60):
            close = 100 + 10 * k + np.sin(i / 5)
            bars.append(
                [
                    _minute(i),
                    sym,
                    f"{close:.2f}",
                    f"{close + 0.1:.2f}",
                    f"{close - 0.1:.2f}",
                    f"{close:.2f}",
                    1000 + 10 * i + k,
                ]
            )
            sig = "ENTER_LONG" if i == 10 else "EXIT_LONG" if i == 40 else "HOLD"
            signals.append(
                [
                    _minute(i),
                    sym,
                    sig,
                    "near <support>",
                    "0.7",
                    f"{close - 1:.2f}",
                    f"{close - 0.5:.2f}",
                    f"{close + 0.5:.2f}",
                    f"{close + 1:.2f}",
                    "55",
                    "false",
                    "1m",
                    "",
                    "OK",
                ]
            )
    for i in range(60):
        equity.append(
            [_minute(i), f"{1_000_000 + 50 * i - (300 if i == 30 else 0)}.00", "900000.00"]
        )
    orders, fills, tca = [], [], []
    if trades:
        orders = [
            ["P1", "", "AAA", "BUY", 100, 100, "100.60", "TWAP", "", "FILLED"],
            ["C1", "P1", "AAA", "BUY", 60, 60, "100.60", "TWAP", "XNAS", "FILLED"],
            ["C2", "P1", "AAA", "BUY", 40, 40, "100.62", "TWAP", "DARK<1>", "FILLED"],
            ["P2", "", "BBB", "SELL", 50, 50, "110.50", "POV", "", "FILLED"],
            ["C3", "P2", "BBB", "SELL", 30, 30, "110.50", "POV", "XNAS", "FILLED"],
            ["C4", "P2", "BBB", "SELL", 20, 20, "110.48", "POV", "XNAS", "FILLED"],
        ]
        fills = [
            [_minute(11), "C1", "P1", "AAA", "BUY", 60, "100.60", "XNAS", "0.30", "E1"],
            [_minute(12), "C2", "P1", "AAA", "BUY", 40, "100.62", "DARK<1>", "0.00", "E2"],
            [_minute(41), "C3", "P2", "BBB", "SELL", 30, "110.50", "XNAS", "0.15", "E3"],
            [_minute(42), "C4", "P2", "BBB", "SELL", 20, "110.48", "XNAS", "0.10", "E4"],
        ]
        tca = [
            [
                "P1",
                "AAA",
                "BUY",
                100,
                100,
                "100.50",
                "100.55",
                "100.608",
                "100.58",
                "5.17",
                "2.78",
                "10.75",
                "4.97",
                "5.17",
                "0",
                "0.30",
                "3.1",
                "5.2",
                "Poor",
                "TWAP",
            ],
            [
                "P2",
                "BBB",
                "SELL",
                50,
                50,
                "110.60",
                "110.55",
                "110.492",
                "110.50",
                "5.25",
                "0.72",
                "9.81",
                "4.52",
                "5.25",
                "0",
                "0.45",
                "2.0",
                "5.3",
                "Acceptable",
                "POV",
            ],
        ]
    tables = {
        "bars.csv": bars,
        "signals.csv": signals,
        "orders.csv": orders,
        "fills.csv": fills,
        "tca.csv": tca,
        "equity.csv": equity,
    }
    for name, rows in tables.items():
        _write(tmp / name, HEADERS[name], rows)
    summary = dict(SUMMARY)
    if not trades:
        summary.update(orders=0, fills=0, trades=0, pnl="0.00", positions={})
    (tmp / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return tmp


def _charts(page: str) -> list[dict[str, object]]:
    """The plotly figures the page draws, in page order (one per chart div)."""
    divs = re.findall(r'<div class="chart" id="(chart-\d+)"', page)
    found = re.search(r'<script type="application/json" id="figures">(.*?)</script>', page, re.S)
    figures = json.loads(found.group(1)) if found else []
    assert [f["id"] for f in figures] == divs
    return figures


def test_report_has_charts_summary_and_tca_tables(tmp_path: Path) -> None:
    path = write_report(make_run(tmp_path))
    assert path == tmp_path / "report.html"
    page = path.read_text(encoding="utf-8")
    charts = _charts(page)
    # equity + 2 price charts + TCA by algo + TCA by venue, each with traces to draw
    assert len(charts) == 5
    assert all(chart["data"] for chart in charts)
    for value in ("1234.56", "0.00123", "0.0456", "9f1c2e7ab0", "987", "AAA 100"):
        assert value in page
    assert "No trades" not in page
    # one TCA row per algorithm and per venue, with its numbers
    assert re.search(r"<tr><td>TWAP</td><td>1</td><td>2</td><td>100</td><td>5\.17</td>", page)
    assert re.search(r"<tr><td>POV</td><td>1</td><td>2</td><td>50</td><td>5\.25</td>", page)
    assert re.search(r"<tr><td>XNAS</td><td>2</td><td>3</td><td>110</td>", page)
    assert "<tr><td>DARK&lt;1&gt;</td><td>1</td><td>1</td><td>40</td>" in page


def test_text_from_the_run_is_escaped(tmp_path: Path) -> None:
    page = write_report(make_run(tmp_path)).read_text(encoding="utf-8")
    assert "trend &lt;b&gt;&amp;&lt;/b&gt; chop" in page
    assert "<b>&</b>" not in page
    assert "DARK<1>" not in page


def test_empty_run_says_no_trades_instead_of_failing(tmp_path: Path) -> None:
    page = write_report(make_run(tmp_path, trades=False)).read_text(encoding="utf-8")
    assert "No trades" in page
    assert "No TCA rows" in page
    assert len(_charts(page)) == 3  # price charts and equity still drawn


def test_missing_and_zero_byte_files_are_a_run_with_nothing(tmp_path: Path) -> None:
    (tmp_path / "fills.csv").write_text("", encoding="utf-8")
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "No trades" in page and "No bars" in page and "No equity" in page
    assert _charts(page) == []


def test_same_inputs_give_byte_identical_html(tmp_path: Path) -> None:
    first = write_report(make_run(tmp_path / "a")).read_bytes()
    second = write_report(make_run(tmp_path / "b")).read_bytes()
    again = write_report(tmp_path / "a").read_bytes()
    assert first == second == again
    assert b"<script src=" not in first  # plotly.js embedded: nothing fetched, works offline


def test_many_symbols_are_capped_and_the_page_says_so(tmp_path: Path) -> None:
    symbols = ("AAA", "BBB", *(f"S{i:02d}" for i in range(MAX_SYMBOLS + 1)))
    page = write_report(make_run(tmp_path, symbols=symbols)).read_text(encoding="utf-8")
    assert f"first {MAX_SYMBOLS} of {len(symbols)} symbols" in page
    # the traded symbols come first, then the busiest by bar volume (S08 has the most)
    shown = re.findall(r'aria-label="(\w+) price chart"', page)
    assert shown[:3] == ["AAA", "BBB", "S08"] and len(shown) == MAX_SYMBOLS
    # 8 price charts + equity + 2 TCA charts
    assert len(_charts(page)) == MAX_SYMBOLS + 3


def test_bad_number_names_the_field(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    _write(run / "equity.csv", HEADERS["equity.csv"], [[_minute(0), "lots", "1"]])
    with pytest.raises(BadInput, match=r"equity\.equity"):
        write_report(run)


def test_bad_time_names_the_field(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    _write(run / "equity.csv", HEADERS["equity.csv"], [["yesterday", "1", "1"]])
    with pytest.raises(BadInput, match=r"equity\.time"):
        write_report(run)


def test_symbols_rank_by_traded_quantity_then_bar_volume_then_name() -> None:
    fills = [{"symbol": "ZZZ", "qty": "5"}, {"symbol": "MMM", "qty": "5"}]
    bars = [{"symbol": s, "volume": v} for s, v in (("AAA", "900"), ("MMM", "1"), ("BBB", "900"))]
    assert rank_symbols(fills, bars) == ["MMM", "ZZZ", "AAA", "BBB"]


def test_venue_costs_are_quantity_weighted_per_fill() -> None:
    tca = [
        {
            "parent_id": "P",
            "side": "BUY",
            "arrival_price": "100",
            "interval_vwap": "100",
            "decision_price": "100",
            "grade": "Good",
        }
    ]
    fills = [
        {"parent_id": "P", "venue": "A", "side": "BUY", "qty": "30", "price": "100.10", "fee": "0"},
        {"parent_id": "P", "venue": "A", "side": "BUY", "qty": "10", "price": "99.90", "fee": "0"},
        {"parent_id": "P", "venue": "B", "side": "BUY", "qty": "10", "price": "100", "fee": "1"},
    ]
    a, b = tca_by_venue(tca, fills)
    assert (a.name, a.fills, a.filled_qty) == ("A", 2, 40)
    assert a.arrival_bps == pytest.approx((30 * 10 - 10 * 10) / 40)
    assert b.arrival_bps == pytest.approx(0) and b.is_bps == pytest.approx(10)  # fee 1 on 1000
    assert a.grades["Good"] == 1 and str(b.fees) == "1"


def test_algo_means_skip_absent_cells_and_count_fills() -> None:
    tca = [
        {
            "parent_id": "P1",
            "algo": "VWAP",
            "filled_qty": "10",
            "arrival_bps": "4",
            "vwap_bps": "",
            "is_bps": "2",
            "grade": "Good",
        },
        {
            "parent_id": "P2",
            "algo": "VWAP",
            "filled_qty": "0",
            "arrival_bps": "",
            "vwap_bps": "",
            "is_bps": "6",
            "grade": "Acceptable",
        },
    ]
    fills = [{"parent_id": "P1", "fee": "0.10"}, {"parent_id": "P1", "fee": "0.20"}]
    (g,) = tca_by_algo(tca, fills, [])
    assert (g.parents, g.fills, g.arrival_bps, g.is_bps) == (2, 2, 4.0, 4.0)
    assert np.isnan(g.vwap_bps) and str(g.fees) == "0.30"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=5000),
    st.integers(4, 300),
)
def test_downsample_keeps_extremes_ends_and_order(values: list[float], cap: int) -> None:
    arr = np.array(values)
    keep = downsample_indices(arr, cap)
    assert len(keep) <= max(cap, 0) + 2 or len(arr) <= cap
    assert np.all(np.diff(keep) > 0)
    assert keep[0] == 0 and keep[-1] == len(arr) - 1
    assert arr[keep].min() == arr.min() and arr[keep].max() == arr.max()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _summary_only(scenario: str, key: str, symbol: str) -> RunFiles:
    summary = {"scenario": scenario, "run_hash": scenario, key: scenario, "positions": {symbol: 5}}
    return RunFiles([], [], [], [], [], [], summary)


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=12))
def test_any_text_in_the_run_cannot_change_the_page_structure(text: str, key: str) -> None:
    """Whatever the run's strings contain, the page has the same tags and shows them verbatim."""
    page = _parse(render_html(_summary_only(text, "x_" + key, text)))
    baseline = _parse(render_html(_summary_only("plain", "x_" + "k", "plain")))
    assert page.tags == baseline.tags
    shown = "".join(page.text)
    assert text in shown


def _with_research(tmp: Path, data: str) -> Path:
    run = make_run(tmp)
    summary = json.loads((run / "summary.json").read_text())
    summary["data"] = data
    summary["display"] = {"return": "+0.12%", "sharpe": "1.23", "benchmark_return": "+4.56%"}
    (run / "summary.json").write_text(json.dumps(summary))
    _write(
        run / "trades.csv",
        "symbol,side,entry_time,entry_price,exit_time,exit_price,qty,pnl,return,"
        "holding_minutes,mae,mfe,exit_reason",
        [
            ["AAA", "LONG", _minute(11), "100.6080", _minute(41), "101.2000", 100, "59.20",
             "0.005884", 30, "-0.001000", "0.009000", "target"],
            ["BBB", "SHORT", _minute(41), "110.4920", _minute(59), "110.1000", 50, "-1234.50",
             "-0.001000", 18, "-0.002000", "0.001000", "open at end"],
        ],
    )  # fmt: skip
    return run


def test_synthetic_run_says_so_first_and_a_replay_names_its_data(tmp_path: Path) -> None:
    page = write_report(
        _with_research(tmp_path / "a", "SYNTHETIC MARKET: seeded <bars>")
    ).read_text()
    body = page[page.index("<body>") + len("<body>") :].lstrip()
    assert body.startswith(
        '<div class="warn" id="provenance">SYNTHETIC MARKET: seeded &lt;bars&gt;'
    )
    page = write_report(_with_research(tmp_path / "b", "real data from a.csv (AAPL)")).read_text()
    assert '<div class="data" id="provenance">real data from a.csv (AAPL)</div>' in page


def test_trade_table_has_one_row_per_trade_in_numbers_for_people(tmp_path: Path) -> None:
    page = write_report(_with_research(tmp_path, "x")).read_text()
    table = page[page.index('<table class="sortable" id="trades">') :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 1 + 2  # header + one per trade
    assert '<td data-v="-1234.50">-$1,234.50</td>' in table
    assert '<td data-v="0.005884">+0.59%</td>' in table
    assert '<td data-v="30">30m</td>' in table
    kinds = [c["layout"]["title"]["text"] for c in _charts(page)]
    assert any("P&L by symbol" in k for k in kinds)
    assert "<td>Sharpe</td><td>1.23</td>" in page and "+4.56%" in page


def test_script_breaking_text_cannot_escape_the_figure_json(tmp_path: Path) -> None:
    run = make_run(tmp_path, symbols=("</script><b>X",))
    page = write_report(run).read_text()
    payload = re.search(r'id="figures">(.*?)</script>', page, re.S)
    assert payload is not None and "<" not in payload.group(1)
    assert json.loads(payload.group(1))  # still valid JSON


def test_big_runs_are_decimated_for_display_only(tmp_path: Path) -> None:
    run = tmp_path / "big"
    run.mkdir()
    n = 50_000
    rows = [
        ["2024-01-02T14:30:00Z" if i == 0 else f"{1704205800 + 60 * i}", "BIG",
         "100", "101", "99", f"{100 + np.sin(i / 50):.4f}", 1000]
        for i in range(n)
    ]  # fmt: skip
    from sim.timefmt import format_time

    for i, row in enumerate(rows):
        row[0] = format_time((1704205800 + 60 * i) * 10**9)
    _write(run / "bars.csv", HEADERS["bars.csv"], rows)
    _write(
        run / "equity.csv",
        HEADERS["equity.csv"],
        [[r[0], f"{1e6 + i}", "1"] for i, r in enumerate(rows)],
    )
    page = write_report(run).read_text()
    for chart in _charts(page):
        for trace in chart["data"]:
            assert len(trace.get("x", [])) <= 2 * 2000 + 4
    assert (run / "bars.csv").read_text().count("\n") == n + 1


def _trace_types(page: str) -> set[str]:
    return {str(t.get("type", "scatter")) for c in _charts(page) for t in c["data"]}  # type: ignore[union-attr]


def test_embedded_plotly_is_the_vendored_basic_bundle_and_draws_every_trace_type(
    tmp_path: Path,
) -> None:
    from sim.report import BASIC_BUNDLE

    page = write_report(make_run(tmp_path)).read_text(encoding="utf-8")
    assert "plotly.js (basic - minified) v4.1.1" in page
    assert len(page) < 2_000_000  # not the 4.8 MB full bundle
    bundle = BASIC_BUNDLE.read_text(encoding="utf-8")
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle))
    used = _trace_types(page)
    assert used and used <= registered, used - registered
    notice = (BASIC_BUNDLE.parent / "LICENSE").read_text(encoding="utf-8")
    assert "MIT" in notice and "Plotly" in notice
    assert "4.1.1" in (BASIC_BUNDLE.parent / "README.md").read_text(encoding="utf-8")


def test_charts_are_drawn_lazily_and_each_div_keeps_its_height(tmp_path: Path) -> None:
    page = write_report(make_run(tmp_path)).read_text(encoding="utf-8")
    assert "IntersectionObserver" in page and "requestIdleCallback" in page
    heights = re.findall(r'<div class="chart" id="chart-\d+"[^>]*style="height:(\d+)px"', page)
    assert [int(h) for h in heights] == [c["layout"]["height"] for c in _charts(page)]  # type: ignore[index]


def test_the_old_page_full_bundle_drawn_eagerly_is_still_available(tmp_path: Path) -> None:
    run = read_run(make_run(tmp_path))
    page = render_html(run, bundle="full", lazy=False)
    assert "IntersectionObserver" not in page and "Plotly.newPlot(f.id" in page
    assert len(page) > 4_000_000
    for runs in (run, read_run(tmp_path / "empty")):
        with pytest.raises(BadInput, match="bundle"):
            render_html(runs, bundle="cdn")


def test_a_run_with_nothing_to_plot_carries_no_plotly(tmp_path: Path) -> None:
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert "plotly.js" not in page and "Plotly" not in page
    assert len(page) < 50_000


def _fill_rows(bars: list[int], prices: list[float], qtys: list[int]) -> list[tuple[int, dict]]:
    return [
        (i, {"time": f"2024-01-02T{10 + i // 60 % 10:02d}:{i % 60:02d}:00Z", "price": f"{p}",
             "qty": f"{q}", "venue": "XNAS" if i % 2 else "DARK"})
        for i, p, q in zip(bars, prices, qtys, strict=True)
    ]  # fmt: skip


def test_few_fills_each_get_a_marker() -> None:
    rows = _fill_rows([0, 5, 9], [10.0, 10.5, 11.0], [100, 50, 25])
    markers = fill_markers(rows, "BUY", n_bars=10, cap=3)
    assert [(m.x, m.price) for m in markers] == [(0, 10.0), (5, 10.5), (9, 11.0)]
    assert markers[1].text == "2024-01-02T10:05:00 BUY 50 @ 10.5 XNAS"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 49_999), st.floats(1, 1000), st.integers(1, 10_000)),
        min_size=1,
        max_size=400,
    )
)
def test_many_fills_merge_per_display_bucket_for_display_only(
    raw: list[tuple[int, float, int]],
) -> None:
    raw.sort()
    rows = _fill_rows([b for b, _, _ in raw], [p for _, p, _ in raw], [q for _, _, q in raw])
    markers = fill_markers(rows, "SELL", n_bars=50_000, cap=10)
    if len(rows) <= 10:
        assert len(markers) == len(rows)
        return
    width = -(-50_000 // 1000)
    assert len(markers) <= len({b // width for b, _, _ in raw})
    assert [m.x for m in markers] == sorted(m.x for m in markers)
    counts = [int(re.search(r" SELL (\d+) fills, ", m.text).group(1)) for m in markers]  # type: ignore[union-attr]
    assert sum(counts) == len(rows)  # every fill is in exactly one marker
    for marker in markers:
        group = [p for b, p, _ in raw if b // width == marker.x // width]
        assert min(group) - 1e-4 <= marker.price <= max(group) + 1e-4


def _segments(xs: list, ys: list) -> list[list[tuple[float, float]]]:
    """The polyline as its None-separated runs of (x, y) points."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys, strict=True):
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [r for r in runs if r]


def _on(run: list[tuple[float, float]], x: float, y: float) -> bool:
    """(x, y) lies on the run's drawn segments."""
    if len(run) == 1:
        return run[0] == (x, y)
    for (xa, ya), (xb, yb) in itertools.pairwise(run):
        if min(xa, xb) <= x <= max(xa, xb) and ya == yb == y:
            return True
        if (xa, ya) == (x, y) or (xb, yb) == (x, y):
            return True
    return False


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.integers(0, 2)), max_size=60),
    st.booleans(),
)
def test_thinned_lines_and_zones_draw_the_same_shapes(ys: list, polygon: bool) -> None:
    xs: list = list(range(len(ys)))
    if polygon:  # a zone: forward along one edge, back along the other
        xs, ys = xs + xs[::-1], ys + ys[::-1]
    keep = line_points(xs, ys)
    assert keep == sorted(set(keep))
    thin_x, thin_y = [xs[i] for i in keep], [ys[i] for i in keep]
    before, after = _segments(xs, ys), _segments(thin_x, thin_y)
    assert len(before) == len(after)  # the same gaps
    for old, new in zip(before, after, strict=True):
        assert old[0] == new[0] and old[-1] == new[-1]
        assert all(_on(new, x, y) for x, y in old)  # every point still on the line
        assert set(new) <= set(old)


def test_price_chart_draws_the_resting_stop_from_entry_to_exit_and_signal_reasons(
    tmp_path: Path,
) -> None:
    run = make_run(tmp_path, symbols=("AAA",))
    path = run / "signals.csv"
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        if row["signal"] == "ENTER_LONG":
            row["stop"] = "95.5"
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    price = next(c for c in _charts(write_report(run).read_text()) if "AAA" in str(c["layout"]))
    traces = {t["name"]: t for t in price["data"]}  # type: ignore[index]
    stop = traces["resting stop"]
    held = [x for x, y in zip(stop["x"], stop["y"], strict=True) if y is not None]
    assert set(stop["y"]) - {None} == {95.5}
    assert min(held) == 10 and max(held) == 40  # from the entry bar through the exit bar
    assert traces["entry signal"]["text"][0].endswith("ENTER_LONG near <support>")
