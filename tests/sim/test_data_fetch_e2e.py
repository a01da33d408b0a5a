"""``sim data fetch`` end to end, offline: ``python -m standins`` up, the real SDKs against it.

5 symbols × 60 sessions of minute bars through alpaca-py with two forced 429s and
one interruption (the fetch is killed while the stand-in is refusing it, then run
again): the catalog ends up with exactly the stand-in's own bars, none twice, none
missing; ``sim replay --catalog`` runs over them. The same through ib_async
against the TWS stand-in for one symbol.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.data.catalog import Catalog, day_of

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = ["AAPL", "AMZN", "GOOGL", "MSFT", "NVDA"]  # the default scenario's universe
HISTORY_DAYS = 60
ENV = {
    "PYTHONPATH": str(ROOT),
    "PATH": "/usr/bin:/bin",
    "SOVEREIGN_ALPACA_API_KEY": "test",
    "SOVEREIGN_ALPACA_SECRET_KEY": "test",
}

pytestmark = pytest.mark.slow


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def serve() -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "standins", "--scenario", "default",
         "--days", str(HISTORY_DAYS + 1), "--history-days", str(HISTORY_DAYS),
         "--bars-page-max", "2000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=ENV,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else "no endpoints line"
        yield json.loads(line)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def truth() -> list[object]:
    """The stand-in's own history bars (the same generator, seed and split)."""
    from standins.market import load_market

    return list(load_market("default", 1, HISTORY_DAYS, HISTORY_DAYS + 1).history)


def _control(endpoints: dict[str, str], body: dict[str, object]) -> None:
    request = urllib.request.Request(
        endpoints["control"], data=json.dumps(body).encode(), method="POST",
        headers={"APCA-API-KEY-ID": "test", "APCA-API-SECRET-KEY": "test"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def _fetch_command(endpoints: dict[str, str], catalog: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sim", "data", "fetch", "--catalog", str(catalog), *extra]


def _ohlcv(bars: list[object]) -> list[tuple[object, ...]]:
    return sorted(
        (b.symbol, b.time_ns, b.open, b.high, b.low, b.close, b.volume)  # type: ignore[attr-defined]
        for b in bars
    )


def test_alpaca_fetch_with_429s_and_an_interruption_then_replay(
    serve: dict[str, str], truth: list[object], tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    days = sorted({day_of(b.time_ns) for b in truth})  # type: ignore[attr-defined]
    assert len(days) == HISTORY_DAYS
    args = ["--source", "alpaca", "--url", serve["alpaca_rest"], "--symbols", ",".join(SYMBOLS),
            "--start", days[0], "--end", days[-1]]  # fmt: skip
    _control(serve, {"fault": "429", "count": 2})  # the first two requests are refused
    first = subprocess.Popen(
        _fetch_command(serve, catalog, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=ROOT, env=ENV,
    )  # fmt: skip
    manifest = catalog / "manifest.json"
    _wait(manifest.exists, 120, "the first chunk in the catalog")
    # from now on every request is refused: the fetch is stuck backing off when killed
    _control(serve, {"fault": "429", "count": 1_000_000})
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=60)
    _control(serve, {"fault": "clear"})
    held = Catalog(catalog).manifest()
    assert sum(len(d.days) for d in held.values()) < len(SYMBOLS) * HISTORY_DAYS  # interrupted

    again = subprocess.run(
        _fetch_command(serve, catalog, *args), capture_output=True, text=True, cwd=ROOT,
        env=ENV, timeout=600, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "already held" in again.stdout
    held_before = int(again.stdout.split("(")[1].split(" symbol-sessions, ")[1].split()[0])
    assert held_before > 0  # only the missing sessions were asked for

    got = Catalog(catalog).read_bars(SYMBOLS, "1Min", days[0], days[-1])
    assert len(got) == len(truth) == len({(b.symbol, b.time_ns) for b in got})
    assert _ohlcv(got) == _ohlcv(truth)
    listing = subprocess.run(
        [sys.executable, "-m", "sim", "data", "list", "--catalog", str(catalog)],
        capture_output=True, text=True, cwd=ROOT, env={**ENV, "COLUMNS": "160"}, check=False,
    )  # fmt: skip
    assert all(s in listing.stdout for s in SYMBOLS) and "alpaca" in listing.stdout

    out = tmp_path / "replay"
    replay = subprocess.run(
        [sys.executable, "-m", "sim", "replay", "--catalog", str(catalog), "--symbols",
         ",".join(SYMBOLS), "--start", days[0], "--end", days[-1], "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=900, check=False,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr + replay.stdout[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["bars"] == len(truth)
    assert summary["violation"] is None
    assert f"1Min bars {days[0]}..{days[-1]}, adjustment raw, source alpaca" in summary["data"]
    page = (out / "report.html").read_text()
    assert 'id="provenance">real data from the catalog' in page


def test_ibkr_fetch_through_the_tws_stand_in(
    serve: dict[str, str], truth: list[object], tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog"
    days = sorted({day_of(b.time_ns) for b in truth})[-5:]  # type: ignore[attr-defined]
    done = subprocess.run(
        _fetch_command(serve, catalog, "--source", "ibkr", "--tws", serve["tws"], "--symbols",
                       "MSFT", "--start", days[0], "--end", days[-1]),
        capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = Catalog(catalog).read_bars(["MSFT"], "1Min", days[0], days[-1])
    want = [b for b in truth if b.symbol == "MSFT" and days[0] <= day_of(b.time_ns) <= days[-1]]  # type: ignore[attr-defined]
    assert _ohlcv(got) == _ohlcv(want) and len(got) == 5 * 390
    assert Catalog(catalog).manifest()["1Min/raw/MSFT"].sources == ("ibkr",)
    # run again: nothing missing, nothing asked for
    again = subprocess.run(done.args, capture_output=True, text=True, cwd=ROOT, env=ENV,
                           timeout=600, check=False)  # fmt: skip
    assert again.returncode == 0 and "fetched 0 bars in 0 requests" in again.stdout


def test_daily_bars_through_ibkr_equal_alpacas_from_the_same_stand_in(
    serve: dict[str, str], truth: list[object], tmp_path: Path
) -> None:
    """``--timeframe 1Day --source ibkr``: TWS daily bars ("1 day", dated by
    session) land in the catalog exactly as Alpaca's daily bars of the same
    market do, and each is the session's minute bars aggregated."""
    days = sorted({day_of(b.time_ns) for b in truth})[-4:]  # type: ignore[attr-defined]
    daily: dict[str, list[object]] = {}
    for source, extra in (
        ("ibkr", ["--tws", serve["tws"]]),
        ("alpaca", ["--url", serve["alpaca_rest"]]),
    ):
        catalog = tmp_path / source
        done = subprocess.run(
            _fetch_command(serve, catalog, "--source", source, *extra, "--symbols", "MSFT",
                           "--timeframe", "1Day", "--start", days[0], "--end", days[-1]),
            capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        daily[source] = Catalog(catalog).read_bars(["MSFT"], "1Day", days[0], days[-1])
    assert len(daily["ibkr"]) == len(days)
    assert _ohlcv(daily["ibkr"]) == _ohlcv(daily["alpaca"])
    for bar in daily["ibkr"]:
        minutes = [
            b for b in truth if b.symbol == "MSFT" and day_of(b.time_ns) == day_of(bar.time_ns)
        ]  # type: ignore[attr-defined]
        assert (bar.open, bar.close, bar.volume) == (  # type: ignore[attr-defined]
            minutes[0].open,
            minutes[-1].close,
            sum(b.volume for b in minutes),  # type: ignore[attr-defined]
        )


def test_bad_fetch_arguments_exit_2(tmp_path: Path) -> None:
    base = ["--source", "alpaca", "--symbols", "AAPL", "--start", "2024-01-02"]
    for args, message in (
        ([*base, "--end", "2024-01-01"], "--end='2024-01-01'"),
        ([*base, "--end", "2024-01-03", "--timeframe", "5Min"], "--timeframe='5Min'"),
        ([*base, "--end", "2024-01-03"], "alpaca.api_key"),
        ([*base, "--end", "2024-01-03", "--symbols", "A/B"], "--symbols='A/B'"),
    ):
        env = {k: v for k, v in ENV.items() if not k.startswith("SOVEREIGN")}
        done = subprocess.run(
            [sys.executable, "-m", "sim", "data", "fetch", "--catalog", str(tmp_path), *args],
            capture_output=True, text=True, cwd=ROOT, env=env, check=False,
        )  # fmt: skip
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr
