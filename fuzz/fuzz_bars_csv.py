"""atheris harness: the bars CSV reader (``sim signals`` / ``sim replay``).

Any bytes → ``read_bars_file`` returns bars or raises ``BadRow`` (a ``BadInput``
naming a line and a field). Anything else is a finding.

    python fuzz/fuzz_bars_csv.py -max_total_time=120 fuzz/corpus/bars
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from core.errors import BadInput
    from sim.bars_csv import read_bars_file

_DIR = Path(tempfile.mkdtemp(prefix="fuzz-bars-"))
_FILE = _DIR / "bars.csv"


def one_input(data: bytes) -> None:
    _FILE.write_bytes(data)
    for skip_bad in (False, True):
        try:
            read_bars_file(_FILE, skip_bad=skip_bad)
        except BadInput as exc:
            if not exc.field or not exc.reason:
                raise AssertionError(f"BadInput without a field or reason: {exc!r}") from None


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
