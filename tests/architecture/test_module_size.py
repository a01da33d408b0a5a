"""Rooms a newcomer can read: no module over 600 lines, no class over 30 methods.

Issue 13 split the shells' god-objects by concern; this keeps them split. The
scan reads every ``.py`` file under the shells and the FIX library with ``ast``
and names each offender with its size, so the failure says where to cut.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "sim", "standins", "fix")
MAX_LINES = 600
MAX_METHODS = 30


def offenders(path: Path, root: Path = ROOT) -> list[str]:
    """Why ``path`` is too big: its line count, and each class's method count, over the caps."""
    source = path.read_text(encoding="utf-8")
    name = path.relative_to(root).as_posix()
    found = []
    lines = len(source.splitlines())
    if lines > MAX_LINES:
        found.append(f"{name}: {lines} lines (at most {MAX_LINES})")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            methods = sum(
                isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) for item in node.body
            )
            if methods > MAX_METHODS:
                found.append(
                    f"{name}:{node.lineno}: class {node.name} has {methods} methods"
                    f" (at most {MAX_METHODS})"
                )
    return found


def scan(package: str, root: Path = ROOT) -> list[str]:
    return [bad for path in sorted((root / package).rglob("*.py")) for bad in offenders(path, root)]


def test_no_module_or_class_is_too_big() -> None:
    found = [bad for package in PACKAGES for bad in scan(package)]
    assert found == [], "split these by concern:\n" + "\n".join(found)


def test_the_scan_names_a_long_module_and_a_crowded_class(tmp_path: Path) -> None:
    """The scan itself can fail: a 601-line module and a 31-method class are named."""
    package = tmp_path / "sim"
    package.mkdir()
    (package / "long.py").write_text("x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
    methods = "".join(f"    def m{i}(self) -> None: ...\n" for i in range(MAX_METHODS + 1))
    (package / "crowded.py").write_text(f"class Crowded:\n{methods}", encoding="utf-8")
    (package / "fine.py").write_text("class Fine:\n    def a(self) -> None: ...\n")
    assert scan("sim", tmp_path) == [
        "sim/crowded.py:1: class Crowded has 31 methods (at most 30)",
        "sim/long.py: 601 lines (at most 600)",
    ]
