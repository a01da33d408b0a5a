# cython: language_level=3
"""FIX tag=value codec, compiled fast path (twin of ``codec.py``).

Same functions, same results; loops over raw bytes in C instead of Python
slices. ``codec.py`` documents the framing rules.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcmp, memcpy

from core.errors import BadInput
from fix.codec import _check_scan_args

MAX_TAG = 2**63 - 1  # as codec.MAX_TAG: |tag| fits a long long and its negation

NEED_MORE = 0
FRAME = 1
GARBLED = 2
JUNK = 3


cdef inline Py_ssize_t _find(const unsigned char* p, Py_ssize_t n, Py_ssize_t pos,
                             const char* pat, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t i
    if pos < 0:
        pos = 0
    i = pos
    while i + m <= n:
        if p[i] == <unsigned char>pat[0] and memcmp(p + i, pat, m) == 0:
            return i
        i += 1
    return -1


cdef inline Py_ssize_t _find_soh(const unsigned char* p, Py_ssize_t n, Py_ssize_t pos) noexcept nogil:
    cdef Py_ssize_t i = pos
    while i < n:
        if p[i] == 1:
            return i
        i += 1
    return -1


cdef inline unsigned int _sum(const unsigned char* p, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    cdef unsigned int s = 0
    cdef Py_ssize_t i
    for i in range(a, b):
        s += p[i]
    return s


cdef inline _need_bytes(str name, object value):
    if not isinstance(value, bytes):
        raise BadInput(name, value, "must be bytes")


def checksum(object data):
    """FIX CheckSum: byte sum modulo 256."""
    _need_bytes("data", data)
    return _sum(<const unsigned char*>PyBytes_AS_STRING(data), 0, PyBytes_GET_SIZE(data)) & 0xFF


cdef bytes _value_bytes(object value):
    if isinstance(value, bytes):
        return <bytes>value
    if isinstance(value, str):
        try:
            return (<str>value).encode("latin-1")
        except UnicodeEncodeError:
            raise BadInput("value", value, "is not latin-1 text") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode()
    raise BadInput("value", value, "FIX field values are bytes, str or int")


cdef Py_ssize_t _write_int(char* out, long long v) noexcept:
    cdef char tmp[24]
    cdef Py_ssize_t k = 0, j
    cdef bint neg = v < 0
    if neg:
        v = -v
    if v == 0:
        tmp[0] = 48
        k = 1
    while v > 0:
        tmp[k] = <char>(48 + v % 10)
        v //= 10
        k += 1
    j = 0
    if neg:
        out[0] = 45
        j = 1
    while k > 0:
        k -= 1
        out[j] = tmp[k]
        j += 1
    return j


cdef object _tag_of(object item):
    """codec._pair's checks, same order and messages: returns the tag."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise BadInput("field", item, "must be a (tag, value) pair")
    t = item[0]
    if not isinstance(t, int) or isinstance(t, bool):
        raise BadInput("tag", t, "must be an integer")
    if not -MAX_TAG <= t <= MAX_TAG:
        raise BadInput("tag", t, "is outside ±(2**63 - 1)")
    return t


def encode(object begin_string, fields):
    """A complete message ``8=..|9=..|<fields>|10=..|`` (see codec.encode)."""
    cdef list values = []
    cdef list tags = []
    cdef Py_ssize_t body_len = 0, total, pos, vlen, i
    cdef bytes raw
    cdef long long tag
    cdef char numbuf[24]
    cdef const char* vp
    _need_bytes("begin_string", begin_string)
    for item in fields:
        tag = _tag_of(item)
        raw = _value_bytes(item[1])
        vp = PyBytes_AS_STRING(raw)
        vlen = PyBytes_GET_SIZE(raw)
        for i in range(vlen):
            if vp[i] == 1:
                raise BadInput(f"tag {tag}", raw, "value contains the SOH delimiter")
        tags.append(tag)
        values.append(raw)
        body_len += _write_int(numbuf, tag) + 2 + vlen
    cdef Py_ssize_t blen = PyBytes_GET_SIZE(begin_string)
    cdef Py_ssize_t len_digits = _write_int(numbuf, body_len)
    total = 2 + blen + 1 + 2 + len_digits + 1 + body_len + 7
    cdef bytes result = PyBytes_FromStringAndSize(NULL, total)
    cdef char* out = PyBytes_AS_STRING(result)
    memcpy(out, b"8=", 2)
    memcpy(out + 2, PyBytes_AS_STRING(begin_string), blen)
    pos = 2 + blen
    out[pos] = 1
    out[pos + 1] = 57  # '9'
    out[pos + 2] = 61  # '='
    pos += 3
    pos += _write_int(out + pos, body_len)
    out[pos] = 1
    pos += 1
    for i in range(len(tags)):
        pos += _write_int(out + pos, <long long>tags[i])
        out[pos] = 61
        pos += 1
        raw = <bytes>values[i]
        vlen = PyBytes_GET_SIZE(raw)
        memcpy(out + pos, PyBytes_AS_STRING(raw), vlen)
        pos += vlen
        out[pos] = 1
        pos += 1
    cdef unsigned int s = _sum(<const unsigned char*>out, 0, pos) & 0xFF
    out[pos] = 49  # '1'
    out[pos + 1] = 48  # '0'
    out[pos + 2] = 61
    out[pos + 3] = <char>(48 + s // 100)
    out[pos + 4] = <char>(48 + (s // 10) % 10)
    out[pos + 5] = <char>(48 + s % 10)
    out[pos + 6] = 1
    return result


def parse(object frame):
    """(tag, value) pairs in wire order (see codec.parse)."""
    _need_bytes("frame", frame)
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(frame)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(frame)
    cdef Py_ssize_t i = 0, field_start, eq, digits
    cdef long long tag
    cdef bint neg
    cdef list out = []
    if n == 0 or p[n - 1] != 1:
        raise BadInput("frame", frame[-20:], "does not end with SOH")
    while i < n:
        field_start = i
        neg = False
        if p[i] == 45:  # '-'
            neg = True
            i += 1
        tag = 0
        digits = 0
        while i < n and 48 <= p[i] <= 57:
            tag = tag * 10 + (p[i] - 48)
            digits += 1
            i += 1
        if i >= n or p[i] != 61 or digits == 0 or digits > 9:
            eq = i
            while eq < n and p[eq] != 1:
                eq += 1
            chunk = frame[field_start:eq]
            if b"=" not in chunk or chunk.find(b"=") == 0:
                raise BadInput("field", chunk, "is not tag=value")
            raise BadInput("tag", chunk[: chunk.find(b"=")], "is not an integer")
        i += 1
        eq = i
        while p[i] != 1:
            i += 1
        out.append((-tag if neg else tag, PyBytes_FromStringAndSize(<const char*>p + eq, i - eq)))
        i += 1
    return out


def scan(object buf, object pos_in, object max_in):
    """Next message in ``buf[pos:]`` as (kind, start, end, reason); see codec.scan."""
    _need_bytes("buf", buf)
    _check_scan_args(buf, pos_in, max_in)
    cdef Py_ssize_t pos = pos_in
    cdef Py_ssize_t max_size = max_in
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(buf)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(buf)
    cdef Py_ssize_t start, soh, len_end, keep, body_start, declared_end, tag, end, k
    cdef long long length
    start = _find(p, n, pos, b"8=FIX", 5)
    if start < 0:
        keep = n - 4
        if keep < pos:
            keep = pos
        if keep > pos:
            return JUNK, pos, keep, "no BeginString"
        return NEED_MORE, pos, pos, ""
    if start > pos:
        return JUNK, pos, start, "bytes before BeginString"
    soh = _find_soh(p, n, start)
    if soh < 0:
        if n - start > 32:
            return GARBLED, start, start + 2, "BeginString not terminated"
        return NEED_MORE, start, start, ""
    if n < soh + 3:
        return NEED_MORE, start, start, ""
    if p[soh + 1] != 57 or p[soh + 2] != 61:
        return GARBLED, start, soh + 1, "BodyLength(9) is not the second field"
    len_end = _find_soh(p, n, soh + 3)
    if len_end < 0:
        if n - soh > 12:
            return GARBLED, start, soh + 1, "BodyLength(9) not terminated"
        return NEED_MORE, start, start, ""
    if len_end == soh + 3 or len_end - (soh + 3) > 9:
        return GARBLED, start, len_end + 1, "BodyLength(9) is not a number"
    length = 0
    for k in range(soh + 3, len_end):
        if p[k] < 48 or p[k] > 57:
            return GARBLED, start, len_end + 1, "BodyLength(9) is not a number"
        length = length * 10 + (p[k] - 48)
    if length > max_size:
        return GARBLED, start, len_end + 1, "BodyLength(9) exceeds the maximum message size"
    body_start = len_end + 1
    declared_end = body_start + length
    if n < declared_end:
        return NEED_MORE, start, start, ""
    tag = _find(p, n, declared_end - 1, b"\x0110=", 4)
    if tag < 0:
        if n - start > max_size + 64:
            return GARBLED, start, declared_end, "no CheckSum(10) after BodyLength"
        return NEED_MORE, start, start, ""
    end = _find_soh(p, n, tag + 4)
    if end < 0:
        if n - tag > 8:
            return GARBLED, start, tag + 4, "CheckSum(10) not terminated"
        return NEED_MORE, start, start, ""
    end += 1
    if tag != declared_end - 1:
        return GARBLED, start, end, "BodyLength(9) does not match the message"
    if end - 1 - (tag + 4) != 3:
        return GARBLED, start, end, "CheckSum(10) is not three digits"
    for k in range(tag + 4, end - 1):
        if p[k] < 48 or p[k] > 57:
            return GARBLED, start, end, "CheckSum(10) is not three digits"
    if (p[tag + 4] - 48) * 100 + (p[tag + 5] - 48) * 10 + (p[tag + 6] - 48) != (
        _sum(p, start, tag + 1) & 0xFF
    ):
        return GARBLED, start, end, "CheckSum(10) does not match"
    if n < body_start + 3 or memcmp(p + body_start, b"35=", 3) != 0:
        return GARBLED, start, end, "MsgType(35) is not the third field"
    return FRAME, start, end, ""
