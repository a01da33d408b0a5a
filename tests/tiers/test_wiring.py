"""The tiered broker's production wiring: routes kept on disk across a restart,
``build_tiered`` from a config, the prime broker resuming from its own
executions only, and ``bind_gateway`` alerting through the gateway."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.commands import Side, SubmitOrder
from core.errors import BadInput
from core.money import PRICE_SCALE
from core.tiers import AccountTier
from gateway.brokers.tiered import (
    TieredBroker,
    bind_gateway,
    build_tiered,
    fix_store_path,
)
from gateway.config import parse_config
from gateway.storage import Storage
from tests.tiers.fakes import FakeBroker

CONFIG = """
[broker]
type = "alpaca"
[alpaca]
api_key = "k"
secret_key = "s"
rest_url = "http://127.0.0.1:9"
[ibkr]
port = 4002
account_id = "DU1"
[fix]
port = 9
sender_comp_id = "SOVEREIGN"
target_comp_id = "PRIMEBROKER"
[database]
path = "g.db"
[portfolio]
initial_balance = 100000
[universe]
symbols = ["AAPL", "MSFT"]
"""


def order(n: int, symbol: str = "AAPL") -> SubmitOrder:
    return SubmitOrder(n, f"o{n}", None, symbol, Side.BUY, 10)


def test_routes_survive_a_restart_so_no_broker_is_asked(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    alpaca, ibkr, fix = FakeBroker("alpaca"), FakeBroker("ibkr"), FakeBroker("fix")
    tier = [AccountTier.RETAIL]
    first = TieredBroker(alpaca, ibkr, fix, tier_of=lambda: tier[0], routes=Storage(path).routes)

    async def before() -> None:
        await first.submit(order(1), "c1")
        tier[0] = AccountTier.INSTITUTIONAL
        await first.submit(order(2), "c2")
        await first.close()

    asyncio.run(before())
    second = TieredBroker(alpaca, ibkr, fix, routes=Storage(path).routes)
    assert second.owner("c1") is alpaca and second.owner("c2") is fix
    asyncio.run(second.cancel("c2"))
    assert ("order", "c2") not in alpaca.calls + ibkr.calls + fix.calls  # not asked: known
    assert fix.calls[-1] == ("cancel", "c2")
    # a broker no longer configured: its orders are looked up instead
    third = TieredBroker(alpaca, ibkr, None, routes=Storage(path).routes)
    assert third.owner("c2") is None and third.owner("c1") is alpaca


def test_build_tiered_makes_one_broker_per_section(tmp_path: Path) -> None:
    config = parse_config(CONFIG, env={}, base=tmp_path)
    tiered = build_tiered(config)  # --check: nothing written
    assert [b.name for b in tiered.brokers] == ["alpaca", "ibkr", "fix"]
    assert tiered.data.name == "alpaca" and tiered.routes is None
    assert tiered.broker_for(AccountTier.INSTITUTIONAL).data_broker is None  # type: ignore[attr-defined]
    assert not config.database.path.exists()
    only = dataclasses.replace(config, ibkr=None, fix=None)
    assert [b.name for b in build_tiered(only).brokers] == ["alpaca"]
    with pytest.raises(BadInput) as info:
        build_tiered(dataclasses.replace(config, alpaca=None))
    assert info.value.field == "alpaca"
    ib_bars = dataclasses.replace(
        config, broker=SimpleNamespace(type="tiered", paper=True, bars="ibkr")
    )
    assert build_tiered(ib_bars).data.name == "ibkr"
    with pytest.raises(BadInput) as info:
        build_tiered(dataclasses.replace(ib_bars, ibkr=None))
    assert info.value.field == "broker.bars"
    bad = dataclasses.replace(config, broker=SimpleNamespace(type="tiered", paper=True, bars="x"))
    with pytest.raises(BadInput):
        build_tiered(bad)


class FakeBooked:
    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows

    def executions(self) -> list[dict[str, object]]:
        return self.rows


class FakeStorage:
    def __init__(self, rows: list[dict[str, object]], real: Storage) -> None:
        self.rows = rows
        self.booked = FakeBooked(rows)
        self.routes, self.marks = real.routes, real.marks

    def meta(self, key: str) -> str | None:
        return "sv1-" if key == "id_prefix" else None


def test_the_prime_broker_resumes_from_its_own_executions_only(tmp_path: Path) -> None:
    config = parse_config(CONFIG, env={}, base=tmp_path)
    real = Storage(config.database.path)
    real.routes.put("sv1-1", "alpaca")
    real.routes.put("sv1-2", "fix")
    real.routes.put("sv1-3", "ibkr")

    def row(cid: str, qty: int) -> dict[str, object]:
        return dict(
            exec_id=f"x{cid}",
            client_order_id=cid,
            symbol="AAPL",
            side="buy",
            quantity=qty,
            price=100 * PRICE_SCALE,
            fee=0,
            time_ns=1,
        )

    storage = FakeStorage([row("1", 5), row("2", 7), row("3", 11)], real)
    tiered = build_tiered(config, storage)
    fix = tiered.broker_for(AccountTier.INSTITUTIONAL)
    assert asyncio.run(fix.positions()) == {"AAPL": 7}  # not 23: the others' are not its
    assert tiered.owner("sv1-2") is fix and tiered.owner("sv1-1") is tiered.data
    assert fix_store_path(config.database.path).name == "g.db.fix.sqlite"
    fix.store.close()  # type: ignore[attr-defined]
    fix._mark.close()  # type: ignore[attr-defined]
    assert tiered.routes is real.routes
    real.close()


def test_bind_gateway_uses_the_engine_tier_and_alerts_through_the_gateway() -> None:
    alerts: list[tuple[str, str, str]] = []
    equity = [99_000 * PRICE_SCALE]

    class Engine:
        def equity(self) -> int:
            return equity[0]

        def tier(self):  # type: ignore[no-untyped-def]
            from core.tiers import capabilities_for_equity

            return capabilities_for_equity(equity[0])

    alpaca, ibkr = FakeBroker("alpaca"), FakeBroker("ibkr")
    tiered = TieredBroker(alpaca, ibkr)
    bind_gateway(tiered, Engine(), lambda level, kind, text: alerts.append((level, kind, text)))
    asyncio.run(tiered.submit(order(1), "c1"))
    equity[0] = 100_000 * PRICE_SCALE
    asyncio.run(tiered.submit(order(2), "c2"))
    assert alpaca.calls == [("submit", "c1")] and ibkr.calls == [("submit", "c2")]
    [(level, kind, text)] = alerts
    assert (level, kind) == ("warning", "tier_change")
    assert "retail -> semi_institutional" in text and "100000" in text and "ibkr" in text


TIERED = """
[broker]
type = "tiered"
{extra}
[alpaca]
api_key = "k"
secret_key = "s"
{more}
[portfolio]
initial_balance = 1
[universe]
symbols = ["AAPL"]
"""


def test_config_type_tiered_needs_alpaca_and_names_bad_bars() -> None:
    config = parse_config(TIERED.format(extra="", more=""), env={})
    assert (config.broker.type, config.broker.bars) == ("tiered", "alpaca")
    assert config.alpaca is not None and config.ibkr is None and config.fix is None
    with_ib = parse_config(
        TIERED.format(extra='bars = "ibkr"', more='[ibkr]\naccount_id = "DU1"'), env={}
    )
    assert with_ib.broker.bars == "ibkr" and with_ib.ibkr is not None
    for extra, value in (('bars = "ibkr"', "ibkr"), ('bars = "polygon"', "polygon")):
        with pytest.raises(BadInput) as info:
            parse_config(TIERED.format(extra=extra, more=""), env={})
        assert (info.value.field, info.value.value) == ("broker.bars", value)
    no_alpaca = '[broker]\ntype = "tiered"\n[portfolio]\ninitial_balance = 1\n'
    with pytest.raises(BadInput) as info:
        parse_config(no_alpaca + '[universe]\nsymbols = ["AAPL"]\n', env={})
    assert info.value.field == "alpaca.api_key"
