"""The soak itself: one stand-in, many lives of the gateway, each ended by kill -9.

The market is held (``/_control {"action": "hold"}``) whenever no gateway is
trading and released the moment a restarted gateway logs ``ready``, so every
life sees its share of the market however long recovery takes; after each
kill the market plays ``--dead-minutes`` more market minutes first, so orders
left working fill while nobody listens and the next life must recover them
(FIX resend, TWS's executions, Alpaca's order state).

The live market is cut into equal slices, one per trading life; a life is
killed once the stand-in has published its slice **and** its kill point is
reached, rotating through:

* ``execution`` — right after one more execution is in the database;
* ``in_flight`` — while an order is at the broker, unfilled;
* ``progress`` — the moment the slice is published;
* ``startup`` — during recovery, as soon as the journal has been replayed
  (before reconciliation and catch-up); such a life trades nothing.

Faults rotate over the trading lives (one every ``--fault-every``): a 429
storm while trading, a 429 storm waiting for the next restart, the FIX line
cut (down 1 s), the TWS socket cut (away 1 s), Alpaca's streams cut. Every
``--tier-every`` lives a transfer at the Alpaca stand-in moves the account
across $1M, so orders alternate between the FIX prime broker and TWS.

At the end: ``--final-restarts`` timed restarts (kill -9 at ready but the
last), the rest of the market played, the market held, the books settled
(every broker execution in the database), a clean stop, and the exact
comparison (``books.py``).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.soaking.books import BookCheck, broker_fills, compare
from benchmarks.soaking.memory import RssSampler, judge, slope_of
from benchmarks.soaking.processes import (
    Database,
    GatewayProc,
    LogTail,
    StandInProc,
    wait_for,
)
from benchmarks.soaking.settings import Settings, scenario_symbols, symbols_of

MODES = ("progress", "execution", "in_flight", "startup")
FAULTS = ("storm", "drop_fix", "drop_tws", "drop_streams", "storm_at_restart")
TRANSFER = 1_500_000  # dollars: from $2M to $500K and back crosses $1M both ways
STANDIN_CASH = "100000000"  # the Alpaca stand-in's account: room for the withdrawals
OVERNIGHT_S = 0.5  # real seconds the stand-in's market stays closed between sessions
_REPLAY_SECONDS = re.compile(r"journaled inputs in ([0-9.]+)s")


class SoakFailed(RuntimeError):
    """A life did not recover, or the books never settled; the text says which."""


@dataclass
class Life:
    index: int
    mode: str
    fault: str | None = None
    transfer: int | None = None  # dollars moved at the Alpaca stand-in
    restart_s: float | None = None  # process start -> the ready line
    replay_s: float | None = None  # of which journal replay (the gateway's own figure)
    journal_inputs: int = 0  # at the start of this life
    executions_at_start: int = 0
    executions_at_kill: int = 0
    progressed: bool = False  # new inputs journaled after release
    kill_point: str = ""  # met / timeout / market_over / final
    rss_peak_mb: float | None = None
    rss_at_kill_mb: float | None = None  # after recovery, trading: the steady state
    fault_cleared: bool | None = None  # the gateway came through it before the kill


def _config(workdir: Path, standin: StandInProc, settings: Settings) -> Path:
    ep = standin.endpoints
    rest = ep["alpaca_rest"]
    tws_host, tws_port = ep["tws"].split(":")
    fix_host, fix_port = ep["fix"].split(":")
    text = f"""
[system]
name = "soak"
log_dir = "logs"

[broker]
type = "tiered"
paper = true

[alpaca]
api_key = "test"
secret_key = "test"
rest_url = "{rest}"
data_url = "{rest}"
data_ws_url = "{ep["alpaca_data_ws"]}"
trading_ws_url = "{ep["alpaca_trading_ws"]}"

[ibkr]
host = "{tws_host}"
port = {tws_port}
client_id = 7
account_id = "DU0000001"

[fix]
host = "{fix_host}"
port = {fix_port}
sender_comp_id = "SOVEREIGN"
target_comp_id = "PRIMEBROKER"

[database]
path = "gateway.db"

[portfolio]
initial_balance = {settings.balance}

[universe]
symbols = {json.dumps(list(symbols_of(settings)))}
"""
    path = workdir / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


class Soak:
    def __init__(self, settings: Settings, progress: Any = print) -> None:
        self.s = settings
        self.say = progress
        self.work = settings.out / "work"
        self.lives: list[Life] = []
        self.final_restarts: list[float] = []
        self.faults_injected: dict[str, int] = {}
        self.transfers = 0
        self._sign = -1 if settings.balance >= 1_000_000 else 1
        self.problems: list[str] = []

    # ------------------------------------------------------------ helpers
    def _state(self) -> dict[str, Any]:
        return self.standin.state()

    def _published(self) -> tuple[int, int]:
        st = self._state()
        return int(st["published_bars"]), int(st["live_bars_left"])

    def _hold(self) -> None:
        self.standin.control({"action": "hold"})

    def _release(self) -> None:
        self.standin.control({"action": "release"})

    def _start(self, life: Life) -> GatewayProc:
        life.journal_inputs = self.db.inputs()
        life.executions_at_start = self.db.executions()
        gateway = GatewayProc(self.config, self.work / f"gateway-{life.index}.err")
        self.current: GatewayProc | None = gateway
        self.rss.watch(gateway.pid, life.index)
        return gateway

    def _wait_ready(self, gateway: GatewayProc, life: Life, ready_before: int) -> None:
        if (
            not wait_for(
                lambda: self.log.count("ready") > ready_before or not gateway.alive(),
                self.s.ready_timeout,
            )
            or self.log.count("ready") <= ready_before
        ):
            raise SoakFailed(
                f"life {life.index}: no ready line within {self.s.ready_timeout:g}s"
                f" (exit code {gateway.proc.poll()}):\n{gateway.tail()}"
            )
        ready = self.log.last["ready"]
        life.restart_s = round(ready.wall - gateway.started_wall, 3)
        replayed = self.log.last.get("replayed")
        if replayed is not None and replayed.wall >= gateway.started_wall:
            m = _REPLAY_SECONDS.search(str(replayed.fields.get("msg", "")))
            life.replay_s = float(m.group(1)) if m else None

    def _kill(self, gateway: GatewayProc, life: Life) -> None:
        last = self.rss.sample_now()  # the life's last look, just before it ends
        if last is not None:
            life.rss_at_kill_mb = round(last.rss / 2**20, 1)
        gateway.kill9()
        self.rss.watch(None, life.index)
        life.executions_at_kill = self.db.executions()

    def _inject(self, fault: str) -> None:
        self.faults_injected[fault] = self.faults_injected.get(fault, 0) + 1
        if fault in ("storm", "storm_at_restart"):
            self.standin.control({"fault": "429", "count": self.s.storm_requests})
        elif fault == "drop_fix":
            self.standin.control({"fault": "drop_fix", "down_s": 1})
        elif fault == "drop_tws":
            self.standin.control({"fault": "drop_tws", "away_s": 1})
        elif fault == "drop_streams":
            self.standin.control({"fault": "drop_streams"})

    def _transfer(self, life: Life) -> None:
        amount = self._sign * TRANSFER
        self.standin.control({"cash_flow": f"{amount}.00"})
        self._sign = -self._sign
        life.transfer = amount
        self.transfers += 1

    def _dead_window(self) -> None:
        """Let the market play ``--dead-minutes`` with nobody listening, then hold it."""
        if self.s.dead_minutes:
            start = int(self._state()["market_time_ns"])
            until = start + self.s.dead_minutes * 60 * 10**9
            wait_for(
                lambda: (
                    (st := self._state())["market_time_ns"] >= until
                    or int(st["live_bars_left"]) == 0
                ),
                self.s.dead_minutes * 60 / self.s.speed * 20 + 30,
                0.05,
            )
        self._hold()

    # ------------------------------------------------------------ one life
    def _trading_life(self, life: Life, lives_left: int, fault: str | None, transfer: bool) -> bool:
        """Start, recover, trade through this life's slice of the market until its
        kill point, kill -9. False when the market ran out first.

        The slice is the market still to play shared among the lives still to
        come (and the final one), so a life that ran long shortens the others
        instead of ending the market early; the wait for the kill point is
        bounded by one more slice (or ``--kill-timeout``), so no life eats the
        market of the next ones."""
        # A storm left over from the life before is cleared: only a storm_at_restart
        # life meets 429s while it recovers (its restart time is reported apart).
        self.standin.control({"fault": "429", "count": 0})
        if fault == "storm_at_restart":
            self._inject(fault)
        published, left = self._published()
        if left == 0:
            return False  # nothing left to play: on to the end
        # The dead windows still to come take their market too.
        dead = self.s.dead_minutes * self.bars_per_minute * lives_left
        share = max(1, (left - dead) // (lives_left + 1))
        target = published + share
        ready_before = self.log.count("ready")
        gateway = self._start(life)
        self._wait_ready(gateway, life, ready_before)
        inputs_at_ready = self.db.inputs()
        self._release()
        if transfer:
            self._transfer(life)
        if fault is not None and fault != "storm_at_restart":
            self._inject(fault)
        over = False

        def market_past(bars: int) -> bool:
            nonlocal over
            if not gateway.alive():
                return True
            published, left = self._published()
            over = left == 0
            return published >= bars or over

        slice_s = 20 * share / self.bars_per_s + 60
        wait_for(lambda: market_past(target), slice_s + self.s.ready_timeout, 0.1)
        if not gateway.alive():
            raise SoakFailed(f"life {life.index}: the gateway died by itself:\n{gateway.tail()}")
        life.kill_point = "market_over" if over else "met"
        if not over and life.mode in ("execution", "in_flight"):
            seen = self.db.executions()
            polls, gave_up = 0, False

            def kill_point() -> bool:
                nonlocal polls, gave_up
                if life.mode == "execution" and self.db.executions() > seen:
                    return True
                if life.mode == "in_flight" and self.db.in_flight() > 0:
                    return True
                polls += 1
                gave_up = polls % 20 == 0 and market_past(target + share)
                return gave_up  # one more slice played without it: kill anyway

            met = wait_for(kill_point, self.s.kill_timeout, 0.01) and not gave_up
            life.kill_point = "met" if met else "timeout"
        if fault in ("storm", "drop_fix"):
            life.fault_cleared = self._fault_cleared(fault)
        life.progressed = wait_for(lambda: self.db.inputs() > inputs_at_ready, 60, 0.05)
        self._kill(gateway, life)
        if not life.progressed and not over:  # with the market over there is nothing to journal
            raise SoakFailed(f"life {life.index}: no input journaled after recovery")
        if over:
            self._hold()
            return False
        self._dead_window()
        return True

    def _fault_cleared(self, fault: str) -> bool:
        """Before the kill, the gateway has come through the fault of this life:
        every 429 of the storm answered to it, or its FIX session logged on again."""
        if fault == "storm":
            return wait_for(
                lambda: self._state()["faults"]["pending_429"] == 0, self.s.kill_timeout, 0.1
            )
        return wait_for(
            lambda: bool((self._state().get("fix") or {}).get("logged_on")),
            self.s.kill_timeout,
            0.1,
        )

    def _startup_life(self, life: Life) -> None:
        """Killed during recovery: right after the journal replay (market held)."""
        replayed, ready = self.log.count("replayed"), self.log.count("ready")
        gateway = self._start(life)
        wait_for(
            lambda: (
                self.log.count("replayed") > replayed
                or self.log.count("ready") > ready
                or not gateway.alive()
            ),
            self.s.ready_timeout,
            0.01,
        )
        life.kill_point = "met" if self.log.count("replayed") > replayed else "timeout"
        self._kill(gateway, life)

    # ------------------------------------------------------------ the run
    def run(self) -> dict[str, Any]:
        s = self.s
        self.work.mkdir(parents=True, exist_ok=True)
        for old in self.work.iterdir():
            if old.is_file():
                old.unlink()
            elif old.name == "logs":
                for f in old.iterdir():
                    f.unlink()
        started = time.monotonic()
        self.say(f"soak: generating {s.days} days of {s.scenario} and starting the stand-ins")
        self.standin = StandInProc(
            self.work,
            [
                "--scenario", s.scenario, "--seed", str(s.seed), "--days", str(s.days),
                "--history-days", str(s.history_days), "--speed", f"{s.speed:g}",
                "--balance", STANDIN_CASH, "--overnight", str(OVERNIGHT_S), "--hold",
            ],
        )  # fmt: skip
        standin_up = time.monotonic() - started
        self.db = Database(self.work / "gateway.db")
        self.log = LogTail(self.work / "logs" / "soak.jsonl")
        self.config = _config(self.work, self.standin, s)
        self.rss = RssSampler(s.rss_interval, self.db.inputs)
        self.rss.start(self.standin.proc.pid)
        self.current = None
        try:
            return self._run(started, standin_up)
        finally:
            if self.current is not None and self.current.alive():
                self.current.kill9()  # interrupted: leave no gateway behind
            self.rss.stop()
            self.standin.stop()

    def _run(self, started: float, standin_up: float) -> dict[str, Any]:
        s = self.s
        first = self._state()
        history = int(first["published_bars"])
        live = int(first["live_bars_left"])
        self.bars_per_minute = len(scenario_symbols(s.scenario))  # the stand-in's, not ours
        self.bars_per_s = (s.speed / 60) * self.bars_per_minute
        modes = [("progress" if k == 0 else MODES[k % len(MODES)]) for k in range(s.kills)]
        trading = [k for k, m in enumerate(modes) if m != "startup"]
        error: str | None = None
        market_left = True
        try:
            fault_turn = 0
            for k, mode in enumerate(modes):
                life = Life(k, mode)
                self.lives.append(life)
                if mode == "startup":
                    self._startup_life(life)
                else:
                    j = trading.index(k)
                    fault = None
                    if s.fault_every and j % s.fault_every == s.fault_every - 1:
                        fault = FAULTS[fault_turn % len(FAULTS)]
                        fault_turn += 1
                        life.fault = fault
                    transfer = bool(s.tier_every) and j % s.tier_every == s.tier_every - 1
                    lives_left = len(trading) - j
                    market_left = self._trading_life(life, lives_left, fault, transfer)
                self._note(life)
                if not market_left:
                    break
            book = self._finish()
        except SoakFailed as exc:
            error = str(exc)
            book = None
        return self._result(started, standin_up, history, live, book, error)

    def _note(self, life: Life) -> None:
        peaks = [x.rss for x in self.rss.samples if x.cycle == life.index]
        life.rss_peak_mb = round(max(peaks) / 2**20, 1) if peaks else None
        self.say(
            f"life {life.index:4d} {life.mode:9s} restart {life.restart_s}s"
            f" (replay {life.replay_s}) journal {life.journal_inputs} execs"
            f" {life.executions_at_kill} fault {life.fault} kill {life.kill_point}"
            f" rss {life.rss_peak_mb} MB"
        )
        err = self.work / f"gateway-{life.index - 3}.err"
        if err.exists():  # keep the last few lives' stderr only
            err.unlink()

    def _finish(self) -> BookCheck:
        """Timed restarts, the rest of the market, settled books, a clean stop."""
        s = self.s
        base = len(self.lives)
        gateway: GatewayProc | None = None
        for i in range(s.final_restarts):
            life = Life(base + i, "final")
            self.lives.append(life)
            ready_before = self.log.count("ready")
            gateway = self._start(life)
            self._wait_ready(gateway, life, ready_before)
            assert life.restart_s is not None
            self.final_restarts.append(life.restart_s)
            life.kill_point = "final"
            if i < s.final_restarts - 1:
                self._kill(gateway, life)
                self._note(life)
        assert gateway is not None
        life = self.lives[-1]
        self._release()
        remaining = int(self._state()["live_bars_left"])
        wait_for(
            lambda: int(self._state()["live_bars_left"]) == 0,
            60 + 20 * remaining / max(1.0, s.speed / 60),
            0.5,
        )
        self._hold()

        def settled() -> bool:
            ids = {f.exec_id for f in broker_fills(self._state())}
            booked = {str(r[0]) for r in self.db.rows("SELECT exec_id FROM executions")}
            return ids <= booked

        if not wait_for(settled, s.settle_timeout, 1.0):
            self.problems.append("the books did not settle before the clean stop")
        life.progressed = True
        code = gateway.terminate()
        self.rss.watch(None, life.index)
        life.executions_at_kill = self.db.executions()
        self._note(life)
        if code != 0:
            self.problems.append(f"the clean stop exited {code}: {gateway.tail(2000)}")
        return compare(self.db, self._state())

    # ------------------------------------------------------------ results
    def _result(
        self,
        started: float,
        standin_up: float,
        history: int,
        live: int,
        book: BookCheck | None,
        error: str | None,
    ) -> dict[str, Any]:
        s = self.s
        wall = time.monotonic() - started
        state = self._state()
        timed = [x for x in self.lives if x.restart_s is not None and x.mode != "final"]
        restarts = [x.restart_s or 0.0 for x in timed if x.fault != "storm_at_restart"]
        stormy = [x.restart_s or 0.0 for x in timed if x.fault == "storm_at_restart"]
        kills = sum(1 for x in self.lives if x.kill_point and x.kill_point != "final") + max(
            0, len(self.final_restarts) - 1
        )
        rss = judge(self.rss.samples, s.warmup)
        at_kill = [x.rss_at_kill_mb for x in self.lives if x.rss_at_kill_mb is not None]
        at_kill = at_kill[int(len(at_kill) * s.warmup) :]
        if at_kill:  # the same check on the RSS while trading, recovery's peak past
            rss["at_kill_min_max_mb"] = [min(at_kill), max(at_kill)]
            rss["at_kill_spread"] = round((max(at_kill) - min(at_kill)) / min(at_kill), 4)
        final_restart = statistics.median(self.final_restarts) if self.final_restarts else None
        correct = error is None and book is not None and book.exact and not self.problems
        thin = self.rss.samples[:: max(1, len(self.rss.samples) // 2000)]
        return {
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(s).items()},
            "ok": correct,
            "error": error,
            "problems": self.problems,
            "wall_s": round(wall, 1),
            "standin_start_s": round(standin_up, 1),
            "market": {
                "history_bars": history,
                "live_bars": live,
                "published_bars": int(state["published_bars"]),
                "live_bars_left": int(state["live_bars_left"]),
                "symbols": list(symbols_of(s)),
            },
            "kills": kills,
            "lives": [asdict(x) for x in self.lives],
            "restart_s": {
                "during_run": _spread(restarts),
                "during_run_with_429_storm": _spread(stormy),
                "final_median": final_restart,
                "final": self.final_restarts,
                "target_s": 5.0,
                "met": final_restart is not None and final_restart <= 5.0,
                "journal_inputs_at_end": self.db.inputs(),
            },
            "rss": {
                **rss,
                "samples_t_life_mb_inputs": [
                    [round(x.t, 1), x.cycle, round(x.rss / 2**20, 1), x.inputs] for x in thin
                ],
                "standin_mb_first_last": [
                    round(self.rss.standin[0][1] / 2**20, 1) if self.rss.standin else None,
                    round(self.rss.standin[-1][1] / 2**20, 1) if self.rss.standin else None,
                ],
            },
            "extrapolated": _extrapolate(self.lives, len(symbols_of(s))),
            "executions": None if book is None else book.as_json(),
            "faults": {
                "injected": self.faults_injected,
                "transfers": self.transfers,
                "standin_counters": state.get("faults", {}).get("counters", {}),
                "fix_dropped_connections": (state.get("fix") or {}).get("dropped_connections"),
            },
        }


YEAR_BARS_PER_SYMBOL = 252 * 390  # a year of regular sessions' minute bars


def _line(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares (intercept, slope) of y on x; None below 10 points (a short
    run's few lives carry no trend worth extending)."""
    if len(points) < 10:
        return None
    slope = slope_of([x for x, _ in points], [y for _, y in points])
    if slope is None:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    return my - slope * mx, slope


def _extrapolate(lives: list[Life], symbols: int) -> dict[str, Any]:
    """Restart time, replay time and peak RSS as straight lines in the journal's
    length, carried to a year of ``symbols`` symbols' minute bars (what the soak
    did not run). Lives with a 429 storm during recovery are left out."""
    timed = [x for x in lives if x.restart_s is not None and x.fault != "storm_at_restart"]
    year = symbols * YEAR_BARS_PER_SYMBOL
    out: dict[str, Any] = {"journal_inputs_of_a_year": year}
    for name, points in (
        ("restart_s", [(float(x.journal_inputs), x.restart_s or 0.0) for x in timed]),
        (
            "replay_s",
            [(float(x.journal_inputs), x.replay_s) for x in timed if x.replay_s is not None],
        ),
        (
            "rss_peak_mb",
            [(float(x.journal_inputs), x.rss_peak_mb) for x in lives if x.rss_peak_mb],
        ),
    ):
        fit = _line(points)
        if fit is None:
            out[name] = None
            continue
        a, b = fit
        out[name] = {
            "intercept": round(a, 3),
            "per_million_inputs": round(b * 1e6, 3),
            "at_a_year": round(a + b * year, 1),
            "points": len(points),
        }
    return out


def _spread(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "median": round(statistics.median(ordered), 3),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "max": round(ordered[-1], 3),
        "first": round(values[0], 3),
        "last": round(values[-1], 3),
    }
