"""Build the Cython hot paths.

Every ``_*.pyx`` under ``core/``, ``fix/``, ``gateway/`` and ``sim/`` is compiled; the
list is discovered (sorted, so the build is reproducible) rather than kept by
hand so that adding a compiled twin never needs an edit here. ``-ffast-math``
is deliberately absent: floats must match the pure-Python twins bit for bit.
"""

from __future__ import annotations

from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

ROOT = Path(__file__).parent


def _extensions() -> list[Extension]:
    sources = sorted(
        p for pkg in ("core", "fix", "gateway", "sim") for p in (ROOT / pkg).rglob("_*.pyx")
    )
    extensions = []
    for source in sources:
        relative = source.relative_to(ROOT)
        module = ".".join(relative.with_suffix("").parts)
        extensions.append(
            Extension(
                module,
                [str(relative)],
                language="c++",
                extra_compile_args=["-O3", "-fno-fast-math", "-std=c++17"],
            )
        )
    return extensions


setup(
    ext_modules=cythonize(
        _extensions(),
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
    ),
)
