"""The dashboard in a real headless Chromium, against the real ``python -m
gateway`` trading on the real ``python -m standins``.

One session, in order: the page needs the token; it shows what SQLite and the
stand-in's book say; a new fill reaches it within a second without a reload;
*pause* (a button, confirmed in the page) stops the next entry while an exit
still goes out; *resume* from the shell; *flatten* (a button) leaves every
position at zero at the broker and in SQLite; nothing on the page came from
another origin and the console stayed clean.

Certainty by setup: the ``range`` market oscillates between its zones, so a
position opened on a support is closed (at resistance or its stop) within a
session or two, and flat agents see new entry spikes every session; every
wait is for a condition, with a timeout far above the expected time.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.harness import TOKEN, Running, chrome, requested_urls, running
from tests.gateway.agreement import compare
from tests.gateway.harness import ROOT, db_rows, wait_for

pytestmark = pytest.mark.slow

SPEED = "480"  # a session in ~50 s; entries still go out well within two bar periods


@dataclass
class Dash:
    run: Running
    driver: Any
    console: list[dict[str, Any]]
    network: list[dict[str, Any]]

    def logs(self) -> None:
        """Collect the browser's console and network logs (each read drains them)."""
        self.console += self.driver.get_log("browser")
        self.network += self.driver.get_log("performance")


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dash]:
    workdir = tmp_path_factory.mktemp("dashboard-browser")
    with running(workdir, "--scenario", "range", "--speed", SPEED, "--history-days", "0") as run:
        driver = chrome(workdir)
        try:
            yield Dash(run, driver, [], [])
        finally:
            driver.quit()


# ------------------------------------------------------------------ helpers


def _db_positions(db: Path, before_seq: int | None = None) -> dict[str, int]:
    where = "" if before_seq is None else f" WHERE input_seq < {int(before_seq)}"
    net: dict[str, int] = defaultdict(int)
    for symbol, side, qty in db_rows(db, f"SELECT symbol, side, quantity FROM executions{where}"):
        net[symbol] += qty if side == "buy" else -qty
    return {s: q for s, q in net.items() if q}


def _db_exec_ids(db: Path) -> set[str]:
    return {r[0] for r in db_rows(db, "SELECT exec_id FROM executions")}


def _rows(driver: Any, selector: str, *fields: str) -> list[list[str | None]]:
    """The ``data-*`` fields of the rows, read in one go in the page: the page
    re-renders its tables at every state message, so element handles taken
    one call earlier may already be gone."""
    script = (
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(r => arguments[1].map(f => r.dataset[f] === undefined ? null : r.dataset[f]));"
    )
    return list(driver.execute_script(script, selector, list(fields)))


def _page_positions(driver: Any) -> dict[str, int]:
    rows = _rows(driver, "#positions tbody tr", "symbol", "qty")
    return {str(symbol): int(str(qty)) for symbol, qty in rows}


def _page_fills(driver: Any) -> dict[str, float]:
    """exec id → wall time (s) the page received it."""
    rows = _rows(driver, "#fills tbody tr", "execId", "receivedMs")
    return {str(exec_id): int(str(ms)) / 1000 for exec_id, ms in rows}


def _standin_positions(state: dict[str, Any]) -> dict[str, int]:
    return compare_positions(state)


def compare_positions(state: dict[str, Any]) -> dict[str, int]:
    from decimal import Decimal

    out = {p["symbol"]: int(Decimal(p["qty"])) for p in state["positions"]}
    return {s: q for s, q in out.items() if q}


def _confirm(driver: Any, action: str) -> None:
    """Press the button, then the dialog's Confirm (the page asks first)."""
    driver.find_element("id", action).click()
    assert wait_for(lambda: driver.find_element("id", "confirm").is_displayed(), 10)
    text = driver.find_element("id", "confirm-text").text
    assert action.split()[0].lower()[:5] in text.lower()
    driver.find_element("id", "confirm-ok").click()


def _operator_inputs(db: Path) -> list[tuple[int, int, dict[str, Any]]]:
    """(journal seq, engine time of its record, the command) of each operator command."""
    inputs = db_rows(db, "SELECT seq, payload FROM inputs WHERE kind='operator' ORDER BY seq")
    records = db_rows(db, "SELECT time_ns, payload FROM records WHERE kind='operator' ORDER BY id")
    times = {json.loads(p)["command_id"]: t for t, p in records}
    out = []
    for seq, payload in inputs:
        command = json.loads(payload)
        out.append((seq, times.get(command["command_id"], -1), command))
    return out


def _parents(db: Path) -> dict[str, str]:
    """parent id → purpose (entry/exit), from the engine's parent records."""
    rows = db_rows(db, "SELECT payload FROM records WHERE kind='parent'")
    return {json.loads(p)["parent_id"]: json.loads(p)["purpose"] for (p,) in rows}


def _telegram(run: Running) -> list[str]:
    return [m["text"] for m in run.standin.state()["telegram"]]


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


# -------------------------------------------------------------------- tests


def test_the_page_needs_the_token(dash: Dash) -> None:
    run, driver = dash.run, dash.driver
    for path in ("/", "/api/state", "/events", "/static/app.js", "/static/plotly.min.js"):
        assert _get(run.url + path) == 401, path
        assert _get(run.url + path, {"Authorization": "Bearer wrong-token-0000000000"}) == 401
    driver.get(run.url + "/")
    assert "401" in driver.find_element("tag name", "body").text
    assert driver.find_elements("id", "positions") == []
    driver.get(run.url + "/login?token=not-the-token-at-all")
    assert "token: wrong or missing" in driver.find_element("tag name", "body").text
    refused = driver.get_log("browser")  # the two 401s just provoked, nothing else
    assert refused and all("status of 401" in e["message"] for e in refused), refused
    dash.network += driver.get_log("performance")
    driver.get(run.url + "/login?token=" + TOKEN)
    assert driver.current_url == run.url + "/"  # redirected, the token gone from the URL
    assert wait_for(lambda: driver.find_element("id", "link").text == "live", 30)
    cookie = driver.get_cookie("sv_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] != TOKEN
    # The CLI's bearer route works too, and the page's CSRF token is not the login token.
    csrf = driver.find_element("css selector", 'meta[name="csrf-token"]').get_attribute("content")
    assert csrf and csrf != TOKEN
    assert TOKEN not in driver.page_source


def test_positions_and_fills_on_the_page_equal_sqlite_and_the_broker(dash: Dash) -> None:
    run, driver = dash.run, dash.driver
    assert wait_for(lambda: len(_db_positions(run.db)) >= 1, 240), "no position was opened"

    def agree() -> bool:
        state = run.standin.state()
        db_positions = _db_positions(run.db)
        return (
            _page_positions(driver) == db_positions == _standin_positions(state)
            and set(_page_fills(driver)) == _db_exec_ids(run.db)
            and compare(run.db, state).problems == []
        )

    assert wait_for(agree, 60, interval=0.5), (
        _page_positions(driver),
        _db_positions(run.db),
        compare(run.db, run.standin.state()).problems,
    )
    # The account panel is the engine's (equity text present, positions counted).
    count = driver.find_element("id", "positions-count").text
    assert count.startswith(f"{len(_db_positions(run.db))} / 20")
    _screenshot(dash)


def test_a_new_fill_appears_within_a_second_without_a_reload(dash: Dash) -> None:
    run, driver = dash.run, dash.driver
    marker = driver.execute_script("return (window.__mark = Math.random());")
    last_miss = time.time()
    known = {f["execution_id"] for f in run.standin.state()["fills"]}
    new: dict[str, Any] | None = None
    deadline = time.monotonic() + 300
    while new is None and time.monotonic() < deadline:
        asked = time.time()  # the fill did not exist when this poll was answered
        fills = run.standin.state()["fills"]
        fresh = [f for f in fills if f["execution_id"] not in known]
        if fresh:
            new = fresh[0]
            break
        last_miss = asked
        time.sleep(0.05)
    assert new is not None, "the stand-in made no new fill"
    exec_id = new["execution_id"]
    assert wait_for(lambda: exec_id in _page_fills(driver), 30, interval=0.05)
    latency = _page_fills(driver)[exec_id] - last_miss
    print(f"\nfill {exec_id}: on the page at most {latency * 1000:.0f} ms after it was made")
    assert latency < 1.0
    assert driver.execute_script("return window.__mark;") == marker  # no reload happened


def test_pause_stops_the_next_entry_while_an_exit_still_goes_out(dash: Dash) -> None:
    run, driver = dash.run, dash.driver
    assert wait_for(lambda: len(_db_positions(run.db)) >= 1, 300), "no position to exit"
    _confirm(driver, "pause")
    assert wait_for(
        lambda: driver.find_element("tag name", "body").get_attribute("data-paused") == "true", 15
    )
    (seq, paused_at, command), *_ = _operator_inputs(run.db)
    assert command["action"] == "pause" and command["origin"] == "dashboard"
    held = _db_positions(run.db, before_seq=seq)
    assert held, "a position was open when the pause came"

    def entry_refused_and_exit_done() -> bool:
        entries = db_rows(
            run.db,
            f"SELECT time_ns, symbol FROM signals WHERE signal LIKE 'ENTER%'"
            f" AND time_ns > {paused_at}",
        )
        now = _db_positions(run.db)
        exited = [s for s in held if now.get(s, 0) == 0]
        return bool(entries) and bool(exited)

    assert wait_for(entry_refused_and_exit_done, 600, interval=1.0), (
        held,
        _db_positions(run.db),
    )
    refusals = {
        (t, json.loads(p)["symbol"])
        for t, p in db_rows(
            run.db,
            f"SELECT time_ns, payload FROM records WHERE kind='risk' AND time_ns > {paused_at}",
        )
        if json.loads(p)["reason"] == "refused: entries paused"
    }
    entries = db_rows(
        run.db,
        f"SELECT time_ns, symbol FROM signals WHERE signal LIKE 'ENTER%' AND time_ns > {paused_at}",
    )
    assert {(t, s) for t, s in entries} <= refusals  # every entry signal recorded, refused
    purposes = _parents(run.db)
    after = db_rows(
        run.db, f"SELECT parent_id, side, symbol FROM orders WHERE created_ns > {paused_at}"
    )
    assert after, "an exit order went out while paused"
    assert {purposes[p] for p, _, _ in after} == {"exit"}
    assert any("operator_pause" in t and "by dashboard" in t for t in _telegram(run))
    assert run.state()["paused"] is True


def test_resume_from_the_shell_and_flatten_leaves_every_position_at_zero(dash: Dash) -> None:
    run, driver = dash.run, dash.driver
    done = run.cli("resume")
    assert done.returncode == 0, done.stderr
    assert "entries allowed" in done.stdout
    assert wait_for(
        lambda: driver.find_element("tag name", "body").get_attribute("data-paused") == "false", 15
    )
    resumed_seq = _operator_inputs(run.db)[-1][0]

    def new_position() -> bool:
        rows = db_rows(run.db, f"SELECT 1 FROM executions WHERE input_seq > {resumed_seq}")
        return bool(rows) and bool(_db_positions(run.db))

    assert wait_for(new_position, 300), "no entry after resume"
    _confirm(driver, "flatten")
    assert wait_for(lambda: _operator_inputs(run.db)[-1][2]["action"] == "flatten", 15)
    flatten_seq, flatten_at, command = _operator_inputs(run.db)[-1]
    assert command["origin"] == "dashboard"
    held = _db_positions(run.db, before_seq=flatten_seq)

    def flat_everywhere() -> bool:
        state = run.standin.state()
        return (
            _standin_positions(state) == {}
            and _db_positions(run.db) == {}
            and run.state()["positions"] == {}
            and _page_positions(driver) == {}
        )

    assert wait_for(flat_everywhere, 120, interval=0.5), (
        _standin_positions(run.standin.state()),
        _db_positions(run.db),
    )
    record = [
        json.loads(p)
        for (p,) in db_rows(run.db, "SELECT payload FROM records WHERE kind='operator'")
    ][-1]
    assert record["action"] == "flatten" and record["paused"] is True
    # Every position held then was closed by the flatten (or by an exit already working).
    assert set(record["exits"]) <= set(held)
    assert all(record["exits"][s] == held[s] for s in record["exits"])
    purposes = _parents(run.db)
    after = db_rows(run.db, f"SELECT parent_id FROM orders WHERE created_ns > {flatten_at}")
    assert {purposes[p] for (p,) in after} <= {"exit"}
    assert any("operator_flatten" in t for t in _telegram(run))
    assert compare(run.db, run.standin.state()).problems == []
    # Flatten is a kill switch: it stays paused, the page says so.
    assert run.state()["paused"] is True
    assert driver.find_element("id", "status").text == "ENTRIES PAUSED"


def test_every_panel_shows_what_the_engine_and_the_database_say(dash: Dash) -> None:
    """After the flatten the book is still (flat, paused), so page, API and
    SQLite can be compared exactly."""
    run, driver = dash.run, dash.driver
    api = run.state()
    symbols = [a["symbol"] for a in api["agents"]]

    def account_and_equity_agree() -> bool:
        api_now = run.state()
        _, equity = run.api("/api/equity")
        page_equity = driver.execute_script(  # the <dd> is made anew at each state
            "const e = document.getElementById('account-equity'); return e && e.textContent;"
        )
        last = equity["history"][-1][1] if equity["history"] else None
        return (
            page_equity == api_now["account"]["equity"]
            and last is not None
            and abs(last - float(api_now["account"]["equity"])) < 0.005
            and bool(equity["session"])
            and equity["session"][-1] == equity["history"][-1]
        )

    assert wait_for(account_and_equity_agree, 30)
    tca_db = {p for (p,) in db_rows(run.db, "SELECT parent_id FROM tca")}
    assert tca_db, "no parent finished during the session"

    def panels_agree() -> bool:
        api_now = run.state()
        agents = _rows(driver, "#agents tbody tr", "symbol", "health")
        working = _rows(driver, "#working .parent", "parentId")
        tca = _rows(driver, "#tca tbody tr", "parentId")
        connections = driver.execute_script(
            "return Array.from(document.querySelectorAll('#connections tbody tr'))"
            ".map(r => r.children[1].textContent);"
        )
        return (
            [a for a, _ in agents] == symbols
            and [h for _, h in agents] == [a["health"] for a in api_now["agents"]]
            and {w for (w,) in working} == {p["parent_id"] for p in api_now["working"]}
            and {t for (t,) in tca} == tca_db
            and connections == [c["status"] for c in api_now["connections"]]
            and connections == ["connected", "connected"]
        )

    assert wait_for(panels_agree, 30)
    assert any(a["support"] for a in api["agents"]), "no agent has a support zone"

    def zones_agree() -> bool:  # the zones move with new bars: page and API read together
        page = driver.execute_script(
            "return Array.from(document.querySelectorAll('#agents tbody tr'))"
            ".map(r => [r.children[1].textContent, r.children[2].textContent]);"
        )
        zone = lambda z: f"{z[0]}–{z[1]}" if z else ""  # noqa: E731
        api_zones = [[zone(a["support"]), zone(a["resistance"])] for a in run.state()["agents"]]
        return bool(page == api_zones)

    assert wait_for(zones_agree, 30, interval=0.1)
    kinds = set(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('#alerts .kind')).map(e => e.textContent);"
        )
    )
    assert {"gateway_started", "operator_pause", "operator_resume", "operator_flatten"} <= kinds
    db_kinds = {k for (k,) in db_rows(run.db, "SELECT kind FROM alerts")}
    assert kinds <= db_kinds  # every alert on the page is one the database has
    types, shapes, shown = driver.execute_script(
        "const c = document.getElementById('chart');"
        " return [c.data.map(t => t.type), (c.layout.shapes || []).length,"
        " document.getElementById('symbol').value];"
    )
    (agent,) = [a for a in run.state()["agents"] if a["symbol"] == shown]
    assert types[0] == "candlestick"  # the bars, then our buys and sells
    assert shapes >= bool(agent["support"]) + bool(agent["resistance"])  # the S/R zones


def test_no_console_errors_and_no_request_to_another_origin(dash: Dash) -> None:
    dash.logs()
    severe = [e for e in dash.console if e["level"] == "SEVERE"]
    assert severe == []
    origin = dash.run.url
    urls = requested_urls(dash.network)
    assert any(u.startswith(origin + "/static/plotly.min.js") for u in urls)
    assert any(u == origin + "/events" for u in urls)
    # Browser-internal pages (chrome://, about:, data:) are not network origins.
    network = [u for u in urls if u.split(":", 1)[0] in ("http", "https", "ws", "wss")]
    foreign = [u for u in network if not u.startswith(origin + "/")]
    assert foreign == []


def _screenshot(dash: Dash) -> None:
    """docs/dashboard.png is made here (``SOVEREIGN_DOCS_SCREENSHOT=1`` writes it)."""
    driver = dash.driver
    asked = driver.execute_script("return Date.now();")

    def redrawn_since_asked() -> bool:  # the latest bars and fills are on both charts
        drawn = driver.execute_script(
            "return [document.getElementById('chart').dataset.drawn,"
            " document.getElementById('equity-session').dataset.drawn,"
            " !!document.querySelector('#chart .main-svg')];"
        )
        return bool(drawn[2]) and int(drawn[0] or 0) > asked and int(drawn[1] or 0) > 0

    assert wait_for(redrawn_since_asked, 30, interval=0.1)
    shot = dash.run.workdir / "dashboard.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000
    if os.environ.get("SOVEREIGN_DOCS_SCREENSHOT") == "1":
        shutil.copy(shot, ROOT / "docs" / "dashboard.png")
