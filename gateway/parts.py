"""What every part of the live process is built from, named once.

The sender, the reconciler, the stream handlers and the periodic loops each
work with the same five collaborators — the live state, the trade database,
the engine, the broker and the input pipeline — plus one or two of their
own. ``Parts`` carries the five as one value (the runtime builds it once,
at wiring) and ``Part`` gives a part them as attributes, so no constructor
has to list and assign them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: gateway.inputs imports much of the gateway
    from core.engine import Engine
    from gateway.brokers.base import Broker
    from gateway.inputs import InputPipeline
    from gateway.state import LiveState
    from gateway.storage import Storage


@dataclass(frozen=True, slots=True)
class Parts:
    """The collaborators every part shares."""

    state: LiveState
    storage: Storage
    engine: Engine
    broker: Broker
    inputs: InputPipeline


class Part:
    """A part of the live process: the shared collaborators as attributes."""

    def __init__(self, parts: Parts) -> None:
        self.state = parts.state
        self.storage = parts.storage
        self.engine = parts.engine
        self.broker = parts.broker
        self.inputs = parts.inputs
