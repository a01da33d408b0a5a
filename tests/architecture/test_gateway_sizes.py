"""The gateway stays a house of small rooms (issue 13): no module over 600 lines,
no class over 30 methods. A file or class that grows past them is split by
concern (see docs/architecture.md, "Inside the gateway")."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 600
MAX_METHODS = 30


def _modules() -> list[Path]:
    return sorted((ROOT / "gateway").rglob("*.py"))


def test_no_gateway_module_is_over_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_gateway_class_has_over_30_methods() -> None:
    large: dict[str, int] = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                methods = [
                    n for n in node.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                ]
                if len(methods) > MAX_METHODS:
                    large[f"{path.relative_to(ROOT)}:{node.name}"] = len(methods)
    assert large == {}
