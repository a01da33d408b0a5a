"""Data dictionary loaded from the shared QuickFIX XML files."""

from __future__ import annotations

import pytest

from gateway.fix import codec, dictionary
from gateway.fix.dictionary import (
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
