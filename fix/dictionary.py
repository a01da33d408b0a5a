"""FIX data dictionary (QuickFIX XML) and message validation.

The dictionary is the contract both sides of a session agree on: which tags
exist, their types and enums, which fields each message allows or requires,
repeating groups, and which fields belong to the header and trailer. The
validation order and the SessionRejectReason(373) codes follow QuickFIX's
``DataDictionary::validate`` so our rejects match the acceptance suite.
"""

from __future__ import annotations

import importlib
import operator
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import BadInput
from fix.paths import spec_path

Field = tuple[int, bytes]

# SessionRejectReason (373) codes and QuickFIX's wording for Text (58).
INVALID_TAG_NUMBER = 0
REQUIRED_TAG_MISSING = 1
TAG_NOT_DEFINED_FOR_MESSAGE = 2
TAG_WITHOUT_VALUE = 4
VALUE_INCORRECT = 5
INCORRECT_DATA_FORMAT = 6
COMPID_PROBLEM = 9
SENDING_TIME_ACCURACY = 10
INVALID_MSGTYPE = 11
TAG_REPEATED = 13
TAG_OUT_OF_ORDER = 14
GROUP_FIELDS_OUT_OF_ORDER = 15
GROUP_COUNT_MISMATCH = 16

REJECT_TEXT = {
    INVALID_TAG_NUMBER: "Invalid tag number",
    REQUIRED_TAG_MISSING: "Required tag missing",
    TAG_NOT_DEFINED_FOR_MESSAGE: "Tag not defined for this message type",
    3: "Undefined Tag",
    TAG_WITHOUT_VALUE: "Tag specified without a value",
    VALUE_INCORRECT: "Value is incorrect (out of range) for this tag",
    INCORRECT_DATA_FORMAT: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    COMPID_PROBLEM: "CompID problem",
    SENDING_TIME_ACCURACY: "SendingTime accuracy problem",
    INVALID_MSGTYPE: "Invalid MsgType",
    TAG_REPEATED: "Tag appears more than once",
    TAG_OUT_OF_ORDER: "Tag specified out of required order",
    GROUP_FIELDS_OUT_OF_ORDER: "Repeating group fields out of order",
    GROUP_COUNT_MISMATCH: "Incorrect NumInGroup count for repeating group",
}

_BY_TAG = operator.itemgetter(0)
_INT = re.compile(rb"-?\d+")
_FLOAT = re.compile(rb"-?(?:\d+\.?\d*|\.\d+)")
_TIMESTAMP = re.compile(rb"\d{8}-\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?")
_TIMEONLY = re.compile(rb"\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?")
_DATE = re.compile(rb"\d{8}")
_FORMATS: dict[str, re.Pattern[bytes]] = {
    **dict.fromkeys(("INT", "LENGTH", "SEQNUM", "NUMINGROUP", "TAGNUM", "DAYOFMONTH"), _INT),
    **dict.fromkeys(("FLOAT", "PRICE", "QTY", "AMT", "PRICEOFFSET", "PERCENTAGE"), _FLOAT),
    "UTCTIMESTAMP": _TIMESTAMP,
    "UTCTIMEONLY": _TIMEONLY,
    "UTCDATE": _DATE,
    "UTCDATEONLY": _DATE,
    "BOOLEAN": re.compile(rb"[YN]"),
    "CHAR": re.compile(rb"[^\x01]", re.DOTALL),
}


# Format codes for the compiled quick check (same rules as the patterns above).
FORMAT_CODES = {
    **dict.fromkeys(("INT", "LENGTH", "SEQNUM", "NUMINGROUP", "TAGNUM", "DAYOFMONTH"), 1),
    **dict.fromkeys(("FLOAT", "PRICE", "QTY", "AMT", "PRICEOFFSET", "PERCENTAGE"), 2),
    "CHAR": 3,
    "BOOLEAN": 4,
    "UTCTIMESTAMP": 5,
    "UTCTIMEONLY": 6,
    "UTCDATE": 7,
    "UTCDATEONLY": 7,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    tag: int
    name: str
    type: str
    enums: frozenset[bytes] | None
    pattern: re.Pattern[bytes] | None = None  # data format check for ``type``
    multiple: bool = False  # space-separated enum values


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A repeating group: its count tag, delimiter (first member) and members."""

    count_tag: int
    delimiter: int
    members: frozenset[int]
    required: tuple[int, ...]
    groups: dict[int, GroupSpec]


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """Fields allowed/required at the top level of a message (or header/trailer)."""

    msg_type: bytes
    name: str
    admin: bool
    fields: frozenset[int]
    required: tuple[int, ...]
    groups: dict[int, GroupSpec]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message fails validation: SessionRejectReason, RefTagID, Text."""

    reason: int
    tag: int | None = None

    @property
    def text(self) -> str:
        return REJECT_TEXT.get(self.reason, "Other")


class Entries(list[Any]):
    """A repeating group's instances (each a list of items); ``mismatch`` is set
    when their number differs from the NumInGroup value."""

    __slots__ = ("mismatch",)

    def __init__(self) -> None:
        super().__init__()
        self.mismatch = False


# A top-level field: (tag, value, group instances or None). Plain tuples keep
# the per-message validation cost low; it runs on every message received.
Item = tuple[int, bytes, "Entries | None"]


@dataclass(slots=True)
class Parsed:
    """A message split into header, body and trailer with groups resolved."""

    header: list[Item] = field(default_factory=list)
    body: list[Item] = field(default_factory=list)
    trailer: list[Item] = field(default_factory=list)
    out_of_order: int | None = None
    bad_count: int | None = None


class DataDictionary:
    """One FIX version's dictionary, loaded from QuickFIX's XML format."""

    def __init__(self, path: Path) -> None:
        root = ET.parse(path).getroot()
        self.begin_string = f"{root.get('type', 'FIX')}.{root.get('major')}.{root.get('minor')}"
        self.fields: dict[int, FieldSpec] = {}
        self.tags: dict[str, int] = {}
        for node in root.find("fields") or []:
            enums = frozenset(v.get("enum", "").encode() for v in node.findall("value"))
            kind = node.get("type", "STRING")
            spec = FieldSpec(
                int(node.get("number", "0")),
                node.get("name", ""),
                kind,
                enums or None,
                _FORMATS.get(kind),
                kind.startswith("MULTIPLE"),
            )
            self.fields[spec.tag] = spec
            self.tags[spec.name] = spec.tag
        self._components = {c.get("name"): c for c in root.find("components") or []}
        self.header = self._spec(root.find("header"), b"", "header", True)
        self.trailer = self._spec(root.find("trailer"), b"", "trailer", True)
        self.messages: dict[bytes, MessageSpec] = {}
        for node in root.find("messages") or []:
            msg_type = node.get("msgtype", "").encode()
            self.messages[msg_type] = self._spec(
                node, msg_type, node.get("name", ""), node.get("msgcat") == "admin"
            )
        self.header_tags = self._all_tags(self.header)
        self._header_required_rest = tuple(t for t in self.header.required if t not in (8, 9, 35))
        self.header_required_rest = self._header_required_rest
        # tag -> (format code, enums or None, multiple-valued), for _validate.pyx
        self.quick_specs = {
            tag: (FORMAT_CODES.get(f.type, 0), f.enums, f.multiple)
            for tag, f in self.fields.items()
        }
        self.trailer_tags = self._all_tags(self.trailer)

    # ------------------------------------------------------------ loading
    def _walk(self, node: ET.Element, required_ctx: bool):
        """Yield (kind, tag-or-node, required) for fields/groups, components flattened."""
        for child in node:
            required = required_ctx and child.get("required") == "Y"
            if child.tag == "component":
                comp = self._components.get(child.get("name"))
                if comp is not None:
                    yield from self._walk(comp, required)
            elif child.tag == "field":
                yield "field", self.tags[child.get("name", "")], required
            elif child.tag == "group":
                yield "group", child, required

    def _group(self, node: ET.Element) -> GroupSpec:
        members: list[int] = []
        required: list[int] = []
        groups: dict[int, GroupSpec] = {}
        for kind, item, req in self._walk(node, True):
            if kind == "field":
                members.append(item)
                if req:
                    required.append(item)
            else:
                sub = self._group(item)
                groups[sub.count_tag] = sub
                members.append(sub.count_tag)
                if req:
                    required.append(sub.count_tag)
        count_tag = self.tags[node.get("name", "")]
        return GroupSpec(count_tag, members[0], frozenset(members), tuple(sorted(required)), groups)

    def _spec(self, node: ET.Element | None, msg_type: bytes, name: str, admin: bool):
        fields: set[int] = set()
        required: set[int] = set()
        groups: dict[int, GroupSpec] = {}
        if node is not None:
            for kind, item, req in self._walk(node, True):
                tag = item if kind == "field" else self.tags[item.get("name", "")]
                if kind == "group":
                    groups[tag] = self._group(item)
                fields.add(tag)
                if req:
                    required.add(tag)
        return MessageSpec(
            msg_type, name, admin, frozenset(fields), tuple(sorted(required)), groups
        )

    @staticmethod
    def _all_tags(spec: MessageSpec) -> frozenset[int]:
        tags = set(spec.fields)
        stack = list(spec.groups.values())
        while stack:
            group = stack.pop()
            tags |= group.members
            stack.extend(group.groups.values())
        return frozenset(tags)

    # ------------------------------------------------------------ structure
    def split(self, fields: list[Field]) -> Parsed:
        """Header / body / trailer with repeating groups resolved.

        ``fields`` starts after BeginString, BodyLength and MsgType. The first
        header or trailer tag found out of place is remembered (QuickFIX's
        "valid structure" check); groups whose instance count differs from
        their NumInGroup value are flagged.
        """
        parsed = Parsed()
        msg_type = fields[0][1] if fields and fields[0][0] == 35 else b""
        body_spec = self.messages.get(msg_type)
        body_groups = body_spec.groups if body_spec else {}
        n = len(fields)
        i = 1 if fields and fields[0][0] == 35 else 0
        section = 0  # 0 header, 1 body, 2 trailer
        header_tags, trailer_tags = self.header_tags, self.trailer_tags
        header_groups = self.header.groups
        header, body, trailer = parsed.header, parsed.body, parsed.trailer
        while i < n:
            tag, value = fields[i]
            if tag in header_tags and tag not in trailer_tags:
                if section != 0 and parsed.out_of_order is None:
                    parsed.out_of_order = tag
                if tag in header_groups:
                    i = self._take(fields, i, header_groups, header, parsed)
                else:
                    header.append((tag, value, None))
                    i += 1
            elif tag in trailer_tags:
                section = 2
                trailer.append((tag, value, None))
                i += 1
            else:
                if section == 2 and parsed.out_of_order is None:
                    parsed.out_of_order = tag
                section = 1
                if tag in body_groups:
                    i = self._take(fields, i, body_groups, body, parsed)
                else:
                    body.append((tag, value, None))
                    i += 1
        return parsed

    def _take(
        self,
        fields: list[Field],
        i: int,
        groups: dict[int, GroupSpec],
        out: list[Item],
        parsed: Parsed,
    ) -> int:
        tag, value = fields[i]
        i += 1
        group = groups.get(tag)
        if group is None:
            out.append((tag, value, None))
            return i
        entries = Entries()
        out.append((tag, value, entries))
        entry: list[Item] | None = None
        while i < len(fields):
            member = fields[i][0]
            if member not in group.members:
                break
            if member == group.delimiter:
                entry = []
                entries.append(entry)
            elif entry is None or any(f[0] == member for f in entry):
                break
            i = self._take(fields, i, group.groups, entry, parsed)
        declared = int(value) if _INT.fullmatch(value) else -1
        if declared != len(entries):
            entries.mismatch = True
            if parsed.bad_count is None:
                parsed.bad_count = tag
        return i

    # ------------------------------------------------------------ validation
    def quick_valid(self, fields: list[Field], check_have_values: bool = True) -> bool:
        """See ``py_quick_valid``; the compiled twin runs when it is built."""
        if _quick is not None:
            return _quick(self, fields, check_have_values)
        return self.py_quick_valid(fields, check_have_values)

    def py_quick_valid(self, fields: list[Field], check_have_values: bool = True) -> bool:
        """One pass that says True only when ``validate`` would find nothing.

        Most traffic is valid and has no repeating groups; this avoids the
        split and the sorted passes for it. Anything unusual (a group, a
        repeated tag, any failed check) returns False and the caller runs the
        full ``split`` + ``validate``, which picks the rejection QuickFIX
        would report. A property test holds ``quick_valid => validate is None``.
        """
        if not fields or fields[0][0] != 35:
            return False
        spec = self.messages.get(fields[0][1])
        if spec is None:
            return False
        header_tags, trailer_tags = self.header_tags, self.trailer_tags
        header_groups, allowed, groups = self.header.groups, spec.fields, spec.groups
        specs = self.fields
        seen: set[int] = set()
        section = 0
        for i in range(1, len(fields)):
            tag, value = fields[i]
            if tag in seen:
                return False
            seen.add(tag)
            if tag in header_tags and tag not in trailer_tags:
                if section or tag in header_groups:
                    return False
            elif tag in trailer_tags:
                section = 2
            else:
                if section == 2 or tag not in allowed or tag in groups:
                    return False
                section = 1
            field_spec = specs.get(tag)
            if field_spec is None:
                return False
            if not value:
                if check_have_values:
                    return False
                continue
            pattern = field_spec.pattern
            if pattern is not None and pattern.fullmatch(value) is None:
                return False
            enums = field_spec.enums
            if enums is not None:
                if field_spec.multiple:
                    if any(v not in enums for v in value.split(b" ")):
                        return False
                elif value not in enums:
                    return False
        for tag in self._header_required_rest:
            if tag not in seen:
                return False
        return all(tag in seen for tag in spec.required)

    def validate(
        self, fields: list[Field], parsed: Parsed, check_have_values: bool = True
    ) -> Rejection | None:
        """The first problem QuickFIX would report, or None.

        Order: structure, MsgType, required tags, then each field (header,
        trailer, body; each sorted by tag) for repetition, empty value, data
        format, enum value, known tag, allowed in message, group count.
        """
        if parsed.out_of_order is not None:
            return Rejection(TAG_OUT_OF_ORDER, parsed.out_of_order)
        msg_type = fields[0][1] if fields and fields[0][0] == 35 else b""
        spec = self.messages.get(msg_type)
        if spec is None:
            return Rejection(INVALID_MSGTYPE)
        present_header = {f[0] for f in parsed.header} | {8, 9, 35}
        for tag in self.header.required:
            if tag not in present_header:
                return Rejection(REQUIRED_TAG_MISSING, tag)
        present_body = {f[0] for f in parsed.body}
        for tag in spec.required:
            if tag not in present_body:
                return Rejection(REQUIRED_TAG_MISSING, tag)
        for tag, _, entries in parsed.body:
            if entries:
                problem = self._group_required(entries, spec.groups[tag])
                if problem:
                    return problem
        for items, allowed, groups in (
            (parsed.header, None, self.header.groups),
            (parsed.trailer, None, {}),
            (parsed.body, spec.fields, spec.groups),
        ):
            problem = self._iterate(items, allowed, groups, check_have_values)
            if problem:
                return problem
        return None

    def _group_required(self, entries: Entries, group: GroupSpec) -> Rejection | None:
        for entry in entries:
            present = {f[0] for f in entry}
            for tag in group.required:
                if tag not in present:
                    return Rejection(REQUIRED_TAG_MISSING, tag)
            for tag, _, sub in entry:
                if sub:
                    problem = self._group_required(sub, group.groups[tag])
                    if problem:
                        return problem
        return None

    def _iterate(
        self,
        items: list[Item],
        allowed: frozenset[int] | None,
        groups: dict[int, GroupSpec],
        check_have_values: bool,
    ) -> Rejection | None:
        last = None
        fields = self.fields
        for tag, value, entries in sorted(items, key=_BY_TAG):
            if tag == last:
                return Rejection(TAG_REPEATED, tag)
            last = tag
            spec = fields.get(tag)
            if not value:
                if check_have_values:
                    return Rejection(TAG_WITHOUT_VALUE, tag)
            elif spec is not None:
                if spec.pattern is not None and not spec.pattern.fullmatch(value):
                    return Rejection(INCORRECT_DATA_FORMAT, tag)
                if spec.enums is not None:
                    values = value.split(b" ") if spec.multiple else (value,)
                    if any(v not in spec.enums for v in values):
                        return Rejection(VALUE_INCORRECT, tag)
            if spec is None:
                return Rejection(INVALID_TAG_NUMBER, tag)
            if allowed is not None:
                if tag not in allowed:
                    return Rejection(TAG_NOT_DEFINED_FOR_MESSAGE, tag)
                if entries is not None and entries.mismatch:
                    return Rejection(GROUP_COUNT_MISMATCH, tag)
            if entries:
                group = groups.get(tag)
                members = group.members if group else frozenset()
                sub_groups = group.groups if group else {}
                for entry in entries:
                    problem = self._iterate(entry, members, sub_groups, check_have_values)
                    if problem:
                        return problem
        return None

    # ------------------------------------------------------------ lookups
    def tag(self, name: str) -> int:
        try:
            return self.tags[name]
        except KeyError:
            raise BadInput("field name", name, f"not defined in {self.begin_string}") from None

    def is_admin(self, msg_type: bytes) -> bool:
        spec = self.messages.get(msg_type)
        return spec.admin if spec else msg_type in ADMIN_TYPES


ADMIN_TYPES = frozenset((b"0", b"1", b"2", b"3", b"4", b"5", b"A"))


_quick: Callable[..., bool] | None = None
if os.environ.get("SOVEREIGN_PURE_PYTHON") != "1":
    try:
        _quick = importlib.import_module("fix._validate").quick_valid
    except ImportError:  # pragma: no cover - extension not built
        _quick = None


@cache
def load(begin_string: str) -> DataDictionary:
    """The dictionary for ``FIX.4.2`` or ``FIX.4.4`` from the shared folder (cached)."""
    path = spec_path(begin_string)
    if not path.exists():
        raise BadInput("begin_string", begin_string, f"no data dictionary at {path}")
    return DataDictionary(path)
