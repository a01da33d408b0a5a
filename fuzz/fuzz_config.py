"""atheris harness: the gateway config loader (``python -m gateway --config``).

Any bytes → ``parse_config`` returns a ``Config`` or raises ``BadInput``
naming ``section.key`` (or ``config``) and a reason. Anything else is a finding.

    python fuzz/fuzz_config.py -max_total_time=120 fuzz/corpus/config
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from core.errors import BadInput
    from gateway.config import parse_config


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        parse_config(text, env={}, base=Path("/srv"))
    except BadInput as exc:
        if not exc.field or not exc.reason:
            raise AssertionError(f"BadInput without a field or reason: {exc!r}") from None


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
