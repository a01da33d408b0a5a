"""FIX tag=value codec, pure Python (the twin of ``_codec.pyx``).

Framing follows QuickFIX's parser so garbled input is handled the way the
acceptance suite expects: find ``8=FIX``, read BodyLength(9), then take the
message up to the first CheckSum(10) field at or after the declared end. A
frame whose BodyLength or CheckSum is wrong, or whose first three fields are
not 8, 9, 35, is reported as garbled and dropped as a unit; bytes that follow
it are kept (simplefix checks neither length nor checksum).

Every function here has the same signature and result in ``_codec.pyx``; a
differential test holds them together.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.errors import BadInput

NEED_MORE = 0
FRAME = 1
GARBLED = 2
JUNK = 3

_START = b"8=FIX"
_CHECKSUM = b"\x0110="


MAX_TAG = 2**63 - 1  # tags are 64-bit signed in the compiled twin; both refuse beyond


def _need_bytes(name: str, value: object) -> None:
    if not isinstance(value, bytes):
        raise BadInput(name, value, "must be bytes")


def checksum(data: bytes) -> int:
    """FIX CheckSum: byte sum modulo 256."""
    _need_bytes("data", data)
    return sum(data) & 0xFF


def _value_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            raise BadInput("value", value, "is not latin-1 text") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode()
    raise BadInput("value", value, "FIX field values are bytes, str or int")


def _pair(item: object) -> tuple[int, object]:
    """A (tag, value) pair with an integer tag within ±MAX_TAG, or BadInput."""
    if not isinstance(item, tuple | list) or len(item) != 2:
        raise BadInput("field", item, "must be a (tag, value) pair")
    tag = item[0]
    if not isinstance(tag, int) or isinstance(tag, bool):
        raise BadInput("tag", tag, "must be an integer")
    if not -MAX_TAG <= tag <= MAX_TAG:
        raise BadInput("tag", tag, "is outside ±(2**63 - 1)")
    return tag, item[1]


def encode(begin_string: bytes, fields: Sequence[tuple[int, object]]) -> bytes:
    """A complete message: ``8=begin|9=len|<fields>|10=sum|``.

    ``fields`` starts with MsgType(35); BodyLength and CheckSum are computed.
    Values containing SOH are refused (they would corrupt framing).
    """
    _need_bytes("begin_string", begin_string)
    parts = []
    for item in fields:
        tag, value = _pair(item)
        raw = _value_bytes(value)
        if b"\x01" in raw:
            raise BadInput(f"tag {tag}", raw, "value contains the SOH delimiter")
        parts.append(b"%d=%s\x01" % (tag, raw))
    body = b"".join(parts)
    head = b"8=%s\x019=%d\x01" % (begin_string, len(body))
    total = checksum(head) + checksum(body)
    return b"%s%s10=%03d\x01" % (head, body, total & 0xFF)


def parse(frame: bytes) -> list[tuple[int, bytes]]:
    """Split a framed message into (tag, value) pairs, in wire order.

    Tags may be zero or negative (``-1=HI``): they parse, and validation
    rejects them with "Invalid tag number" as QuickFIX does. A field without
    ``=``, a non-integer tag or a missing final SOH is malformed (BadInput).
    """
    _need_bytes("frame", frame)
    if not frame.endswith(b"\x01"):
        raise BadInput("frame", frame[-20:], "does not end with SOH")
    out: list[tuple[int, bytes]] = []
    for chunk in frame[:-1].split(b"\x01"):
        eq = chunk.find(b"=")
        if eq <= 0:
            raise BadInput("field", chunk, "is not tag=value")
        tag_text = chunk[:eq]
        digits = tag_text[1:] if tag_text[:1] == b"-" else tag_text
        if not digits or not digits.isdigit() or len(digits) > 9:
            raise BadInput("tag", tag_text, "is not an integer")
        out.append((int(tag_text), chunk[eq + 1 :]))
    return out


def _check_scan_args(buf: bytes, pos: object, max_size: object) -> None:
    """Same checks for both twins (the compiled one calls this)."""
    for name, value in (("pos", pos), ("max_size", max_size)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadInput(name, value, "must be an integer")
        if not 0 <= value <= 2**62:  # negative pos would count from the end in one twin
            raise BadInput(name, value, "must be in 0..2**62")


def scan(buf: bytes, pos: int, max_size: int) -> tuple[int, int, int, str]:
    """Find the next message in ``buf[pos:]``.

    Returns ``(kind, start, end, reason)``: ``FRAME`` — a valid message in
    ``buf[start:end]``; ``GARBLED`` — drop ``buf[start:end]``, reason says
    why; ``JUNK`` — no message start before ``end``, drop ``buf[pos:end]``;
    ``NEED_MORE`` — wait for more bytes (``start`` is where a message begins).
    """
    _need_bytes("buf", buf)
    _check_scan_args(buf, pos, max_size)
    n = len(buf)
    start = buf.find(_START, pos)
    if start < 0:
        keep = max(pos, n - (len(_START) - 1))
        return (JUNK, pos, keep, "no BeginString") if keep > pos else (NEED_MORE, pos, pos, "")
    if start > pos:
        return JUNK, pos, start, "bytes before BeginString"
    soh = buf.find(b"\x01", start)
    if soh < 0:
        if n - start > 32:
            return GARBLED, start, start + 2, "BeginString not terminated"
        return NEED_MORE, start, start, ""
    if n < soh + 3:
        return NEED_MORE, start, start, ""
    if buf[soh + 1 : soh + 3] != b"9=":
        return GARBLED, start, soh + 1, "BodyLength(9) is not the second field"
    len_end = buf.find(b"\x01", soh + 3)
    if len_end < 0:
        if n - soh > 12:
            return GARBLED, start, soh + 1, "BodyLength(9) not terminated"
        return NEED_MORE, start, start, ""
    digits = buf[soh + 3 : len_end]
    if not digits.isdigit() or len(digits) > 9:
        return GARBLED, start, len_end + 1, "BodyLength(9) is not a number"
    length = int(digits)
    if length > max_size:
        return GARBLED, start, len_end + 1, "BodyLength(9) exceeds the maximum message size"
    body_start = len_end + 1
    declared_end = body_start + length
    if n < declared_end:
        return NEED_MORE, start, start, ""
    tag = buf.find(_CHECKSUM, declared_end - 1)
    if tag < 0:
        if n - start > max_size + 64:
            return GARBLED, start, declared_end, "no CheckSum(10) after BodyLength"
        return NEED_MORE, start, start, ""
    end = buf.find(b"\x01", tag + 4)
    if end < 0:
        if n - tag > 8:
            return GARBLED, start, tag + 4, "CheckSum(10) not terminated"
        return NEED_MORE, start, start, ""
    end += 1
    if tag != declared_end - 1:
        return GARBLED, start, end, "BodyLength(9) does not match the message"
    sum_text = buf[tag + 4 : end - 1]
    if len(sum_text) != 3 or not sum_text.isdigit():
        return GARBLED, start, end, "CheckSum(10) is not three digits"
    if int(sum_text) != checksum(buf[start : tag + 1]):
        return GARBLED, start, end, "CheckSum(10) does not match"
    if buf[body_start : body_start + 3] != b"35=":
        return GARBLED, start, end, "MsgType(35) is not the third field"
    return FRAME, start, end, ""
