"""The gateway's resident memory over the soak: sampled on a timer, judged per cycle.

A sampler thread reads the live gateway's RSS (``psutil``) every interval, with
the cycle it belongs to and the journal's length then. Each process lives one
cycle (kill -9 ends it), so the check is on the **peak RSS per cycle** after
the warm-up cycles: flat when the spread of those peaks is within 10% of their
least. Because the core keeps every bar of history by design (lossless travel
profiles, all-history volume percentiles), RSS is also fitted against the
journal's length, so growth with history shows as bytes per input rather
than as a leak.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil  # type: ignore[import-untyped]

MB = 1024 * 1024
FLAT_WITHIN = 0.10


@dataclass(frozen=True)
class Sample:
    t: float  # real seconds since the soak started
    cycle: int
    rss: int  # bytes
    inputs: int  # the journal's length (inputs table) at the time


class RssSampler:
    """Samples whoever is the current gateway; ``watch(pid, cycle)`` switches."""

    def __init__(self, interval: float, inputs_now: Any) -> None:
        self.interval = interval
        self._inputs_now = inputs_now  # () -> int, read in this thread
        self._lock = threading.Lock()
        self._proc: psutil.Process | None = None
        self._cycle = -1
        self._started = time.monotonic()
        self.samples: list[Sample] = []
        self.standin: list[tuple[float, int]] = []
        self._standin_proc: psutil.Process | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)

    def start(self, standin_pid: int) -> None:
        self._standin_proc = psutil.Process(standin_pid)
        self._thread.start()

    def watch(self, pid: int | None, cycle: int) -> None:
        with self._lock:
            self._proc = psutil.Process(pid) if pid is not None else None
            self._cycle = cycle

    def sample_now(self) -> Sample | None:
        with self._lock:
            proc, cycle = self._proc, self._cycle
        if proc is None:
            return None
        try:
            rss = int(proc.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            return None
        sample = Sample(time.monotonic() - self._started, cycle, rss, int(self._inputs_now()))
        with self._lock:
            self.samples.append(sample)
        return sample

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample_now()
            if self._standin_proc is not None:
                try:
                    rss = int(self._standin_proc.memory_info().rss)
                except (psutil.NoSuchProcess, psutil.ZombieProcess):
                    continue
                self.standin.append((time.monotonic() - self._started, rss))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)


def slope_of(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of ys on xs (None when xs do not vary)."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def judge(samples: list[Sample], warmup: float) -> dict[str, Any]:
    """Per-cycle peaks, the flatness check after warm-up, growth per input."""
    peaks: dict[int, Sample] = {}
    for s in samples:
        if s.cycle not in peaks or s.rss > peaks[s.cycle].rss:
            peaks[s.cycle] = s
    cycles = sorted(peaks)
    skip = int(len(cycles) * warmup)
    judged = [peaks[c] for c in cycles[skip:]]
    out: dict[str, Any] = {
        "samples": len(samples),
        "warmup_cycles_skipped": skip,
        "peak_mb_per_cycle": [[c, round(peaks[c].rss / MB, 1)] for c in cycles],
        "flat_within": FLAT_WITHIN,
    }
    if not judged:
        out.update(flat=None, spread=None)
        return out
    low, high = min(s.rss for s in judged), max(s.rss for s in judged)
    spread = (high - low) / low
    fitted = slope_of([float(s.inputs) for s in judged], [float(s.rss) for s in judged])
    first, last = judged[0], judged[-1]
    out.update(
        min_peak_mb=round(low / MB, 1),
        max_peak_mb=round(high / MB, 1),
        first_judged_peak_mb=round(first.rss / MB, 1),
        last_judged_peak_mb=round(last.rss / MB, 1),
        spread=round(spread, 4),
        flat=spread <= FLAT_WITHIN,
        bytes_per_journal_input=None if fitted is None else round(fitted, 1),
        journal_inputs_first_last=[first.inputs, last.inputs],
    )
    return out
