"""Sovereign vs NautilusTrader vs backtrader: bars per second on the same bars.

Not part of CI (it installs third-party engines from PyPI, which takes minutes).
Run it by hand from the repository root::

    python benchmarks/peers/run_peers.py            # 30 symbols x 20 days x 390 bars
    python benchmarks/peers/run_peers.py --venv /tmp/peers-venv --keep

What it does, in one run so the numbers share a machine and a moment:

1. creates a throwaway virtual environment (``python -m venv``) in a temp dir
   and ``pip install``s ``nautilus_trader`` and ``backtrader`` into it, so
   neither touches the interpreter Sovereign runs in;
2. writes seeded synthetic minute bars (numpy ``default_rng(SEED)``) to one CSV
   in Sovereign's bars format ``time,symbol,open,high,low,close,volume``;
3. runs, each in its own subprocess, (a) a NautilusTrader ``BacktestEngine``
   and (b) a backtrader ``Cerebro`` with a trivial strategy (every symbol
   subscribes to its bars and flips a 100-share position once per 390 bars),
   and (c) Sovereign's simulator on the same CSV via ``python -m sim replay``
   in the current interpreter (falling back to ``python -m sim signals``, the
   agents alone, if ``replay`` is not available — the table says which);
4. prints bars/s for each and the ratios Sovereign / peer.

Two timings per peer: *end-to-end* (process start to finish: reading the CSV,
building the engine's objects, running) and *engine* (only the ``run()``
call). Sovereign is timed end to end only (its CLI also parses the CSV and
writes its output files), so "Sovereign e2e / peer engine" is the ratio most
favourable to the peer.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

SEED = 20240102
REPO = Path(__file__).resolve().parents[2]
SESSION_START_MINUTE = 14 * 60 + 30  # 09:30 New York in winter, as UTC minutes
PEER_PACKAGES = ("nautilus_trader", "backtrader", "pandas")
TARGET_RATIO = 20.0


def write_bars(path: Path, symbols: int, days: int, per_day: int = 390) -> int:
    """Seeded random-walk minute bars, interleaved by time like a live feed.

    Cents are integers, so every price is an exact 2-decimal string and all
    three engines see identical numbers.
    """
    rng = np.random.default_rng(SEED)
    sessions = np.busday_offset("2024-01-02", np.arange(days), roll="forward")
    minutes = (
        sessions.astype("datetime64[m]")[:, None]
        + np.timedelta64(SESSION_START_MINUTE, "m")
        + np.arange(per_day).astype("timedelta64[m]")[None, :]
    ).ravel()
    steps = rng.integers(-5, 6, size=(symbols, len(minutes)))
    start = rng.integers(2_000, 40_000, size=(symbols, 1))
    close = np.maximum(100, start + np.cumsum(steps, axis=1))
    open_ = np.concatenate([start, close[:, :-1]], axis=1)
    high = np.maximum(open_, close) + rng.integers(0, 4, size=close.shape)
    low = np.maximum(1, np.minimum(open_, close) - rng.integers(0, 4, size=close.shape))
    volume = rng.integers(100, 10_000, size=close.shape)
    names = [f"SYM{i:02d}" for i in range(symbols)]
    stamps = [str(t) + ":00Z" for t in minutes]

    def cents(v: int) -> str:
        return f"{v // 100}.{v % 100:02d}"

    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("time,symbol,open,high,low,close,volume\n")
        for j, stamp in enumerate(stamps):
            for i, name in enumerate(names):
                out.write(
                    f"{stamp},{name},{cents(int(open_[i, j]))},{cents(int(high[i, j]))},"
                    f"{cents(int(low[i, j]))},{cents(int(close[i, j]))},{int(volume[i, j])}\n"
                )
    return symbols * len(minutes)


NAUTILUS_RUNNER = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    from decimal import Decimal
    import pandas as pd
    from nautilus_trader.backtest.config import BacktestEngineConfig
    from nautilus_trader.backtest.engine import BacktestEngine
    from nautilus_trader.config import LoggingConfig
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import BarType
    from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
    from nautilus_trader.model.identifiers import TraderId, Venue
    from nautilus_trader.model.objects import Money, Quantity
    from nautilus_trader.persistence.wranglers import BarDataWrangler
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.trading.strategy import Strategy

    class Flip(Strategy):
        # Subscribes to every bar type and flips 100 shares once per 390 bars.
        def __init__(self, bar_types):
            super().__init__()
            self.bar_types = bar_types
            self.seen = {}
            self.bars = 0

        def on_start(self):
            for bar_type in self.bar_types:
                self.subscribe_bars(bar_type)

        def on_bar(self, bar):
            self.bars += 1
            n = self.seen.get(bar.bar_type, 0) + 1
            self.seen[bar.bar_type] = n
            if n % 390 == 0:
                side = OrderSide.BUY if (n // 390) % 2 else OrderSide.SELL
                order = self.order_factory.market(
                    bar.bar_type.instrument_id, side, Quantity.from_int(100)
                )
                self.submit_order(order)

    frame = pd.read_csv(sys.argv[1])
    frame["timestamp"] = pd.to_datetime(frame["time"], utc=True)
    engine = BacktestEngine(
        config=BacktestEngineConfig(
            trader_id=TraderId("BENCH-001"), logging=LoggingConfig(log_level="ERROR")
        )
    )
    venue = Venue("XNAS")
    engine.add_venue(
        venue=venue,
        oms_type=OmsType.NETTING,
        account_type=AccountType.CASH,
        base_currency=USD,
        starting_balances=[Money(100_000_000, USD)],
    )
    bar_types = []
    for symbol, rows in frame.groupby("symbol", sort=True):
        instrument = TestInstrumentProvider.equity(symbol=symbol, venue="XNAS")
        engine.add_instrument(instrument)
        bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
        data = rows.set_index("timestamp")[["open", "high", "low", "close", "volume"]]
        engine.add_data(BarDataWrangler(bar_type, instrument).process(data))
        bar_types.append(bar_type)
    strategy = Flip(bar_types)
    engine.add_strategy(strategy)
    t1 = time.perf_counter()
    engine.run()
    t2 = time.perf_counter()
    orders = len(engine.cache.orders())
    engine.dispose()
    print(json.dumps({"bars": strategy.bars, "orders": orders, "setup_s": t1 - t0,
                      "engine_s": t2 - t1}))
    """
)

BACKTRADER_RUNNER = textwrap.dedent(
    """
    import json, sys, time
    t0 = time.perf_counter()
    import backtrader as bt
    import pandas as pd

    class Flip(bt.Strategy):
        # Sees every bar of every feed and flips 100 shares once per 390 bars.
        def __init__(self):
            self.bars = 0
            self.seen = 0

        def next(self):
            self.seen += 1
            self.bars += len(self.datas)
            if self.seen % 390 == 0:
                buy = (self.seen // 390) % 2
                for data in self.datas:
                    if buy:
                        self.buy(data=data, size=100)
                    else:
                        self.sell(data=data, size=100)

    frame = pd.read_csv(sys.argv[1])
    frame["datetime"] = pd.to_datetime(frame["time"], utc=True).dt.tz_localize(None)
    cerebro = bt.Cerebro(stdstats=False)
    cerebro.broker.setcash(100_000_000.0)
    for symbol, rows in frame.groupby("symbol", sort=True):
        data = rows.set_index("datetime")[["open", "high", "low", "close", "volume"]]
        cerebro.adddata(bt.feeds.PandasData(dataname=data, openinterest=None), name=symbol)
    cerebro.addstrategy(Flip)
    t1 = time.perf_counter()
    result = cerebro.run()
    t2 = time.perf_counter()
    print(json.dumps({"bars": result[0].bars, "setup_s": t1 - t0, "engine_s": t2 - t1}))
    """
)


def make_venv(where: Path) -> Path:
    """A fresh venv with the peers installed; returns its python."""
    python = where / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    print(f"installing {', '.join(PEER_PACKAGES)} into {where} ...", flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEER_PACKAGES],
        check=True,
    )
    return python


def run_timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, str]:
    """Wall time of a subprocess (the whole process, interpreter start included)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return elapsed, done.stdout


def peer(python: Path, source: str, name: str, csv_path: Path, work: Path) -> dict[str, float]:
    script = work / f"peer_{name}.py"  # not "backtrader.py": it would shadow the package
    script.write_text(source, encoding="utf-8")
    wall, stdout = run_timed([str(python), str(script), str(csv_path)])
    result = json.loads(stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    print(f"{name}: {result}", flush=True)
    return result


def sovereign_command(csv_path: Path, out_dir: Path) -> tuple[list[str], str]:
    """``sim replay`` when the CLI has it, else ``sim signals`` (agents only)."""
    probe = subprocess.run(
        [sys.executable, "-m", "sim", "replay", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "sim", "replay", str(csv_path), "--out", str(out_dir)], (
            "sim replay (full simulator: agents, orders, venues, TCA, report files)"
        )
    out_file = out_dir / "signals.csv"
    return [sys.executable, "-m", "sim", "signals", str(csv_path), "--out", str(out_file)], (
        "sim signals — FALLBACK: `sim replay` is not available in this checkout, so this "
        "times the agents alone (CSV in, signals CSV out), not the full simulator"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=30)
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--venv", type=Path, help="reuse/create the peers venv here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="sovereign-peers-"))
    venv_dir = args.venv or (work / "venv")
    python = make_venv(venv_dir)
    csv_path = work / "bars.csv"
    total = write_bars(csv_path, args.symbols, args.days)
    print(f"{total:,} bars ({args.symbols} symbols x {args.days} days x 390) -> {csv_path}")

    rows: list[tuple[str, int, float, float | None]] = []
    nautilus = peer(python, NAUTILUS_RUNNER, "nautilus", csv_path, work)
    rows.append(("NautilusTrader", int(nautilus["bars"]), nautilus["wall_s"], nautilus["engine_s"]))
    backtrader = peer(python, BACKTRADER_RUNNER, "backtrader", csv_path, work)
    rows.append(
        ("backtrader", int(backtrader["bars"]), backtrader["wall_s"], backtrader["engine_s"])
    )
    out_dir = work / "sovereign-out"
    out_dir.mkdir()
    cmd, what = sovereign_command(csv_path, out_dir)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    sov_wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"Sovereign failed ({done.returncode}):\n{done.stderr[-4000:]}")
    rows.append(("Sovereign", total, sov_wall, None))

    print(f"\nSovereign ran: {what}")
    head = ("engine", "bars", "e2e s", "e2e bars/s", "run() s", "run() bars/s")
    print(f"{head[0]:<16}{head[1]:>10}{head[2]:>9}{head[3]:>13}{head[4]:>9}{head[5]:>14}")
    for name, bars, wall, engine_s in rows:
        eng = f"{engine_s:>9.2f}{bars / engine_s:>14,.0f}" if engine_s else f"{'—':>9}{'—':>14}"
        print(f"{name:<16}{bars:>10,}{wall:>9.2f}{bars / wall:>13,.0f}{eng}")
    sov_rate = total / sov_wall
    print()
    for name, bars, wall, engine_s in rows[:2]:
        e2e = sov_rate / (bars / wall)
        eng = sov_rate / (bars / engine_s) if engine_s else float("nan")
        print(f"Sovereign / {name}: {e2e:6.2f}x end-to-end, {eng:6.2f}x vs its run() alone")
    ratio = sov_rate / (rows[0][1] / rows[0][2])
    verdict = "MET" if ratio >= TARGET_RATIO else "NOT met"
    print(f"target >= {TARGET_RATIO:.0f}x NautilusTrader end-to-end: {verdict} ({ratio:.2f}x)")
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
