"""Commands from the system's owner: pause entries, resume, flatten everything.

They are engine *inputs*, like a bar or a fill, not side channels into the
shell: journaled before the engine sees them and replayed after a crash, so a
restarted gateway is still paused, and a simulation that contains them is as
deterministic as one that does not.

* ``pause`` — no new positions: entry signals are still recorded, then refused
  (a ``risk`` record says why), and entries still working are cancelled.
  Exits, stops, residual and risk unwinds go on as before.
* ``resume`` — entries are allowed again.
* ``flatten`` — the kill switch: pause, cancel every working entry, and close
  every open position through the normal execution path (an urgent exit
  parent per position that has none working yet).
"""

from __future__ import annotations

from dataclasses import dataclass

OPERATOR_ACTIONS = ("pause", "resume", "flatten")


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    """One operator decision; ``command_id`` names it in records and alerts,
    ``origin`` says where it came from (``dashboard``, ``cli``, a test)."""

    time_ns: int
    action: str
    command_id: str = ""
    origin: str = ""
