"""SQLite trade database: migrations, WAL, unique executions, journal, trades P&L."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.commands import Fill, OrderUpdate, OrdStatus, Side, Timer
from core.events import Bar
from gateway import journal
from gateway.storage import MIGRATIONS, SCHEMA_VERSION, DuplicateExecution, Storage

P = 10**9


def fill(exec_id: str, qty: int = 10, price: int = 100 * P) -> Fill:
    return Fill(1_000, "AAPL-1", exec_id, "AAPL", Side.BUY, qty, price, "alpaca")


def test_migrations_are_ordered_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    s = Storage(path)
    assert s.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)
    s.journal.append(5, fill("x1"))
    s.close()
    again = Storage(path)  # opening a current database changes nothing
    assert again.schema_version() == SCHEMA_VERSION
    assert again.migrate() == SCHEMA_VERSION
    rows = again.db.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    assert again.count("executions") == 1


def test_an_old_database_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("BEGIN")
    MIGRATIONS[0](db)
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("COMMIT")
    db.close()
    s = Storage(path)
    assert s.schema_version() == SCHEMA_VERSION
    names = {r[0] for r in s.db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "executions_by_order" in names


def test_wal_mode_and_private_file(tmp_path: Path) -> None:
    s = Storage(tmp_path / "w.db")
    assert s.journal_mode() == "wal"
    assert (tmp_path / "w.db").stat().st_mode & 0o077 == 0


def test_execution_ids_are_unique(tmp_path: Path) -> None:
    s = Storage(tmp_path / "u.db")
    s.journal.append(1, fill("E1"))
    with pytest.raises(DuplicateExecution):
        s.journal.append(2, fill("E1", qty=99))
    assert s.count("executions") == 1 and s.count("inputs") == 1  # nothing half-written
    with pytest.raises(sqlite3.IntegrityError):
        s.db.execute(
            "INSERT INTO executions(exec_id, client_order_id, symbol, side, quantity, price,"
            " price_text, fee, time_ns, source, input_seq) VALUES ('E1','o','A','buy',1,1,'1',0,0,"
            "'x',1)"
        )
    assert s.journal.has_execution("E1") and not s.journal.has_execution("E2")
    assert s.booked.executions()[0]["quantity"] == 10


def test_journal_round_trips_every_event_kind(tmp_path: Path) -> None:
    s = Storage(tmp_path / "j.db")
    events = [
        Bar("AAPL", 60 * P, 10 * P, 11 * P, 9 * P, 10 * P, 500, None, 3),
        fill("E9"),
        OrderUpdate(7, "AAPL-1", OrdStatus.CANCELED, "canceled"),
        Timer(8, "wake:P-AAPL-1"),
    ]
    for i, event in enumerate(events):
        s.journal.append(i * 10, event)
    assert [(at, e) for _, at, e in s.journal.inputs()] == [
        (i * 10, e) for i, e in enumerate(events)
    ]
    assert s.journal.last_bar_times() == {"AAPL": 60 * P}


@settings(max_examples=60, deadline=None)
@given(
    symbol=st.sampled_from(["AAPL", "BRK.B", "X"]),
    time_ns=st.integers(0, 2**62),
    low=st.integers(1, 10**15),
    spread=st.integers(0, 10**12),
    volume=st.integers(0, 2**63 - 1),
)
def test_bar_codec_is_lossless(
    symbol: str, time_ns: int, low: int, spread: int, volume: int
) -> None:
    bar = Bar(symbol, time_ns, low + spread, low + spread, low, low, volume)
    assert journal.decode("bar", journal.encode(bar)) == bar


def test_trades_record_open_add_close_with_exact_pnl(tmp_path: Path) -> None:
    s = Storage(tmp_path / "t.db")
    trade = s.trades.record_open("AAPL", 1, 10, 100 * P, 1)
    s.trades.add_to_trade(trade, 10, 102 * P)
    assert s.trades.open_trade("AAPL") == (trade, 1, 20, 2020 * P)
    s.trades.add_realized(trade, 25 * P)
    total = s.trades.record_close(trade, 105 * P, 9, 75 * P)
    assert total == 100 * P
    row = s.trades.all()[0]
    assert row["status"] == "closed" and row["realized_text"] == "100"
    assert row["entry_price_text"] == "101" and row["exit_price_text"] == "105"
    assert s.trades.open_trade("AAPL") is None


def test_orders_and_outbox_flags(tmp_path: Path) -> None:
    s = Storage(tmp_path / "o.db")
    assert s.orders.record_order(
        "AAPL-1",
        "px-AAPL-1",
        parent_id="P-AAPL-0",
        symbol="AAPL",
        side="buy",
        quantity=5,
        order_type="market",
        limit_price=None,
        time_in_force="day",
        created_ns=3,
    )
    assert not s.orders.record_order(
        "AAPL-1",
        "px-AAPL-1",
        parent_id=None,
        symbol="AAPL",
        side="buy",
        quantity=5,
        order_type="market",
        limit_price=None,
        time_in_force="day",
        created_ns=3,
    )
    stored = s.orders.order("AAPL-1")
    assert stored is not None and not stored.sent
    s.orders.mark_sent("AAPL-1", "uuid-1")
    s.orders.update_order("AAPL-1", "filled", 5, 9)
    stored = s.orders.order("AAPL-1")
    assert stored is not None and stored.sent and stored.filled == 5
    assert s.orders.open_orders() == []
    assert s.orders.record_request("C1", "cancel", "AAPL-1", None, None, 4)
    assert not s.orders.request_sent("C1")
    s.orders.mark_request_sent("C1")
    assert s.orders.request_sent("C1")


def test_nested_transactions_are_all_or_nothing(tmp_path: Path) -> None:
    s = Storage(tmp_path / "n.db")
    with pytest.raises(RuntimeError), s.transaction():
        s.records.record_alert(1, "info", "a", "one")
        s.records.record_signal(1, {"symbol": "AAPL", "signal": "ENTER_LONG"})
        raise RuntimeError("crash mid-way")
    assert s.count("alerts") == 0 and s.count("signals") == 0


def test_meta_default_is_made_once(tmp_path: Path) -> None:
    s = Storage(tmp_path / "m.db")
    assert s.meta_default("seed", lambda: "1") == "1"
    assert s.meta_default("seed", lambda: "2") == "1"


def test_day_totals_count_the_session_window(tmp_path: Path) -> None:
    s = Storage(tmp_path / "d.db")
    s.journal.append(1, Fill(100, "AAPL-1", "E1", "AAPL", Side.BUY, 10, 100 * P))
    s.journal.append(2, Fill(300, "AAPL-2", "E2", "AAPL", Side.SELL, 10, 103 * P))
    trade = s.trades.record_open("AAPL", 1, 10, 100 * P, 100)
    s.trades.record_close(trade, 103 * P, 300, 30 * P)
    assert s.trades.day_totals(0, 1_000) == (2, 1, 30 * P)
    assert s.trades.day_totals(200, 1_000) == (1, 1, 30 * P)
    assert s.trades.day_totals(0, 200) == (1, 0, 0)


def test_executions_after_a_replace_join_their_order_through_order_ids(tmp_path: Path) -> None:
    """A cancel/replace gives the order a new id, and the broker reports its
    executions under it: joined to ``orders`` directly they were lost (a
    parent's executions summed to less than its TCA). ``order_ids`` maps
    every id an order has had, replaces of replaces too, to its row."""
    s = Storage(tmp_path / "r.db")
    s.orders.record_order(
        "AAPL-1", "b-AAPL-1", parent_id="P-1", symbol="AAPL", side="buy", quantity=100,
        order_type="limit", limit_price=10**11, time_in_force="day", created_ns=1,
    )  # fmt: skip
    s.orders.record_request("AAPL-2", "replace", "AAPL-1", 150, 10**11, 2)
    s.orders.record_request("AAPL-3", "cancel", "AAPL-2", None, None, 3)
    s.orders.record_request("AAPL-4", "replace", "AAPL-2", 200, 10**11, 4)
    for n, cid in enumerate(("AAPL-1", "AAPL-2", "AAPL-4"), start=1):
        s.journal.append(n, Fill(n, cid, f"E{n}", "AAPL", Side.BUY, 10 * n, 10**11), "stream")
    rows = s.db.execute(
        "SELECT o.parent_id, SUM(e.quantity) FROM executions e"
        " JOIN order_ids i ON i.client_order_id = e.client_order_id"
        " JOIN orders o ON o.client_order_id = i.order_id GROUP BY o.parent_id"
    ).fetchall()
    assert rows == [("P-1", 60)]
    ids = dict(s.db.execute("SELECT client_order_id, order_id FROM order_ids").fetchall())
    assert ids == {"AAPL-1": "AAPL-1", "AAPL-2": "AAPL-1", "AAPL-4": "AAPL-1"}


def test_a_version_3_database_gains_the_model_fee_beside_each_booked_fee(tmp_path) -> None:
    """Schema v4 (issue 12): executions booked before it keep their fee and have no
    estimate; new ones carry the model's estimate and the venue."""
    import sqlite3

    from core.commands import Fill, Side

    db = tmp_path / "v3.db"
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, step in enumerate(MIGRATIONS[:3], start=1):
        step(raw)
        raw.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
    raw.execute("INSERT INTO inputs(at_ns, kind, payload) VALUES (1, 'fill', '{}')")
    raw.execute(
        "INSERT INTO executions(exec_id, client_order_id, symbol, side, quantity, price,"
        " price_text, fee, time_ns, source, input_seq) VALUES"
        " ('old', 'A-1', 'AAA', 'buy', 10, 5, '5', 7, 1, 'stream', 1)"
    )
    raw.close()
    s = Storage(db)
    assert s.schema_version() == SCHEMA_VERSION >= 4
    new = Fill(2, "A-2", "new", "AAA", Side.SELL, 10, 5, "NYSE", 3)
    s.journal.append(2, new, "stream", model_fee=4)
    rows = {r["exec_id"]: r for r in s.booked.fee_rows()}
    assert (rows["old"]["fee"], rows["old"]["model_fee"], rows["old"]["venue"]) == (7, None, "")
    assert (rows["new"]["fee"], rows["new"]["model_fee"], rows["new"]["venue"]) == (3, 4, "NYSE")
    assert s.booked.fee_totals(["old", "new"]) == (10, 4) and s.booked.fee_totals([]) == (0, None)
    s.close()


def _v5_database(path: Path) -> None:
    """A database as schema 5 left it (before routes and marks moved in)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, migration in enumerate(MIGRATIONS[:5], start=1):
        db.execute("BEGIN")
        migration(db)
        db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        db.execute("COMMIT")
    db.close()


def test_v6_adopts_the_routes_and_processed_marks_of_the_old_separate_files(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gw.db"
    _v5_database(path)
    routes = sqlite3.connect(tmp_path / "gw.db.routes.sqlite", isolation_level=None)
    routes.execute("CREATE TABLE routes (broker_client_id TEXT PRIMARY KEY, broker TEXT NOT NULL)")
    routes.execute("INSERT INTO routes VALUES ('sv1-1', 'alpaca'), ('sv1-2', 'fix')")
    routes.close()
    store = sqlite3.connect(tmp_path / "gw.db.fix.sqlite", isolation_level=None)
    store.execute("CREATE TABLE prime_fix_processed (key TEXT PRIMARY KEY, seq INTEGER)")
    store.execute("INSERT INTO prime_fix_processed VALUES ('FIX.4.4:SV->PB', 41)")
    store.close()

    s = Storage(path)
    assert s.schema_version() == SCHEMA_VERSION == 6
    assert s.routes.load() == {"sv1-1": "alpaca", "sv1-2": "fix"}
    assert s.marks.get("FIX.4.4:SV->PB") == 41
    assert s.count("routes") == 2 and s.count("processed_marks") == 1
    s.routes.put("sv1-3", "ibkr")
    s.marks.put("FIX.4.4:SV->PB", 57)
    s.close()
    # the old files were only read; reopening adopts nothing twice and loses nothing
    assert sqlite3.connect(tmp_path / "gw.db.routes.sqlite").execute(
        "SELECT COUNT(*) FROM routes"
    ).fetchone() == (2,)
    again = Storage(path)
    assert again.routes.load() == {"sv1-1": "alpaca", "sv1-2": "fix", "sv1-3": "ibkr"}
    assert again.marks.get("FIX.4.4:SV->PB") == 57
    assert again.marks.get("another session") is None


def test_v6_on_a_database_without_old_files_creates_nothing_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    _v5_database(path)
    s = Storage(path)
    assert s.routes.load() == {} and s.marks.get("k") is None
    assert not (tmp_path / "new.db.routes.sqlite").exists()
    assert not (tmp_path / "new.db.fix.sqlite").exists()
