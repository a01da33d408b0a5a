"""SPEC principle 2, enforced on the source: no wall clock, global RNG, uuid4
or threads anywhere in core/ or sim/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("core", "sim")

FORBIDDEN: list[tuple[str, re.Pattern[str]]] = [
    (
        "wall clock",
        re.compile(
            r"\btime\.(time|time_ns|monotonic|monotonic_ns|perf_counter|perf_counter_ns)\s*\("
        ),
    ),
    (
        "wall clock",
        re.compile(r"\bfrom\s+time\s+import\b[^\n]*\b(time|time_ns|monotonic|perf_counter)\b"),
    ),
    ("wall clock", re.compile(r"\b(datetime|date)\.(now|utcnow|today)\s*\(")),
    ("global random", re.compile(r"^\s*import\s+random\b|^\s*from\s+random\s+import\b", re.M)),
    ("uuid", re.compile(r"\buuid[14]\s*\(")),
    (
        "threads",
        re.compile(
            r"^\s*(import|from)\s+(threading|_thread|concurrent\.futures|concurrent)\b", re.M
        ),
    ),
    ("os entropy", re.compile(r"\bos\.urandom\s*\(")),
    ("global numpy RNG", re.compile(r"\bnp\.random\.seed\s*\(")),
    (
        "global numpy RNG",
        re.compile(
            r"\b(np|numpy)\.random\.(?!default_rng\b|Generator\b|PCG64\b|SeedSequence\b)\w+\s*\("
        ),
    ),
]


def violations(text: str) -> list[tuple[int, str, str]]:
    """(line, rule, matched text) for every forbidden construct in ``text``."""
    found = []
    for rule, pattern in FORBIDDEN:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append((line, rule, match.group(0).strip()))
    return sorted(found)


def _sources() -> list[Path]:
    files = []
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in (".py", ".pyx", ".pxd") and "build" not in path.parts:
                files.append(path)
    return files


def test_the_scan_covers_the_code() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"core/agent.py", "core/_sr.pyx", "core/_volume.pyx", "sim/signals_cli.py"} <= names


def test_no_nondeterminism_in_core_and_sim() -> None:
    report = []
    for path in _sources():
        for line, rule, text in violations(path.read_text(encoding="utf-8")):
            report.append(f"{path.relative_to(ROOT)}:{line}: {rule}: {text}")
    assert not report, "\n".join(report)


@pytest.mark.parametrize(
    "planted",
    [
        "stamp = time.time()",
        "t0 = time.monotonic()",
        "t0 = time.perf_counter()",
        "from time import perf_counter",
        "now = datetime.now(tz=UTC)",
        "now = datetime.utcnow()",
        "d = date.today()",
        "import random",
        "from random import choice",
        "order_id = uuid.uuid4()",
        "order_id = uuid1()",
        "import threading",
        "from threading import Thread",
        "from concurrent.futures import ThreadPoolExecutor",
        "seed = os.urandom(8)",
        "np.random.seed(1)",
        "x = np.random.normal(0, 1)",
        "x = numpy.random.randint(5)",
    ],
)
def test_scanner_catches_planted_examples(planted: str) -> None:
    source = f'"""A module."""\n\nx = 1\n{planted}\n'
    found = violations(source)
    assert found, planted
    assert found[0][0] == 4


@pytest.mark.parametrize(
    "allowed",
    [
        "rng = np.random.default_rng(seed)",
        "def f(rng: np.random.Generator) -> None: ...",
        "from datetime import UTC, datetime",
        "moment = datetime.fromtimestamp(seconds, tz=UTC)",
        "self.random_walk = 1",
        "import time_utils",
    ],
)
def test_scanner_allows_deterministic_constructs(allowed: str) -> None:
    assert violations(allowed + "\n") == []


def test_compiled_hot_paths_are_in_use() -> None:
    """Unless the pure twins are asked for, the build must be loaded."""
    import core.agent
    import core.hotpath

    if os.environ.get("SOVEREIGN_PURE_PYTHON") == "1":
        assert core.hotpath.COMPILED is False
    else:
        assert core.hotpath.COMPILED is True
        assert core.hotpath.TravelProfile.__module__ == "core._sr"
        assert core.hotpath.VolumeTracker.__module__ == "core._volume"
        assert core.agent.SymbolAgent.__module__ != "core.agent"  # the compiled agent


def test_pure_python_switch_selects_the_twins() -> None:
    code = (
        "import core.hotpath as h, core.agent as a\n"
        "print(h.COMPILED, h.TravelProfile.__name__, h.VolumeTracker.__name__, "
        "a.SymbolAgent.__name__)\n"
    )
    env = {**os.environ, "SOVEREIGN_PURE_PYTHON": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "PyTravelProfile", "PyVolumeTracker", "PySymbolAgent"]
