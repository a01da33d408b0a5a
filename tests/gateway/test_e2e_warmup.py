"""End to end: a fresh gateway warms its agents up from the broker's history
(``/v2/stocks/bars``, paged) before trading, and decisions taken on old bars
are never sent."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gateway.harness import GatewayProc, StandIn, db_rows, wait_for, write_config

MINUTES_PER_SESSION = 390
DAY_NS = 86_400 * 10**9
STALE = "%stale: entry decided on an old bar%"
UNSENT = "%canceled before it was sent%"


def _days(db: Path) -> set[int]:
    """The days (UTC day numbers) of the bars the gateway journaled."""
    rows = db_rows(db, "SELECT json_extract(payload, '$.time_ns') FROM inputs WHERE kind='bar'")
    return {int(t) // DAY_NS for (t,) in rows}


def test_fresh_gateway_warms_up_from_paged_history(tmp_path: Path) -> None:
    standin = StandIn(
        tmp_path,
        "--scenario",
        "range",
        "--speed",
        "60",
        "--history-days",
        "1",
        "--bars-page-max",
        "700",
    )
    db = tmp_path / "gateway.db"
    log = tmp_path / "logs" / "e2e.jsonl"
    try:
        config = write_config(tmp_path, standin)
        gateway = GatewayProc(config)
        try:
            assert wait_for(lambda: log.exists() and '"event": "ready"' in log.read_text(), 40)
            # Ready can come before the first live minute ends (a fast start at
            # 60x); the live day's bars follow on the stream.
            assert wait_for(lambda: len(_days(db)) >= 2, 30), _days(db)
            assert gateway.terminate() == 0
        finally:
            gateway.terminate()
        broker_ids = {o["client_order_id"] for o in standin.state()["orders"]}
    finally:
        standin.stop()
    bars = db_rows(db, "SELECT COUNT(*) FROM inputs WHERE kind='bar'")[0][0]
    assert bars >= 5 * MINUTES_PER_SESSION  # a whole session, over several pages of 700
    assert len(_days(db)) >= 2  # history day and live day
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x for x in lines if x.get("event") == "backfill" and "catch-up" in x["msg"]]
    # This market has an entry signal on a history bar (day 1): it was never sent
    # to the broker, refused as stale by the sender or, when the engine had
    # already cancelled it on a later history bar, ended canceled before it was
    # sent; either way no false "unknown to the broker" discrepancy.
    prefix = db_rows(db, "SELECT value FROM meta WHERE key='id_prefix'")[0][0]
    unsent = [
        json.loads(r[0])["client_order_id"]
        for r in db_rows(
            db,
            f"SELECT payload FROM records WHERE kind='order' AND (payload LIKE '{STALE}'"
            f" OR payload LIKE '{UNSENT}')",
        )
    ]
    assert unsent
    assert not {prefix + i for i in unsent} & broker_ids
    alerts = [t for (t,) in db_rows(db, "SELECT text FROM alerts WHERE kind='discrepancy'")]
    assert not alerts, alerts
    print(f"\nwarm-up: {bars} bars journaled, {len(unsent)} old entries never sent")
