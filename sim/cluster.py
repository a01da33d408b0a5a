"""The Dask shell shared by ``sim swarm`` and ``sim sweep``: connect, stream, cancel.

This is I/O, not simulation: the client talks to the scheduler from a
background event-loop thread of its own. What a task computes comes only
from its arguments (``sim.swarm.run_batch``, ``sim.sweep.run_point``), so
which worker ran it, in which order, or how often (a worker that dies has
its tasks re-run elsewhere) cannot change a result. Bars are never shipped
through the scheduler: a task carries parameters, and a worker that needs
data reads it from a path or URL it can reach.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from core.errors import BadInput

CONNECT_TIMEOUT_S = 20
POLL_S = 0.05  # how often a waiting stream looks for results and Ctrl-C
CLOSE_TIMEOUT_S = 30  # per step of a teardown; a stuck one must not hang the command
log = logging.getLogger("sim.cluster")


@dataclass(frozen=True)
class Done:
    """One finished task: its index in the submitted list, and its value or error."""

    index: int
    value: Any = None
    error: str | None = None


def default_workers() -> int:
    return os.cpu_count() or 1


def check_workers(workers: int | None) -> int:
    count = default_workers() if workers is None else workers
    if not 1 <= count <= 256:
        raise BadInput("--workers", workers, "must be between 1 and 256")
    return count


class InOrder:
    """Holds results that finished early until every earlier one is in, so
    what is printed does not depend on which worker finished first."""

    def __init__(self, first: int, emit: Callable[[Any], None], key: Callable[[Any], int]) -> None:
        self._next = first
        self._held: dict[int, Any] = {}
        self._emit = emit
        self._key = key

    def add(self, item: Any) -> None:
        self._held[self._key(item)] = item
        while self._next in self._held:
            self._emit(self._held.pop(self._next))
            self._next += 1


@contextmanager
def connect(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A client on the cluster at ``scheduler``, or on a fresh ``LocalCluster``
    of ``workers`` single-threaded worker processes that is shut down after.

    Worker processes, not threads: a run is CPU-bound Python. Each worker runs
    under a nanny, so a worker that dies is replaced and the scheduler re-runs
    what it held.
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise BadInput("--scheduler", scheduler, f"cannot be reached ({exc})") from None
        try:
            yield client
        finally:
            client.close()
        return
    # Ctrl-C in a terminal reaches the whole process group: the worker
    # processes inherit "ignore SIGINT" (an ignored signal survives exec), so
    # only this process reacts, cancels the work and shuts the cluster down,
    # instead of every worker dying with a traceback of its own.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    stopped_early = False
    try:
        client = Client(cluster)
        try:
            yield client
        except BaseException:
            stopped_early = True
            raise
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # restored after the close
            if stopped_early:
                _quiet()
            try:
                client.close(timeout=CLOSE_TIMEOUT_S)
            except Exception:  # a client that cannot close: the cluster goes anyway
                log.warning("the dask client did not close in %d s", CLOSE_TIMEOUT_S)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C: see _quiet
        try:
            cluster.close(timeout=CLOSE_TIMEOUT_S)
        except Exception:  # on a saturated machine a close can time out
            _end_worker_processes()
        finally:
            signal.signal(signal.SIGINT, previous)


def _end_worker_processes() -> None:
    """The local cluster did not shut down in time: its processes are this
    process's children, so end them rather than leave them computing."""
    import multiprocessing

    log.warning(
        "the local dask cluster did not close in %d s: ending its processes", CLOSE_TIMEOUT_S
    )
    for child in multiprocessing.active_children():
        child.terminate()
    for child in multiprocessing.active_children():
        child.join(CLOSE_TIMEOUT_S)
        if child.is_alive():
            child.kill()


def _quiet() -> None:
    """Tearing the cluster down because the run stopped early (Ctrl-C, an error).

    The swarm has said why it stopped; what dask's scheduler logs while it
    closes in the middle of work (a CRITICAL "Closed comm ... lost-data" with
    a traceback when the client it was telling went first) is a teardown race
    inside dask, not news for the user. A second Ctrl-C during the teardown is
    ignored (``connect``), so the workers are shut down rather than left behind.
    """
    logging.getLogger("distributed").setLevel(logging.CRITICAL + 1)


def stream(client: Any, function: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Done]:
    """Submit ``function(item)`` for every item; yield each as it finishes.

    Keys are dask's own (``pure=False``: unique per submission), so two
    swarms on one long-lived cluster never share a result by name. Leaving
    the loop early (Ctrl-C, an error in the caller) cancels whatever
    is still queued or running, so nothing keeps a cluster busy for nobody.

    Ctrl-C while waiting only raises a flag (``_Interrupt``); the loop turns
    it into ``KeyboardInterrupt`` here, between results. Python's default
    handler raised it wherever the main thread was, inside dask's client
    code too, and a swarm interrupted there could hang instead of stopping.
    """
    from distributed import as_completed

    futures = [client.submit(function, item, pure=False) for item in items]
    index = {future.key: i for i, future in enumerate(futures)}
    interrupt = _Interrupt()
    try:
        with interrupt:
            finished = as_completed(futures)
            while not finished.is_empty():
                interrupt.check()
                batch = finished.next_batch(block=False)
                if not batch:
                    time.sleep(POLL_S)
                    continue
                for future in batch:
                    yield _done(index[future.key], future)
                    future.release()
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)


def _done(i: int, future: Any) -> Done:
    if future.status == "error":
        exc = future.exception()
        return Done(i, error=f"{type(exc).__name__}: {exc}")
    if future.status == "cancelled":
        return Done(i, error="cancelled by the cluster")
    return Done(i, value=future.result())


class _Interrupt:
    """SIGINT as a flag for the time it is installed (main thread only)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _note(self, _signum: int, _frame: object) -> None:
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def __enter__(self) -> _Interrupt:
        try:
            self._previous = signal.signal(signal.SIGINT, self._note)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def worker_count(client: Any, fallback: int) -> int:
    """Workers the scheduler knows now (a remote cluster may still be growing)."""
    return len(client.scheduler_info().get("workers", {})) or fallback


def code_fingerprint() -> str:
    """SHA-256 over the deterministic code (core/ and sim/ sources).

    Two processes with the same fingerprint compute the same outcome for the
    same parameters; a worker with other code would not, silently.
    """
    import hashlib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in ("core", "sim"):
        for path in sorted((root / package).rglob("*")):
            if path.suffix in (".py", ".pyx", ".pxd") and "build" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def check_same_code(client: Any) -> None:
    """Refuse a cluster whose workers run other code than this client."""
    mine = code_fingerprint()
    theirs = client.run(code_fingerprint)
    other = sorted(worker for worker, value in theirs.items() if value != mine)
    if other:
        raise BadInput(
            "--scheduler",
            other[0],
            f"worker runs different Sovereign code than this client ({len(other)} of "
            f"{len(theirs)} workers); install the same version on every worker",
        )
