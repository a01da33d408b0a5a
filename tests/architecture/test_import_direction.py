"""The house's floors (docs/architecture.md), enforced on the source.

``core`` imports no shell; ``fix`` (the FIX library) imports only ``core``;
``sim`` imports ``core``; ``gateway`` imports ``core`` and ``fix``; ``standins``
imports ``core``, ``sim`` and ``fix``; ``histdata`` (the history fetch) imports
``sim``'s catalog and ``gateway``'s credentials and pacer. Nothing imports upward: a new
``import standins`` in ``sim/`` or ``import gateway`` in ``core/`` fails here.
Every import is read with ``ast`` (function-level and ``TYPE_CHECKING`` imports
count too); ``.pyx`` files are read for ``cimport``/``import`` lines.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "fix", "sim", "gateway", "standins", "histdata")
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "fix": frozenset({"fix", "core"}),
    "sim": frozenset({"sim", "core"}),
    "gateway": frozenset({"gateway", "fix", "core"}),
    "standins": frozenset({"standins", "sim", "fix", "core"}),
    "histdata": frozenset({"histdata", "sim", "gateway", "fix", "core"}),
}
_PYX_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+c?import|c?import\s+([\w.]+))", re.M)


def imported_packages(source: str, *, pyx: bool = False) -> list[tuple[int, str]]:
    """(line, top-level package) for every import of one of ours in ``source``."""
    found: list[tuple[int, str]] = []
    if pyx:
        for match in _PYX_IMPORT.finditer(source):
            name = match.group(1) or match.group(2)
            found.append((source.count("\n", 0, match.start()) + 1, name.split(".")[0]))
    else:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((node.lineno, node.module.split(".")[0]))
    return [(line, top) for line, top in found if top in PACKAGES]


def violations(package: str, files: list[Path], root: Path = ROOT) -> list[str]:
    bad = []
    for path in files:
        source = path.read_text(encoding="utf-8")
        for line, top in imported_packages(source, pyx=path.suffix == ".pyx"):
            if top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(root)}:{line}: {package} imports {top}")
    return bad


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_runs_up_the_floors(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py")) + sorted((ROOT / package).rglob("*.pyx"))
    assert files, f"{package}/ has no sources"
    assert violations(package, files) == []


@pytest.mark.parametrize(
    ("package", "line"),
    [
        ("sim", "import standins"),
        ("sim", "from standins.cli import serve"),
        ("core", "import gateway"),
        ("core", "from sim.rng import Streams"),
        ("fix", "from gateway.config import Config"),
        ("gateway", "from standins.server import StandIn"),
        ("gateway", "from sim import market"),
    ],
)
def test_the_scan_catches_an_upward_import(tmp_path: Path, package: str, line: str) -> None:
    """The scan itself can fail: an upward import, even inside a function, is named."""
    probe = tmp_path / package / "probe.py"
    probe.parent.mkdir()
    probe.write_text(f"def later() -> None:\n    {line}\n", encoding="utf-8")
    [problem] = violations(package, [probe], tmp_path)
    assert problem.startswith(f"{package}/probe.py:2: {package} imports ")
