"""Command lines refuse bad arguments with a message naming the argument."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fix.acceptance.deftest import collect, compare, complete, load_patterns
from fix.paths import REPO_ROOT


@pytest.mark.parametrize(
    ("module", "args", "needle"),
    [
        ("fix.acceptor", ["--port", "70000"], "--port=70000"),
        ("fix.acceptor", ["--port", "x"], "--port"),
        ("fix.deftest", ["--port", "0"], "--port=0"),
        ("fix.deftest", ["--port", "5001", "--timeout", "-1"], "--timeout=-1"),
    ],
)
def test_bad_arguments_exit_with_usage_error(module, args, needle) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert needle in proc.stderr


def test_runner_refuses_paths_that_are_not_definitions(tmp_path) -> None:
    with pytest.raises(SystemExit, match=r"nope\.txt"):
        collect([str(tmp_path / "nope.txt")])


def test_runner_completes_and_compares_messages() -> None:
    raw = complete(b"8=FIX.4.4\x0135=0\x0134=2\x0149=A\x0152=20240101-00:00:00\x0156=B\x01")
    assert raw.startswith(b"8=FIX.4.4\x019=41\x0135=0") and raw[-8:-4] == b"\x0110="
    patterns = load_patterns()
    same_but_time = raw.replace(b"20240101-00:00:00", b"20250505-11:11:11")
    assert compare(raw, same_but_time, patterns, lenient=False) is None
    other = raw.replace(b"49=A", b"49=C")
    assert "tag 49" in compare(raw, other, patterns, lenient=False)
    texts = (b"58=one\x01", b"58=other\x01")
    with_text = [complete(raw[: raw.index(b"10=")] + t) for t in texts]
    assert compare(*with_text, patterns, lenient=False) is not None
    assert compare(*with_text, patterns, lenient=True) is None
