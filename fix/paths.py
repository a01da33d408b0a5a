"""Where the read-only reference folder lives.

The repository and ``shared/`` are siblings (CI clones the repo elsewhere and
puts ``shared/`` beside it), so the path is derived from the package location
rather than the working directory; ``SOVEREIGN_SHARED`` overrides it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """The ``shared`` folder: ``$SOVEREIGN_SHARED`` or ``<repo root>/../shared``."""
    override = os.environ.get("SOVEREIGN_SHARED")
    return Path(override) if override else REPO_ROOT.parent / "shared"


def spec_path(begin_string: str) -> Path:
    """The QuickFIX data dictionary for ``FIX.4.2`` / ``FIX.4.4``."""
    name = begin_string.replace(".", "")  # FIX.4.4 -> FIX44
    return shared_dir() / "fix" / "spec" / f"{name}.xml"


def acceptance_dir() -> Path:
    return shared_dir() / "fix" / "acceptance"
