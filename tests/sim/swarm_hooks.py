"""Task functions the swarm tests hand to real Dask workers.

They live in an importable module (not a test file) so that worker
processes can unpickle them by reference.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sim.swarm import run_batch

STALL_S = 120  # how long the doomed attempt waits to be killed before giving up


def killed_once(marker_dir: str, target: int, seeds: range) -> list[dict[str, object]]:
    """``run_batch``, except that the first attempt at the batch holding
    ``target`` announces its worker's pid and stalls until that worker is
    SIGKILLed; the re-run (on whichever worker the scheduler picks) proceeds."""
    if target in seeds:
        root = Path(marker_dir)
        try:
            claim = os.open(root / "claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            (root / f"rerun-{os.getpid()}").write_text(str(os.getpid()))
        else:
            os.close(claim)
            partial = root / "pid.partial"
            partial.write_text(str(os.getpid()))
            partial.rename(root / "pid")  # atomic: the test never reads half a pid
            threading.Event().wait(STALL_S)  # the test kills this process meanwhile
    return run_batch(seeds)
