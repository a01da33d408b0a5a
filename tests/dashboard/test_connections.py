"""The connections table: each adapter's facts (the ``ConnectionReporting``
protocol, checked once at wiring) become the page's rows; a broker that does
not report, or whose report fails, is one ``unknown`` row under its name."""

from __future__ import annotations

from typing import Any, cast

from gateway.brokers.base import (
    Broker,
    Connection,
    ConnectionReporting,
    FixSessionLink,
    TwsLink,
    connection_report,
)
from gateway.dashboard.connections import describe
from gateway.state import LiveState

NO_STATE = cast(LiveState, None)  # only Alpaca's rows read the live state


class Silent:
    name = "quiet"


class Reporting:
    name = "legs"

    def __init__(self, *connections: Connection) -> None:
        self.reported = connections

    def connections(self) -> tuple[Connection, ...]:
        return self.reported


class Broken:
    name = "broken"

    def connections(self) -> tuple[Connection, ...]:
        raise AttributeError("the library moved its socket")


def rows(broker: Any) -> list[dict[str, Any]]:
    return describe(connection_report(cast(Broker, broker)), NO_STATE)


def test_a_broker_that_does_not_report_is_one_unknown_row() -> None:
    assert not isinstance(Silent(), ConnectionReporting)
    assert rows(Silent()) == [{"name": "quiet", "status": "unknown", "detail": ""}]


def test_a_failing_report_names_the_error_instead_of_failing_the_page() -> None:
    assert rows(Broken()) == [{"name": "broken", "status": "unknown", "detail": "AttributeError"}]


def test_tws_and_fix_facts_become_their_rows_in_order() -> None:
    broker = Reporting(
        Connection("ibkr", TwsLink(connected=True, reconnects=2, pacing_waits=3)),
        Connection("fix", FixSessionLink(logged_on=False, next_sender_seq=7, next_target_seq=9)),
        Connection("ibkr", TwsLink(connected=None, reconnects=0, pacing_waits=0)),
    )
    assert rows(broker) == [
        {"name": "ibkr tws", "status": "connected", "detail": "reconnects 2, pacing waits 3"},
        {
            "name": "fix fix",
            "status": "down",
            "detail": "next out seq 7, next in seq 9",
            "next_sender_seq": 7,
            "next_target_seq": 9,
        },
        {"name": "ibkr tws", "status": "not started", "detail": "reconnects 0, pacing waits 0"},
    ]
