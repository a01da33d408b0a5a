"""SPEC §4.2's worked example, through both twins and through the agent."""

from __future__ import annotations

import pytest
from core._sr import TravelProfile

import core.hotpath
from core.events import Bar
from core.instruments import CENT, ONE_DOLLAR, Instrument
from core.sr import PyTravelProfile
from tests.conftest import AgentFactory

# Moves 9→10, 10→9, 9→8.15, 8.15→10, each a bar with that low and high, in cents.
MOVES_CENTS = [(900, 1000), (900, 1000), (815, 900), (815, 1000)]
G_TICKS = 100  # g = $1 at a $0.01 tick
EXPECTED = {9: -3, 8: -2, 10: 0}


def _feed_ticks(profile: object) -> None:
    for low, high in MOVES_CENTS:
        profile.add_bar(low, high, low, high)  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", [TravelProfile, PyTravelProfile], ids=["compiled", "pure"])
def test_worked_example_scores_in_ticks(cls: type) -> None:
    profile = cls()
    _feed_ticks(profile)
    assert profile.travelled == 4
    assert profile.domain_ticks == (815, 1000)
    for bucket, score in EXPECTED.items():
        assert profile.score(bucket, G_TICKS) == score
        assert profile.count(bucket, G_TICKS) == -score


@pytest.mark.parametrize("cls", [TravelProfile, PyTravelProfile], ids=["compiled", "pure"])
def test_worked_example_levels(cls: type) -> None:
    """Domain is [8, 10]; from a price in [9, 10) support is 8, resistance 10."""
    profile = cls()
    _feed_ticks(profile)
    assert profile.levels(950, G_TICKS) == (8, 10)
    # At the all-time-high bucket there is nothing above: no resistance.
    assert profile.levels(1000, G_TICKS) == (8, None)  # 8 (−2) beats 9 (−3)
    # At the all-time-low bucket there is nothing below: no support.
    assert profile.levels(815, G_TICKS) == (None, 10)


def _agent_style_add(profile: object, low_nano: int, high_nano: int, tick: int) -> None:
    """Exactly the conversion SymbolAgent._absorb performs."""
    low_tick = low_nano // tick
    profile.add_bar(low_tick, high_nano // tick, low_tick, -(-high_nano // tick))  # type: ignore[attr-defined]


@pytest.mark.parametrize("cls", [TravelProfile, PyTravelProfile], ids=["compiled", "pure"])
def test_worked_example_through_tick_conversion(cls: type) -> None:
    profile = cls()
    for low, high in MOVES_CENTS:
        _agent_style_add(profile, low * CENT, high * CENT, CENT)
    for bucket, score in EXPECTED.items():
        assert profile.score(bucket, ONE_DOLLAR // CENT) == score


def test_worked_example_through_symbol_agent(twin: str, make_agent: AgentFactory) -> None:
    """Feed the moves as real Bars to an agent; its profile holds the SPEC's scores."""
    agent = make_agent(Instrument("XMPL", tick=CENT))
    for i, (low, high) in enumerate(MOVES_CENTS):
        bar = Bar(
            "XMPL", (i + 1) * 60 * 10**9, low * CENT, high * CENT, low * CENT, high * CENT, 100
        )
        agent.on_bar(bar)
    # "compiled" is whatever core.hotpath chose (the pure twin under SOVEREIGN_PURE_PYTHON=1)
    expected_cls = PyTravelProfile if twin == "pure" else core.hotpath.TravelProfile
    assert type(agent.profile) is expected_cls
    for bucket, score in EXPECTED.items():
        assert agent.profile.score(bucket, G_TICKS) == score
