"""Shared fixtures: run agent tests under both twins.

``compiled`` is what production uses: ``core.agent.SymbolAgent`` (the Cython
agent over the Cython profile and volume tracker when the build is present).
``pure`` is the reference: ``PySymbolAgent`` over ``PyTravelProfile`` and
``PyVolumeTracker``, exactly what ``SOVEREIGN_PURE_PYTHON=1`` selects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import core.agent
from core.sr import PyTravelProfile
from core.volume import PyVolumeTracker

AgentFactory = Callable[..., Any]


@pytest.fixture(params=["compiled", "pure"])
def twin(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_agent(twin: str, monkeypatch: pytest.MonkeyPatch) -> AgentFactory:
    """Builds agents of the selected twin: ``make_agent(instrument, **kwargs)``."""
    if twin == "compiled":
        return core.agent.SymbolAgent
    monkeypatch.setattr(core.agent, "TravelProfile", PyTravelProfile)
    monkeypatch.setattr(core.agent, "VolumeTracker", PyVolumeTracker)
    return core.agent.PySymbolAgent
