"""Codec: framing by BodyLength/CheckSum, garbled input, Cython vs pure-Python twin."""

from __future__ import annotations

import os

import pytest
import simplefix
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BadInput
from fix import codec
from fix.framing import COMPILED, FixMessage, Framer, Garbled

try:
    from fix import _codec
except ImportError:  # pragma: no cover
    _codec = None

IMPLS = [codec] + ([_codec] if _codec is not None else [])

NOS = [
    (35, b"D"),
    (34, b"2"),
    (49, b"TW"),
    (52, b"20240102-10:00:00.000"),
    (56, b"ISLD"),
    (11, b"ID"),
    (21, b"1"),
    (38, b"100"),
    (40, b"2"),
    (44, b"12.5"),
    (54, b"1"),
    (55, b"INTC"),
    (60, b"20240102-10:00:00"),
]

tags = st.integers(min_value=1, max_value=99999)
values = st.binary(min_size=0, max_size=30).filter(lambda b: b"\x01" not in b)
field_lists = st.lists(st.tuples(tags, values), min_size=0, max_size=20)
msg_types = st.sampled_from([b"0", b"D", b"8", b"AE", b"j"])
# Line noise: arbitrary bytes that never contain a message start.
garbage = st.binary(min_size=1, max_size=200).filter(lambda b: b"8=FIX" not in b)


def message(body: list[tuple[int, bytes]], msg_type: bytes = b"D") -> bytes:
    return codec.encode(b"FIX.4.4", [(35, msg_type), *body])


def test_compiled_codec_is_built_and_used_unless_pure_is_requested() -> None:
    assert _codec is not None, "run `python setup.py build_ext --inplace` (fix/_codec)"
    assert COMPILED is (os.environ.get("SOVEREIGN_PURE_PYTHON") != "1")


@pytest.mark.parametrize("impl", IMPLS)
def test_encode_computes_body_length_and_checksum(impl) -> None:
    raw = impl.encode(b"FIX.4.4", [(35, b"0"), (34, 1), (49, "A"), (56, b"B")])
    assert raw == b"8=FIX.4.4\x019=20\x0135=0\x0134=1\x0149=A\x0156=B\x0110=%03d\x01" % (
        sum(b"8=FIX.4.4\x019=20\x0135=0\x0134=1\x0149=A\x0156=B\x01") % 256
    )


@pytest.mark.parametrize("impl", IMPLS)
def test_encode_refuses_soh_inside_a_value(impl) -> None:
    with pytest.raises(BadInput, match="SOH"):
        impl.encode(b"FIX.4.4", [(35, b"D"), (58, b"a\x01b")])


@pytest.mark.parametrize("impl", IMPLS)
@settings(max_examples=150, deadline=None)
@given(body=field_lists, msg_type=msg_types)
def test_parse_inverts_encode(impl, body, msg_type) -> None:
    raw = impl.encode(b"FIX.4.4", [(35, msg_type), *body])
    fields = impl.parse(raw)
    assert fields[0] == (8, b"FIX.4.4")
    assert fields[1] == (
        9,
        str(len(raw) - len(b"8=FIX.4.4\x019=") - len(fields[1][1]) - 8).encode(),
    )
    assert fields[2:-1] == [(35, msg_type), *body]
    assert impl.scan(raw, 0, 1 << 20)[:3] == (codec.FRAME, 0, len(raw))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=300), pos=st.integers(0, 20))
def test_compiled_scan_and_parse_match_python(data, pos) -> None:
    if _codec is None:
        pytest.skip("compiled codec not built")
    assert _codec.scan(data, pos, 1000) == codec.scan(data, pos, 1000)
    assert _codec.checksum(data) == codec.checksum(data)
    for impl_result in (_outcome(codec.parse, data), _outcome(_codec.parse, data)):
        assert impl_result == _outcome(codec.parse, data)


@settings(max_examples=100, deadline=None)
@given(body=field_lists, cut=st.integers(0, 400), noise=garbage)
def test_compiled_scan_matches_python_on_near_valid_frames(body, cut, noise) -> None:
    if _codec is None:
        pytest.skip("compiled codec not built")
    raw = message(body)
    mangled = raw[:cut] + noise + raw[cut:]
    for data in (raw[:cut], mangled, noise + raw):
        assert _codec.scan(data, 0, 1 << 20) == codec.scan(data, 0, 1 << 20)


def _outcome(fn, data):
    try:
        return ("ok", fn(data))
    except BadInput as exc:
        return ("error", str(exc))


@settings(max_examples=150, deadline=None)
@given(noise=garbage, body=field_lists, chunk=st.integers(1, 50))
def test_garbage_never_raises_and_never_hides_the_next_message(noise, body, chunk) -> None:
    good = message(body)
    stream = noise + good
    framer = Framer()
    out: list[FixMessage | Garbled] = []
    for i in range(0, len(stream), chunk):
        out.extend(framer.feed(stream[i : i + chunk]))
    messages = [m for m in out if isinstance(m, FixMessage)]
    assert [m.raw for m in messages] == [good]


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda raw: raw[:-4] + b"0" + raw[-4:], "CheckSum"),
        (lambda raw: raw.replace(b"\x019=1", b"\x019=", 1), "BodyLength"),  # too short
        (lambda raw: codec.encode(b"FIX.4.4", [(34, b"2"), (35, b"D")]), "MsgType"),
    ],
)
def test_bad_length_checksum_or_msgtype_is_garbled_and_next_message_survives(
    mangle, reason
) -> None:
    good = message(NOS[1:])
    bad = mangle(good)
    assert bad != good
    out = Framer().feed(bad + good)
    assert isinstance(out[0], Garbled) and reason in out[0].reason
    assert [m.raw for m in out if isinstance(m, FixMessage)][-1] == good


def test_wrong_checksum_value_is_garbled() -> None:
    good = message(NOS[1:])
    digits = good[-4:-1]
    wrong = b"%03d" % ((int(digits) + 1) % 256)
    out = Framer().feed(good[:-4] + wrong + b"\x01" + good)
    assert isinstance(out[0], Garbled) and "CheckSum" in out[0].reason
    assert isinstance(out[1], FixMessage) and out[1].raw == good


def test_bad_tag_is_reported_not_raised() -> None:
    raw = codec.encode(b"FIX.4.4", [(35, b"0"), (34, b"2")]).replace(b"34=", b"3x=")
    fixed = raw[:-4] + b"%03d\x01" % codec.checksum(raw[: raw.rfind(b"10=")])
    out = Framer().feed(fixed)
    assert isinstance(out[0], Garbled) and "tag" in out[0].reason


def test_negative_and_zero_tags_parse_for_validation_to_reject() -> None:
    raw = message([(0, b"HI"), (-1, b"HI")], b"0")
    assert codec.parse(raw)[3:5] == [(0, b"HI"), (-1, b"HI")]


def test_messages_split_across_reads_are_reassembled() -> None:
    good = message(NOS[1:])
    framer = Framer()
    out: list[FixMessage | Garbled] = []
    for byte in good * 3:
        out.extend(framer.feed(bytes([byte])))
    assert [m.raw for m in out] == [good, good, good]


def test_too_long_body_length_swallows_through_the_next_checksum_like_quickfix() -> None:
    """Acceptance case 2m: a BodyLength reaching into the next message merges both.

    QuickFIX takes the first CheckSum at or after the declared end; the merged
    frame fails its length check and is dropped whole. The message after it
    is intact.
    """
    one = message(NOS[1:])
    two = message(NOS[1:4])
    three = message(NOS[1:6])
    too_long = one.replace(b"\x019=114", b"\x019=130", 1)
    out = Framer().feed(too_long + two + three)
    assert isinstance(out[0], Garbled) and "BodyLength" in out[0].reason
    assert out[0].data == too_long + two
    assert isinstance(out[1], FixMessage) and out[1].raw == three


_SIMPLEFIX_SPECIAL = {8, 9, 10, 35}
_parser = simplefix.FixParser()
_SIMPLEFIX_SPECIAL |= set(_parser.raw_len_tags) | set(_parser.raw_data_tags)
plain_fields = st.lists(
    st.tuples(
        tags.filter(lambda t: t not in _SIMPLEFIX_SPECIAL),
        st.binary(min_size=1, max_size=30).filter(lambda b: b"\x01" not in b),
    ),
    max_size=20,
)


@settings(max_examples=150, deadline=None)
@given(body=plain_fields, msg_type=msg_types)
def test_simplefix_agrees_with_our_encode_and_parse(body, msg_type) -> None:
    """simplefix, an independent implementation, is the oracle for the wire format.

    (It reserves 8/9/10/35, treats length-prefixed data tags specially and
    refuses empty values, hence the narrower input.)
    """

    reference = simplefix.FixMessage()
    reference.append_pair(8, b"FIX.4.4")
    reference.append_pair(35, msg_type)
    for tag, value in body:
        reference.append_pair(tag, value)
    raw = codec.encode(b"FIX.4.4", [(35, msg_type), *body])
    assert raw == reference.encode()
    parser = simplefix.FixParser()
    parser.append_buffer(raw)
    parsed = parser.get_message()
    theirs = [(int(tag), value) for tag, value in parsed.pairs]
    assert theirs == [(int(t), v) for t, v in codec.parse(raw)]


def _answer(fn, *args):  # type: ignore[no-untyped-def]
    """What a call returns, or the error it raises as (type, message)."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # the point is to compare any error
        return ("error", type(exc).__name__, str(exc))


odd_tags = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([-(2**63), 2**63 - 1, 2**63, -(2**63) + 1, 0, -1]),
    st.booleans(),
    st.floats(allow_nan=False, max_value=1e6, min_value=-1e6),
    st.text(max_size=3),
    st.none(),
)
odd_values = st.one_of(
    st.binary(max_size=8),
    st.text(max_size=4),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.builds(bytearray, st.binary(max_size=4)),
)
odd_items = st.one_of(
    st.tuples(odd_tags, odd_values),
    st.lists(odd_tags, max_size=3).map(tuple),
    st.integers(),
    st.none(),
)
odd_begin = st.one_of(st.just(b"FIX.4.4"), st.text(max_size=4), st.none(), st.binary(max_size=6))


@settings(max_examples=400, deadline=None)
@given(begin=odd_begin, items=st.lists(odd_items, max_size=4))
def test_both_twins_give_the_same_answer_or_the_same_error_for_any_encode_input(
    begin, items
) -> None:
    """Issue 11: a tag of -2**63 was encoded corrupt (signed overflow) by the
    compiled twin only, tags >= 2**63 raised OverflowError there only, and
    wrong types raised BadInput in one twin, TypeError in the other."""
    if _codec is None:
        pytest.skip("compiled codec not built")
    pure = _answer(codec.encode, begin, items)
    assert _answer(_codec.encode, begin, items) == pure
    if pure[0] == "error":
        assert pure[1] == "BadInput", pure  # bad input is named, never a TypeError


@pytest.mark.parametrize(
    "args",
    [
        (b"FIX.4.4", [(-(2**63), b"x")]),
        (b"FIX.4.4", [(2**63, b"x")]),
        (b"FIX.4.4", [(35, None)]),
        (b"FIX.4.4", [(35,)]),
        (b"FIX.4.4", [(35.0, b"D")]),
        (None, [(35, b"D")]),
        ("FIX.4.4", [(35, b"D")]),
    ],
)
def test_out_of_range_tags_and_wrong_types_are_bad_input_in_both_twins(args) -> None:
    for impl in IMPLS:
        with pytest.raises(BadInput):
            impl.encode(*args)


@settings(max_examples=300, deadline=None)
@given(
    buf=st.one_of(st.binary(max_size=40), st.text(max_size=5), st.none()),
    pos=st.one_of(st.integers(-(2**64), 2**64), st.floats(allow_nan=False), st.booleans()),
    max_size=st.one_of(st.integers(-10, 2**64), st.none()),
)
def test_scan_parse_and_checksum_agree_on_any_argument(buf, pos, max_size) -> None:
    if _codec is None:
        pytest.skip("compiled codec not built")
    assert _answer(_codec.scan, buf, pos, max_size) == _answer(codec.scan, buf, pos, max_size)
    assert _answer(_codec.parse, buf) == _answer(codec.parse, buf)
    assert _answer(_codec.checksum, buf) == _answer(codec.checksum, buf)
