"""atheris harness: the FIX codec twins agree (``fix/codec.py`` vs
``_codec.pyx``) on scan, parse and checksum over any bytes, and on encode over
fields decoded from the input. Same answer or the same error, else a finding.

    python fuzz/fuzz_fix_codec.py -max_total_time=120 fuzz/corpus/fix
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from fix import _codec, codec


def _answer(fn, *args):  # type: ignore[no-untyped-def]
    try:
        return ("ok", fn(*args))
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    pos = fdp.ConsumeIntInRange(0, 64)
    max_size = fdp.ConsumeIntInRange(0, 1 << 16)
    n = fdp.ConsumeIntInRange(0, 4)
    fields = [
        (fdp.ConsumeIntInRange(-(2**64), 2**64), fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 8)))
        for _ in range(n)
    ]
    buf = fdp.ConsumeBytes(fdp.remaining_bytes())
    for name, args in (
        ("scan", (buf, pos, max_size)),
        ("parse", (buf,)),
        ("checksum", (buf,)),
        ("encode", (b"FIX.4.4", fields)),
    ):
        pure, fast = _answer(getattr(codec, name), *args), _answer(getattr(_codec, name), *args)
        if pure != fast:
            raise AssertionError(f"{name}{args!r}: pure {pure!r} != compiled {fast!r}")
        if pure[0] == "error" and pure[1] != "BadInput":
            raise AssertionError(f"{name}{args!r}: {pure!r} is not BadInput")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
