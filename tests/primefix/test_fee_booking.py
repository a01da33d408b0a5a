"""The gateway books the broker's reported fee beside the model's estimate
(issue 12): the real Gateway and Engine over FIX against the prime-broker
stand-in. Each execution row holds the fee the stand-in reported in tag 12
and the prime schedule's estimate (``gateway.fees``); each parent's TCA holds
both sums."""

from __future__ import annotations

import json
from pathlib import Path

from core.commands import Side
from core.execution.commissions import fee_model
from core.execution.venues import default_venues
from core.money import price_from_decimal
from gateway.brokers.prime_fix import PrimeFixBroker
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import Storage
from standins.faults import Faults
from standins.fix_pb.server import FixPrimeBroker
from standins.server import Options, StandIn
from tests.primefix.conftest import run, settings
from tests.primefix.test_runtime import CONFIG, ManualData, _market, quiesce


def test_executions_and_tca_carry_the_reported_fee_and_the_models(tmp_path: Path) -> None:
    market = _market()
    bars = list(market.live)

    async def scenario() -> tuple[dict[str, int], dict[str, list[str]]]:
        standin = StandIn(market, Options(seed=1), Faults(seed=1))
        pb = FixPrimeBroker(standin)
        port = await pb.start()
        data = ManualData(market, pb)
        pb.app.market_now = lambda: data.now
        config = parse_config(CONFIG, env={}, base=tmp_path)
        broker = PrimeFixBroker(settings(port, tmp_path / "g.fix"), data)
        gateway = Gateway(config, broker, Storage(tmp_path / "g.db"), None, RuntimeOptions())
        await gateway.start(loops=False)
        for bar in bars[:1500]:
            await data.publish(bar)
            await quiesce(gateway, broker, pb)
        reported = {
            str(e["exec_id"]): price_from_decimal(str(e["fee"]), "fee") for e in pb.book.executions
        }
        children = {
            p.parent_id: [f.exec_id for c in p.children for f in c.fills]
            for p in gateway.engine.parents()
        }
        await gateway.stop()
        await pb.stop()
        return reported, children

    reported, children = run(scenario())
    storage = Storage(tmp_path / "g.db")
    rows = storage.booked.fee_rows()
    assert len(rows) >= 3, "the account traded"
    # an independent pass of the prime schedule over the same executions, in order
    model = fee_model("prime")
    take = {v.name: v.take_fee for v in default_venues()}
    differs = 0
    for row in rows:
        assert row["model_fee"] is not None, row
        cid = str(row["client_order_id"])
        expected = model.charge(
            cid, Side(str(row["side"])), int(row["quantity"]), int(row["price"]),
            take.get(str(row["venue"]), 0) * int(row["quantity"]),
        )  # fmt: skip
        assert row["model_fee"] == expected, row
        assert row["fee"] == reported[str(row["exec_id"])], row  # what tag 12 said
        differs += row["fee"] != row["model_fee"]
    assert differs, "the stand-in reports venue fees only: the model adds the commission"
    tca = [json.loads(p) for (p,) in storage.db.execute("SELECT payload FROM tca").fetchall()]
    with_fills = [t for t in tca if t.get("filled")]
    assert with_fills
    by_exec = {str(r["exec_id"]): r for r in rows}
    for record in with_fills:
        mine = [by_exec[e] for e in children[record["parent_id"]] if e in by_exec]
        assert record["broker_fees"] == sum(int(r["fee"]) for r in mine)
        assert record["model_fees"] == sum(int(r["model_fee"]) for r in mine)
    storage.close()
