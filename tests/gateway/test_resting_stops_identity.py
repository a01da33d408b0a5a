"""``[broker] resting_stops`` is part of the engine's identity (issue 12).

The gateway's default became ``true``. A journal replays only with the
engine that recorded it, so a database keeps the value it was first started
with: a new one takes the config's, one with a journal from before the key
was kept keeps the old default (``false``), and a config that says otherwise
later is logged as ignored rather than applied.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.events import Bar
from gateway.config import parse_config
from gateway.runtime import Gateway, RuntimeOptions
from gateway.storage import Storage
from standins.market import load_market
from tests.gateway.inprocess import InProcessBroker
from tests.gateway.test_runtime_recovery import CONFIG

OFF = CONFIG.replace('type = "alpaca"', 'type = "alpaca"\nresting_stops = false', 1)
ON = CONFIG.replace('type = "alpaca"', 'type = "alpaca"\nresting_stops = true', 1)


@pytest.fixture(scope="module")
def market():  # type: ignore[no-untyped-def]
    return load_market("range", 1, history_days=0, days=1)


def _gateway(db: Path, text: str, market) -> Gateway:  # type: ignore[no-untyped-def]
    config = parse_config(text, env={}, base=db.parent)
    return Gateway(config, InProcessBroker(market), Storage(db), None, RuntimeOptions())


def test_the_default_is_on_and_a_new_database_keeps_the_config_value(  # type: ignore[no-untyped-def]
    tmp_path: Path, market
) -> None:
    assert parse_config(CONFIG, env={}, base=tmp_path).broker.resting_stops is True
    on = _gateway(tmp_path / "on.db", CONFIG, market)
    assert on.config.broker.resting_stops and on.engine._protective is not None
    assert on.storage.meta("resting_stops") == "true"
    off = _gateway(tmp_path / "off.db", OFF, market)
    assert not off.config.broker.resting_stops and off.engine._protective is None
    assert off.storage.meta("resting_stops") == "false"


def test_a_database_keeps_its_value_whatever_the_config_says_later(  # type: ignore[no-untyped-def]
    tmp_path: Path, caplog: pytest.LogCaptureFixture, market
) -> None:
    db = tmp_path / "g.db"
    _gateway(db, OFF, market).storage.close()
    with caplog.at_level(logging.WARNING, logger="gateway.runtime"):
        again = _gateway(db, ON, market)
    assert not again.config.broker.resting_stops
    assert "resting_stops = true ignored" in caplog.text
    assert "built with resting_stops = false" in caplog.text


def test_a_journal_from_before_the_key_keeps_the_old_default(tmp_path: Path, market) -> None:  # type: ignore[no-untyped-def]
    """A database whose journal was recorded when the default was ``false`` (no
    ``meta.resting_stops``): upgrading must not rebuild its engine differently."""
    db = tmp_path / "old.db"
    storage = Storage(db)
    bar = Bar("AAPL", 1_704_292_200 * 10**9, 10**11, 10**11, 10**11, 10**11, 100)
    storage.journal.append(1_704_292_260 * 10**9, bar)
    assert storage.meta("resting_stops") is None and storage.journal.last_input_seq() == 1
    storage.close()
    upgraded = _gateway(db, CONFIG, market)  # the new default says true
    assert upgraded.config.broker.resting_stops is False
    assert upgraded.storage.meta("resting_stops") == "false"
