"""Chooses the compiled hot paths, or their pure-Python twins.

``SOVEREIGN_PURE_PYTHON=1`` forces the twins (for debugging and for the
differential tests). A missing build falls back to the twins with a warning
rather than refusing to run: slower, never different.
"""

from __future__ import annotations

import importlib
import os
import warnings

from core.sr import PyTravelProfile
from core.volume import PyVolumeTracker

PURE_PYTHON = os.environ.get("SOVEREIGN_PURE_PYTHON", "") == "1"
COMPILED = False

# The compiled twins have the pure twins' interface (differential tests), so
# callers are typed against the pure classes.
TravelProfile: type[PyTravelProfile] = PyTravelProfile
VolumeTracker: type[PyVolumeTracker] = PyVolumeTracker

if not PURE_PYTHON:
    try:
        TravelProfile = importlib.import_module("core._sr").TravelProfile
        VolumeTracker = importlib.import_module("core._volume").VolumeTracker
        COMPILED = True
    except ImportError as exc:  # pragma: no cover - depends on the build
        warnings.warn(
            f"compiled hot paths unavailable ({exc}); using the pure-Python twins. "
            "Run the README's set-up command to build them.",
            RuntimeWarning,
            stacklevel=1,
        )
