"""FIX codec: parse and encode of a NewOrderSingle and an ExecutionReport.

Side by side with simplefix on the same bytes. Our "parse" is more work than
simplefix's: it checks BodyLength and CheckSum as well as splitting fields.
Target (issue 5): our parse at least 20x faster than simplefix's.
"""

from __future__ import annotations

import pytest
import simplefix

from fix import codec as pycodec
from fix.framing import impl

BEGIN = b"FIX.4.4"
NOS = [
    (35, b"D"),
    (34, b"1024"),
    (49, b"SOVEREIGN"),
    (52, b"20240102-14:30:00.123"),
    (56, b"PRIME"),
    (1, b"ACC-001"),
    (11, b"C-20240102-000123"),
    (18, b"M"),
    (21, b"1"),
    (38, b"500"),
    (40, b"P"),
    (44, b"25.125"),
    (54, b"1"),
    (55, b"INTC"),
    (59, b"3"),
    (60, b"20240102-14:30:00"),
    (100, b"DARKX"),
    (110, b"100"),
]
ER = [
    (35, b"8"),
    (34, b"2048"),
    (49, b"PRIME"),
    (52, b"20240102-14:30:00.456"),
    (56, b"SOVEREIGN"),
    (1, b"ACC-001"),
    (6, b"25.12"),
    (11, b"C-20240102-000123"),
    (14, b"100"),
    (17, b"X-778899"),
    (30, b"DARKX"),
    (31, b"25.12"),
    (32, b"100"),
    (37, b"O-445566"),
    (38, b"500"),
    (39, b"1"),
    (54, b"1"),
    (55, b"INTC"),
    (60, b"20240102-14:30:00.455"),
    (150, b"F"),
    (151, b"400"),
]
MESSAGES = {"NewOrderSingle": NOS, "ExecutionReport": ER}


def ours_parse(raw: bytes) -> list[tuple[int, bytes]]:
    kind, start, end, _ = impl.scan(raw, 0, 1 << 20)
    assert kind == 1
    return impl.parse(raw[start:end] if end - start != len(raw) else raw)


def simplefix_parse(raw: bytes) -> simplefix.FixMessage:
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    return parser.get_message()


def simplefix_encode(fields: list[tuple[int, bytes]]) -> bytes:
    message = simplefix.FixMessage()
    message.append_pair(8, BEGIN)
    for tag, value in fields:
        message.append_pair(tag, value)
    return message.encode()


@pytest.mark.parametrize("name", list(MESSAGES))
def test_parse_ours(benchmark, name: str) -> None:
    raw = impl.encode(BEGIN, MESSAGES[name])
    result = benchmark(ours_parse, raw)
    assert result[2:-1] == MESSAGES[name]


@pytest.mark.parametrize("name", list(MESSAGES))
def test_parse_ours_pure_python(benchmark, name: str) -> None:
    raw = pycodec.encode(BEGIN, MESSAGES[name])

    def run() -> list[tuple[int, bytes]]:
        pycodec.scan(raw, 0, 1 << 20)
        return pycodec.parse(raw)

    assert benchmark(run)[2:-1] == MESSAGES[name]


@pytest.mark.parametrize("name", list(MESSAGES))
def test_parse_simplefix(benchmark, name: str) -> None:
    raw = impl.encode(BEGIN, MESSAGES[name])
    message = benchmark(simplefix_parse, raw)
    assert message.get(55) == b"INTC"


@pytest.mark.parametrize("name", list(MESSAGES))
def test_encode_ours(benchmark, name: str) -> None:
    raw = benchmark(impl.encode, BEGIN, MESSAGES[name])
    assert raw == simplefix_encode(MESSAGES[name])


@pytest.mark.parametrize("name", list(MESSAGES))
def test_encode_simplefix(benchmark, name: str) -> None:
    raw = benchmark(simplefix_encode, MESSAGES[name])
    assert raw.startswith(b"8=FIX.4.4\x019=")
