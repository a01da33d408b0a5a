"""Issue 7's tier-boundary test, end to end: deposits move the account up across
$100K and $1M, a withdrawal back down across $1M, and the very next order goes
to the other broker each time, no restart.

The real ``python -m gateway --config`` process (``[broker] type = "tiered"``
with ``[alpaca]``, ``[ibkr]`` and ``[fix]``) trades against the real
``python -m standins``. The account starts at $95,000 (retail: Alpaca). Money
is deposited at the Alpaca stand-in (``POST /_control {"cash_flow": ...}``),
which records a CSD activity; the gateway polls ``/v2/account/activities``,
journals the transfer and hands it to the engine as a ``CashFlow``. The test
then checks, from the gateway's own files:

* every order sent after the engine booked the deposit went to the new tier's
  broker (or, reducing a position, to the broker holding it, which the
  gateway logs as ``tier_exit_route``), and at least one reached it;
* the crossing was logged (``tier change retail -> semi_institutional``) and
  alerted (``tier_change`` in the ``alerts`` table), once per crossing;
* the transfers are in ``cash_flows`` once each, and a withdrawal of more than
  the whole equity is refused with a ``cash_flow_refused`` alert;
* the gateway started once (one ``ready`` line, the same process throughout).

Waits are on conditions (routes appearing, rows appearing), so a loaded
machine makes the test slower, not flaky; each phase has its own deadline.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

from tests.gateway.harness import GatewayProc, StandIn, db_rows, wait_for, write_tiered_config

START_BALANCE = 95_000
SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"]


class Session:
    """Reads the running gateway's files: routes, cash flows, alerts, log."""

    def __init__(self, workdir: Path, standin: StandIn, gateway: GatewayProc) -> None:
        self.workdir = workdir
        self.standin = standin
        self.gateway = gateway
        self.db = workdir / "gateway.db"
        self.routes_db = workdir / "gateway.db"  # routes live in the trade database
        self.log = workdir / "logs" / "crossing.jsonl"

    def routes(self) -> dict[str, str]:
        return dict(db_rows(self.routes_db, "SELECT broker_client_id, broker FROM routes"))

    def flows(self) -> list[tuple[str, int]]:
        return [
            (str(f), int(a)) for f, a in db_rows(self.db, "SELECT flow_id, amount FROM cash_flows")
        ]

    def alerts(self, kind: str) -> list[str]:
        return [str(t) for (t,) in db_rows(self.db, f"SELECT text FROM alerts WHERE kind='{kind}'")]

    def events(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def alive(self) -> bool:
        return self.gateway.proc.poll() is None

    def why(self) -> str:
        err = (self.workdir / "gateway.err").read_text()[-3000:]
        return f"routes {self.routes()}\nflows {self.flows()}\n{err}"

    def deposit(self, dollars: str) -> str:
        """Move money at the Alpaca stand-in; wait until the engine has booked it.
        Returns the activity id; afterwards the routes already written are those
        sent before (or while) the deposit was booked."""
        answer = self.standin.control({"cash_flow": dollars})
        assert answer["ok"], answer
        flow_id = str(answer["activity"]["id"])
        assert wait_for(lambda: flow_id in dict(self.flows()), 30), self.why()
        return flow_id

    def next_orders_go_to(self, broker: str, before: set[str], timeout: float) -> list[str]:
        """Wait for an order at ``broker`` among those sent after ``before``; every
        one of them must be at ``broker`` or an exit routed to its holder."""
        assert wait_for(
            lambda: any(b == broker for c, b in self.routes().items() if c not in before), timeout
        ), self.why()
        after = {c: b for c, b in self.routes().items() if c not in before}
        held = {
            str(e.get("msg", "")).split()[1]
            for e in self.events()
            if e.get("event") == "tier_exit_route"
        }
        for cid, where in after.items():
            assert where == broker or cid in held, (cid, where, broker, held)
        return sorted(after)


def test_deposits_cross_100k_and_1m_and_change_routing_at_the_next_order(
    tmp_path: Path,
) -> None:
    standin = StandIn(
        tmp_path,
        "--scenario", "range", "--speed", "1200", "--history-days", "1",
        "--days", "4", "--balance", "10000000",
    )  # fmt: skip
    gateway = None
    started = time.monotonic()
    try:
        config = write_tiered_config(
            tmp_path,
            standin,
            name="crossing",
            balance=START_BALANCE,
            ibkr=True,
            fix=True,
            client_id=7,
            symbols=tuple(SYMBOLS),
        )
        gateway = GatewayProc(config)
        s = Session(tmp_path, standin, gateway)
        assert wait_for(lambda: s.log.exists() and '"event": "ready"' in s.log.read_text(), 60), (
            s.why()
        )
        pid = gateway.proc.pid

        # Retail: $95,000, orders at Alpaca (market orders only).
        assert wait_for(lambda: len(s.routes()) >= 1, 60), s.why()
        assert set(s.routes().values()) == {"alpaca"}

        # Deposit $150,000: semi-institutional, next orders through ib_async.
        first = s.deposit("150000.00")
        before = set(s.routes())
        semi = s.next_orders_go_to("ibkr", before, 60)
        assert s.alive() and gateway.proc.pid == pid

        # Deposit $900,000: institutional, next orders over FIX.
        second = s.deposit("900000")
        before = set(s.routes())
        institutional = s.next_orders_go_to("fix", before, 60)
        assert s.alive()

        # Withdraw $400,000 (equity ≈ $1.145M ± P&L): back to semi, orders to IBKR.
        third = s.deposit("-400000")
        before = set(s.routes())
        back = s.next_orders_go_to("ibkr", before, 60)
        assert s.alive()

        # A withdrawal of more than the whole equity is refused, not booked.
        refused = s.deposit("-5000000")
        assert wait_for(lambda: s.alerts("cash_flow_refused"), 10), s.why()

        # The stand-in re-reports every activity at every poll: still once each.
        time.sleep(2.5)
        flows = s.flows()
        assert [f for f, _ in flows] == [first, second, third, refused]
        assert [a for _, a in flows] == [
            150_000 * 10**9,
            900_000 * 10**9,
            -400_000 * 10**9,
            -5_000_000 * 10**9,
        ]
        assert gateway.terminate() == 0
        gateway = None
        state = standin.state()
    finally:
        if gateway is not None:
            gateway.terminate()
        standin.stop()
    elapsed = time.monotonic() - started

    events = s.events()
    messages = [str(e.get("msg", "")) for e in events]
    assert sum(1 for e in events if e.get("event") == "ready") == 1  # never restarted
    assert "trading tier retail: orders go to alpaca" in messages
    changes = [m for m in messages if m.startswith("tier change ")]
    assert [m.split(":")[0] for m in changes] == [
        "tier change retail -> semi_institutional",
        "tier change semi_institutional -> institutional",
        "tier change institutional -> semi_institutional",
    ], changes
    assert "new orders go to ibkr" in changes[0] and "new orders go to fix" in changes[1]
    assert "new orders go to ibkr" in changes[2]
    alerts = s.alerts("tier_change")
    assert len(alerts) == 3
    assert "retail -> semi_institutional" in alerts[0]
    assert "semi_institutional -> institutional" in alerts[1]
    assert "institutional -> semi_institutional" in alerts[2]
    booked = s.alerts("cash_flow")
    assert len(booked) == 3 and "tier retail -> semi_institutional" in booked[0]
    assert "tier semi_institutional -> institutional" in booked[1]
    assert "tier institutional -> semi_institutional" in booked[2]
    assert "withdrawal of 5000000 would leave no equity" in s.alerts("cash_flow_refused")[0]

    # The stand-in's ledger agrees: four activities, cash moved by all four.
    activities = state["activities"]
    assert [a["id"] for a in activities] == [first, second, third, refused]
    assert [a["activity_type"] for a in activities] == ["CSD", "CSD", "CSW", "CSW"]
    assert sum(Decimal(a["net_amount"]) for a in activities) == Decimal(-4_350_000)

    # Every execution at FIX / IBKR belongs to an order routed there after a crossing.
    routes = s.routes()
    assert {routes[c] for c in semi} >= {"ibkr"}
    assert {routes[c] for c in institutional} >= {"fix"}
    assert {routes[c] for c in back} >= {"ibkr"}
    prefix = db_rows(s.db, "SELECT value FROM meta WHERE key='id_prefix'")[0][0]
    for e in state.get("fix", {}).get("executions", []):
        assert routes[e["cl_ord_id"]] == "fix" and e["cl_ord_id"].startswith(prefix)
    print(
        f"\ntier crossing e2e: {len(routes)} orders"
        f" ({sum(b == 'alpaca' for b in routes.values())} Alpaca,"
        f" {sum(b == 'ibkr' for b in routes.values())} IBKR,"
        f" {sum(b == 'fix' for b in routes.values())} FIX), {elapsed:.1f}s"
    )
