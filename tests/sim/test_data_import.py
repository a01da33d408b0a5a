"""``sim data import``: layouts detected from the header, exact round trips, clear errors."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.money import price_from_decimal
from sim.data.catalog import Catalog
from sim.data.importer import detect_layout, import_file

ROOT = Path(__file__).resolve().parents[2]
B = 10**9

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700
2024-01-03,184.22,185.88,183.43,184.25,183.55,58414500
2024-01-04,182.15,183.09,180.88,181.91,181.22,71983600
"""
ALPACA = """timestamp,open,high,low,close,volume,trade_count,vwap
2024-01-02T14:30:00Z,187.15,187.5,186.9,187.2,120000,900,187.21
2024-01-02T14:31:00Z,187.2,187.3,186.0,186.5,100000,800,186.7
2024-01-02T14:32:00Z,186.5,186.9,186.1,186.8,90000,700,186.55
"""


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "140"},
        check=False,
    )


def test_layouts_are_detected_from_the_header() -> None:
    assert (
        detect_layout(["time", "symbol", "open", "high", "low", "close", "volume"]).name
        == "sovereign"
    )
    assert (
        detect_layout(["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]).name
        == "yahoo"
    )
    assert detect_layout(["timestamp", "open", "high", "low", "close", "volume"]).name == "bars"
    assert (
        detect_layout(
            ["symbol", "timestamp", "open", "high", "low", "close", "volume", "trade_count", "vwap"]
        ).name
        == "bars"
    )


def test_yahoo_file_round_trips_through_the_catalog(tmp_path: Path) -> None:
    source = tmp_path / "aapl.csv"
    source.write_text(YAHOO)
    done = sim("data", "import", str(source), "--symbol", "AAPL", "--catalog", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    assert "layout yahoo" in done.stdout and "adjustment split" in done.stdout
    assert "3 bars imported" in done.stdout
    bars = Catalog(tmp_path / "c").read_bars(["AAPL"], "1Day", "2024-01-01", "2024-01-31", "split")
    assert bars == import_file(source, "AAPL").bars
    assert [b.close for b in bars] == [185_640_000_000, 184_250_000_000, 181_910_000_000]
    assert bars[0].time_ns == 1704153600 * B  # 2024-01-02 00:00 UTC, like sample_daily.csv


def test_yahoo_adjust_scales_every_price_by_adj_close_over_close(tmp_path: Path) -> None:
    source = tmp_path / "aapl.csv"
    source.write_text(YAHOO)
    done = sim(
        "data", "import", str(source), "--symbol", "AAPL", "--adjust", "--catalog", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "adjustment all" in done.stdout
    (bar, *_) = Catalog(tmp_path).read_bars(["AAPL"], "1Day", "2024-01-01", "2024-01-31", "all")
    factor = Decimal("184.94") / Decimal("185.64")
    assert bar.close == price_from_decimal("184.94")
    assert bar.open == int((Decimal("187.15") * factor).scaleb(9).quantize(Decimal(1)))
    assert bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high


def test_alpaca_minute_file_round_trips_with_vwap_and_trade_count(tmp_path: Path) -> None:
    source = tmp_path / "aapl_min.csv"
    source.write_text(ALPACA)
    done = sim("data", "import", str(source), "--symbol", "AAPL", "--catalog", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    assert "layout bars" in done.stdout and "1Min" in done.stdout
    bars = Catalog(tmp_path / "c").read_bars(["AAPL"], "1Min", "2024-01-02", "2024-01-02")
    assert bars == import_file(source, "AAPL").bars
    assert (bars[0].vwap, bars[0].trades) == (187_210_000_000, 900)
    # imported again: the same bars, not twice as many
    assert (
        sim(
            "data", "import", str(source), "--symbol", "AAPL", "--catalog", str(tmp_path / "c")
        ).returncode
        == 0
    )
    assert Catalog(tmp_path / "c").read_bars(["AAPL"], "1Min", "2024-01-02", "2024-01-02") == bars


def test_parquet_with_epoch_millis_and_floats_reads_the_same_bars(tmp_path: Path) -> None:
    csv_path = tmp_path / "a.csv"
    csv_path.write_text(ALPACA)
    expected = import_file(csv_path, "AAPL").bars
    table = pa.table(
        {
            "symbol": ["AAPL"] * 3,
            "timestamp": pa.array([b.time_ns for b in expected]).cast(pa.timestamp("ns", "UTC")),
            "open": [187.15, 187.2, 186.5],
            "high": [187.5, 187.3, 186.9],
            "low": [186.9, 186.0, 186.1],
            "close": [187.2, 186.5, 186.8],
            "volume": [120000, 100000, 90000],
            "trade_count": [900, 800, 700],
            "vwap": [187.21, 186.7, 186.55],
        }
    )
    pq.write_table(table, tmp_path / "a.parquet")
    assert import_file(tmp_path / "a.parquet").bars == expected
    millis = tmp_path / "ms.csv"
    millis.write_text(
        "timestamp,open,high,low,close,volume\n1704205800000,187.15,187.5,186.9,187.2,120000\n"
    )
    assert import_file(millis, "AAPL").bars[0].time_ns == expected[0].time_ns


def test_bad_row_names_line_field_and_value_and_exits_2(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(YAHOO.replace("183.43", "184.5"))  # low above min(open, close)
    done = sim("data", "import", str(source), "--symbol", "AAPL", "--catalog", str(tmp_path / "c"))
    assert done.returncode == 2
    assert "line 3: Low='184.5': is above min(open, close)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "c").exists()  # nothing written from a rejected file


def test_skip_bad_keeps_every_good_row(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(ALPACA.replace("186.0,186.5,100000", "186.0,186.5,-3"))
    done = sim(
        "data", "import", str(source), "--symbol", "AAPL", "--skip-bad", "--catalog", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "skipped:" in done.stderr and "line 3: volume='-3'" in done.stderr
    assert "2 bars imported, 1 rejected" in done.stdout


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("a,b,c\n1,2,3\n", ["--symbol", "X"], "header='a,b,c': is none of the known layouts"),
        (ALPACA, [], "symbol='': is not in the file: give --symbol"),
        (ALPACA, ["--symbol", "AAPL", "--adjust"], "--adjust="),
        (ALPACA, ["--symbol", "aapl/.."], "--symbol='aapl/..'"),
        (ALPACA, ["--symbol", "AAPL", "--timeframe", "3Weeks"], "--timeframe='3Weeks'"),
    ],
)
def test_bad_input_is_refused_with_exit_2(
    tmp_path: Path, content: str, args: list[str], message: str
) -> None:
    source = tmp_path / "f.csv"
    source.write_text(content)
    done = sim("data", "import", str(source), *args, "--catalog", str(tmp_path / "c"))
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_file_is_bad_input(tmp_path: Path) -> None:
    done = sim("data", "import", str(tmp_path / "nope.csv"), "--catalog", str(tmp_path))
    assert done.returncode == 2
    assert "nope.csv" in done.stderr and "cannot be read" in done.stderr
