"""Fault rates for a run: what can go wrong, and how often.

Every rate is a probability per opportunity (per order, per report, per bar,
per event), drawn from the run's own seeded stream; a rate of 0 switches the
fault off. The defaults are all zero: a scenario or the swarm turns them on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from core.errors import BadInput


@dataclass(frozen=True, slots=True)
class FaultRates:
    reject: float = 0.0  # a venue rejects a new order
    partial: float = 0.0  # a fill is cut to part of what the bar allowed
    cancel_race: float = 0.0  # a fill slips in between our cancel and its confirmation
    duplicate: float = 0.0  # an execution report is delivered twice
    reorder: float = 0.0  # a report is held back so a later one overtakes it
    delay: float = 0.0  # a report arrives seconds to minutes late
    drop_bar: float = 0.0  # a bar never reaches the engine
    stale: float = 0.0  # a symbol's feed goes quiet for several bars
    outage: float = 0.0  # a venue goes down for a while (per venue per bar)
    crash: float = 0.0  # the engine dies and is rebuilt from its journal (per bar)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise BadInput(f"faults.{item.name}", value, "must be a probability in [0, 1]")

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @property
    def any(self) -> bool:
        return any(getattr(self, item.name) > 0 for item in fields(self))


NO_FAULTS = FaultRates()
