"""The tiered broker reports its legs' connections, leg by leg; a leg that
does not report is one unreported connection under its own name."""

from __future__ import annotations

from gateway.brokers.base import (
    Connection,
    ConnectionReporting,
    FixSessionLink,
    TwsLink,
    UnreportedLink,
)
from gateway.brokers.tiered import TieredBroker
from tests.tiers.fakes import FakeBroker


class ReportingFake(FakeBroker):
    def __init__(self, name: str, connection: Connection) -> None:
        super().__init__(name)
        self.connection = connection

    def connections(self) -> tuple[Connection, ...]:
        return (self.connection,)


def test_the_tiered_broker_reports_each_legs_connections_in_tier_order() -> None:
    tws = Connection("ibkr", TwsLink(connected=False, reconnects=1, pacing_waits=0))
    fix = Connection("fix", FixSessionLink(logged_on=True, next_sender_seq=4, next_target_seq=5))
    tiered = TieredBroker(
        FakeBroker("alpaca"), ReportingFake("ibkr", tws), ReportingFake("fix", fix)
    )
    assert isinstance(tiered, ConnectionReporting)
    assert tiered.connections() == (Connection("alpaca", UnreportedLink()), tws, fix)
