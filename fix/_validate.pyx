# cython: language_level=3
"""Compiled twin of ``DataDictionary.py_quick_valid`` (see dictionary.py).

Same answer for every input (differential property test); the data formats
are checked by hand-written scanners instead of regular expressions.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef inline bint _digit(unsigned char c) noexcept:
    return 48 <= c <= 57


cdef bint _digits(const unsigned char* p, Py_ssize_t a, Py_ssize_t b) noexcept:
    cdef Py_ssize_t i
    for i in range(a, b):
        if not _digit(p[i]):
            return False
    return True


cdef bint _fraction_ok(const unsigned char* p, Py_ssize_t n, Py_ssize_t at) noexcept:
    # "" or "." followed by 1..9 digits
    if n == at:
        return True
    if p[at] != 46 or n - at - 1 < 1 or n - at - 1 > 9:
        return False
    return _digits(p, at + 1, n)


cdef bint _format_ok(int code, bytes value) noexcept:
    cdef const unsigned char* p = <const unsigned char*>PyBytes_AS_STRING(value)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(value)
    cdef Py_ssize_t i = 0, before = 0, after = 0
    if code == 1:  # -?\d+
        if n > 0 and p[0] == 45:
            i = 1
        return n > i and _digits(p, i, n)
    if code == 2:  # -?(\d+\.?\d*|\.\d+)
        if n > 0 and p[0] == 45:
            i = 1
        while i < n and _digit(p[i]):
            i += 1
            before += 1
        if i < n and p[i] == 46:
            i += 1
            while i < n and _digit(p[i]):
                i += 1
                after += 1
        return i == n and (before > 0 or after > 0)
    if code == 3:  # one byte, not SOH
        return n == 1 and p[0] != 1
    if code == 4:
        return n == 1 and (p[0] == 89 or p[0] == 78)
    if code == 5:  # \d{8}-\d{2}:\d{2}:\d{2}(\.\d{1,9})?
        return (
            n >= 17
            and _digits(p, 0, 8)
            and p[8] == 45
            and _digits(p, 9, 11)
            and p[11] == 58
            and _digits(p, 12, 14)
            and p[14] == 58
            and _digits(p, 15, 17)
            and _fraction_ok(p, n, 17)
        )
    if code == 6:  # \d{2}:\d{2}:\d{2}(\.\d{1,9})?
        return (
            n >= 8
            and _digits(p, 0, 2)
            and p[2] == 58
            and _digits(p, 3, 5)
            and p[5] == 58
            and _digits(p, 6, 8)
            and _fraction_ok(p, n, 8)
        )
    if code == 7:
        return n == 8 and _digits(p, 0, 8)
    return True


def quick_valid(dd, list fields, bint check_have_values=True):
    """True only when the full validation would find nothing (see dictionary.py)."""
    cdef Py_ssize_t i, n = len(fields)
    cdef int section = 0, code
    cdef object tag
    cdef bytes value
    cdef tuple field, qspec
    if n == 0:
        return False
    field = <tuple>fields[0]
    if field[0] != 35:
        return False
    spec = dd.messages.get(field[1])
    if spec is None:
        return False
    cdef frozenset header_tags = dd.header_tags
    cdef frozenset trailer_tags = dd.trailer_tags
    cdef dict header_groups = dd.header.groups
    cdef frozenset allowed = spec.fields
    cdef dict groups = spec.groups
    cdef dict specs = dd.quick_specs
    cdef set seen = set()
    for i in range(1, n):
        field = <tuple>fields[i]
        tag = field[0]
        value = <bytes>field[1]
        if tag in seen:
            return False
        seen.add(tag)
        if tag in header_tags and tag not in trailer_tags:
            if section != 0 or tag in header_groups:
                return False
        elif tag in trailer_tags:
            section = 2
        else:
            if section == 2 or tag not in allowed or tag in groups:
                return False
            section = 1
        qspec_obj = specs.get(tag)
        if qspec_obj is None:
            return False
        qspec = <tuple>qspec_obj
        if PyBytes_GET_SIZE(value) == 0:
            if check_have_values:
                return False
            continue
        code = qspec[0]
        if code != 0 and not _format_ok(code, value):
            return False
        enums = qspec[1]
        if enums is not None:
            if qspec[2]:
                for part in value.split(b" "):
                    if part not in enums:
                        return False
            elif value not in enums:
                return False
    for tag in dd.header_required_rest:
        if tag not in seen:
            return False
    for tag in spec.required:
        if tag not in seen:
            return False
    return True
