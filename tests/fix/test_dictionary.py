"""Data dictionary loaded from the shared QuickFIX XML files."""

from __future__ import annotations

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from fix import codec, dictionary
from fix.dictionary import (
    GROUP_COUNT_MISMATCH,
    INVALID_MSGTYPE,
    REQUIRED_TAG_MISSING,
    TAG_OUT_OF_ORDER,
    TAG_REPEATED,
    TAG_WITHOUT_VALUE,
)


def _fields(*pairs: tuple[int, bytes]) -> list[tuple[int, bytes]]:
    head = [(34, b"2"), (49, b"A"), (52, b"20240102-10:00:00"), (56, b"B")]
    raw = codec.encode(b"FIX.4.4", [pairs[0], *head, *pairs[1:]])
    return codec.parse(raw)[2:-1]


def _check(dd: dictionary.DataDictionary, fields, check_values: bool = True):
    return dd.validate(fields, dd.split(fields), check_values)


@pytest.mark.parametrize("version", ["FIX.4.2", "FIX.4.4"])
def test_both_versions_load_with_header_trailer_and_messages(version) -> None:
    dd = dictionary.load(version)
    assert dd.begin_string == version
    assert {8, 9, 35, 34, 49, 52, 56} <= set(dd.header.required)
    assert dd.trailer.required == (10,)
    assert dd.messages[b"D"].name == "NewOrderSingle" and not dd.messages[b"D"].admin
    assert dd.messages[b"0"].admin
    assert dd.fields[44].type == "PRICE"
    assert dd.fields[54].enums is not None and b"1" in dd.fields[54].enums


def test_fix44_components_are_flattened_with_required_flags() -> None:
    spec = dictionary.load("FIX.4.4").messages[b"D"]
    assert {11, 54, 60, 40} <= set(spec.required)
    assert 55 in spec.fields and 55 not in spec.required  # Instrument: Symbol optional in 4.4
    assert 100 in spec.fields and 110 in spec.fields and 18 in spec.fields
    group = spec.groups[386]  # NoTradingSessions
    assert group.delimiter == 336 and 625 in group.members


def test_group_parsing_and_count_mismatch() -> None:
    dd = dictionary.load("FIX.4.4")
    base = [(35, b"D"), (11, b"X"), (21, b"1"), (40, b"1"), (54, b"1"), (55, b"I")]
    good = _fields(*base, (386, b"2"), (336, b"A"), (336, b"B"), (60, b"20240102-10:00:00"))
    parsed = dd.split(good)
    group_item = next(i for i in parsed.body if i[0] == 386)
    assert [[f[1] for f in entry] for entry in group_item[2]] == [[b"A"], [b"B"]]
    assert _check(dd, good) is None
    bad = _fields(*base, (386, b"3"), (336, b"A"), (336, b"B"), (60, b"20240102-10:00:00"))
    assert _check(dd, bad) == dictionary.Rejection(GROUP_COUNT_MISMATCH, 386)


def test_structure_and_value_checks() -> None:
    dd = dictionary.load("FIX.4.4")
    assert _check(dd, _fields((35, b"0"), (112, b""))) == dictionary.Rejection(
        TAG_WITHOUT_VALUE, 112
    )
    assert _check(dd, _fields((35, b"0"), (112, b"")), check_values=False) is None
    assert _check(dd, _fields((35, b"0"), (112, b"a"), (112, b"b"))) == dictionary.Rejection(
        TAG_REPEATED, 112
    )
    assert _check(dd, _fields((35, b"ZZ"))) == dictionary.Rejection(INVALID_MSGTYPE)
    assert _check(dd, _fields((35, b"1"))) == dictionary.Rejection(REQUIRED_TAG_MISSING, 112)
    late_header = _fields((35, b"0"), (112, b"a"), (97, b"Y"))
    assert _check(dd, late_header) == dictionary.Rejection(TAG_OUT_OF_ORDER, 97)


def test_rejection_text_matches_quickfix_wording() -> None:
    assert dictionary.Rejection(REQUIRED_TAG_MISSING, 11).text == "Required tag missing"
    assert dictionary.Rejection(GROUP_COUNT_MISMATCH).text == (
        "Incorrect NumInGroup count for repeating group"
    )


TAG_POOL = [34, 49, 52, 56, 43, 97, 122, 115, 11, 21, 38, 40, 44, 54, 55, 59, 60, 100, 110]
TAG_POOL += [18, 167, 386, 336, 999, 0, 5000, 10, 93, 112]
VALUE_POOL = [b"", b"1", b"2", b"Y", b"N", b"P", b"M", b"w", b"12.5", b"+1", b"abc"]
VALUE_POOL += [b"20240102-10:00:00", b"20240102-10:00:00.123", b"CS", b"BOO", b"100"]


BASES = [
    [(35, b"0")],
    [(35, b"1"), (112, b"T")],
    [
        *((35, b"D"), (11, b"X"), (21, b"1"), (38, b"100"), (40, b"2"), (44, b"10.5")),
        *((54, b"1"), (55, b"I"), (60, b"20240102-10:00:00")),
    ],
]
HEADER = [(34, b"2"), (49, b"A"), (52, b"20240102-10:00:00"), (56, b"B")]
mutation = st.tuples(
    st.sampled_from(["insert", "replace", "delete", "duplicate", "swap"]),
    st.integers(0, 30),
    st.sampled_from(TAG_POOL),
    st.sampled_from(VALUE_POOL),
)


@settings(max_examples=500, deadline=None)
@given(
    base=st.sampled_from(range(len(BASES))),
    mutations=st.lists(mutation, max_size=3),
    check_values=st.booleans(),
)
def test_quick_valid_never_accepts_what_validate_rejects(base, mutations, check_values) -> None:
    dd = dictionary.load("FIX.4.4")
    first, *body = BASES[base]
    fields = [first, *HEADER, *body]
    for kind, where, tag, value in mutations:
        i = 1 + where % len(fields)
        if kind == "insert":
            fields.insert(min(i, len(fields)), (tag, value))
        elif i < len(fields):
            if kind == "replace":
                fields[i] = (fields[i][0], value)
            elif kind == "delete":
                del fields[i]
            elif kind == "duplicate":
                fields.insert(i, fields[i])
            elif i + 1 < len(fields):
                fields[i], fields[i + 1] = fields[i + 1], fields[i]
    if dd.quick_valid(fields, check_values):
        event("quick path accepted")
        assert dd.validate(fields, dd.split(fields), check_values) is None
    else:
        event("full path")


def test_quick_valid_accepts_ordinary_traffic() -> None:
    dd = dictionary.load("FIX.4.4")
    order = _fields(
        (35, b"D"),
        (11, b"X"),
        (21, b"1"),
        (38, b"100"),
        (40, b"2"),
        (44, b"10.5"),
        (54, b"1"),
        (55, b"I"),
        (60, b"20240102-10:00:00"),
    )
    assert dd.quick_valid(order) and _check(dd, order) is None
    no_id = [f for f in order if f[0] != 11]
    assert not dd.quick_valid(no_id)  # ClOrdID missing: the full path decides
    assert _check(dd, no_id) == dictionary.Rejection(REQUIRED_TAG_MISSING, 11)


format_values = st.one_of(
    st.sampled_from(VALUE_POOL),
    st.text(alphabet="0123456789.-:Y N", max_size=24).map(str.encode),
    st.binary(max_size=6),
)


@settings(max_examples=500, deadline=None)
@given(
    base=st.sampled_from(range(len(BASES))),
    mutations=st.lists(
        st.tuples(
            st.sampled_from(["insert", "replace"]),
            st.integers(0, 30),
            st.sampled_from([*TAG_POOL, 38, 44, 60, 52, 126, 432, 168, 336]),
            format_values,
        ),
        max_size=3,
    ),
    check_values=st.booleans(),
)
def test_compiled_quick_valid_matches_python(base, mutations, check_values) -> None:
    try:
        from fix._validate import quick_valid
    except ImportError:
        pytest.skip("compiled validator not built")
    dd = dictionary.load("FIX.4.4")
    first, *body = BASES[base]
    fields = [first, *HEADER, *body]
    for kind, where, tag, value in mutations:
        i = 1 + where % len(fields)
        if kind == "insert":
            fields.insert(min(i, len(fields)), (tag, value))
        elif i < len(fields):
            fields[i] = (fields[i][0], value)
    expected = dd.py_quick_valid(fields, check_values)
    event(f"valid={expected}")
    assert quick_valid(dd, fields, check_values) is expected
