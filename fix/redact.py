"""Credentials out of every copy of a FIX message that outlives the wire.

A Logon carries Password(554) — and some venues put a token in RawData(96)
or NewPassword(925) — so a message store or a message log that keeps the raw
bytes would keep the password in clear. ``redact`` replaces those values
with ``***`` and re-encodes the message (RawDataLength(95), BodyLength and
CheckSum made consistent again), so the stored copy still parses. Stored
Logons are never resent (admin messages become GapFills), so nothing is
lost by keeping them redacted.
"""

from __future__ import annotations

from core.errors import BadInput
from fix.codec import encode, parse

MASK = b"***"
SECRET_TAGS = frozenset({554, 925, 96})  # Password, NewPassword, RawData
_MARKERS = (b"\x01554=", b"\x01925=", b"\x0196=")


def carries_secret(raw: bytes) -> bool:
    """Cheap test: could ``raw`` hold a credential field at all?"""
    return any(marker in raw for marker in _MARKERS)


def redact(raw: bytes) -> bytes:
    """``raw`` with every credential value replaced by ``***`` (unchanged if none)."""
    if not carries_secret(raw):
        return raw
    try:
        fields = parse(raw)
    except BadInput:
        fields = []
    if len(fields) < 3:
        # Not a message we can re-encode: keep nothing of it rather than the secret.
        return b""
    out: list[tuple[int, object]] = []
    for tag, value in fields[2:-1]:  # drop 8, 9 and 10: encode() writes them again
        if tag in SECRET_TAGS:
            value = MASK
        elif tag == 95:  # RawDataLength must match the masked RawData
            value = str(len(MASK)).encode()
        out.append((tag, value))
    return encode(fields[0][1], out)
