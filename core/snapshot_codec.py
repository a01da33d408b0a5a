"""The snapshot byte format: a framed, checksummed, canonical value encoding.

A snapshot must survive a restart and be trusted, so it is neither pickle
(which would run whatever a tampered file names) nor JSON (which has no
integers beyond 2⁵³ in many readers, no bytes and no shared references).
It is a small tagged binary encoding of exactly the values the core's state
is made of:

* atoms: None, bools, integers of any size (zigzag LEB128), floats (IEEE-754
  binary64, big-endian: bit-exact), strings (UTF-8), bytes;
* containers: lists, tuples, dicts (insertion order kept: the core iterates
  its dicts, so their order *is* state), sets (elements sorted by their own
  encoding, so the bytes never depend on ``PYTHONHASHSEED``);
* enums and objects of classes defined in ``core`` (dataclasses, ``__slots__``
  classes, named tuples): the class by module and name, then its fields; a
  class outside ``core`` cannot be named, so decoding can only ever build the
  core's own state objects;
* shared references: every mutable object is encoded once and referred to by
  number afterwards (the execution engine's parents appear in two indexes;
  the protective stops share the order book);
* *environment* references: objects the restoring engine supplies itself
  (its instruments and its session schedule) are written by name only;
* sorted integer arrays (the agents' lossless profiles and volume multisets):
  delta-encoded, then LEB128, vectorised with numpy: a year of minute bars is
  a few bytes per bar.

The frame is ``MAGIC · version (u16) · body length (u64) · SHA-256(body) ·
body``. ``unframe`` checks each in turn and raises ``SnapshotError`` naming
what is wrong (truncated, not a snapshot, unknown version, corrupt body);
``decode`` turns any malformed body into a ``SnapshotError`` with the offset,
never a traceback from inside.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import struct
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, cast

import numpy as np

MAGIC = b"SOVSNAP\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sHQ32s")
HEADER_SIZE = _HEADER.size


class SnapshotError(ValueError):
    """A snapshot that cannot be restored; the message says why."""


# ------------------------------------------------------------------ tags
_NONE, _FALSE, _TRUE, _INT, _FLOAT, _STR, _BYTES = range(7)
_LIST, _TUPLE, _DICT, _SET, _FROZENSET = range(7, 12)
_ENUM, _OBJ, _NAMEDTUPLE, _REF, _ENV, _SORTED_I64, _RNG = range(12, 19)

_ALLOWED_PACKAGE = "core"


class SortedInts:
    """A sorted int64 array, encoded by deltas (the profiles and multisets)."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        self.values = values


# ------------------------------------------------------------------ frame
def frame(body: bytes) -> bytes:
    """The body with its header: magic, version, length and SHA-256."""
    return _HEADER.pack(MAGIC, FORMAT_VERSION, len(body), hashlib.sha256(body).digest()) + body


def unframe(data: bytes) -> bytes:
    """The checked body of a framed snapshot, or ``SnapshotError`` saying what is wrong."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SnapshotError(f"snapshot must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise SnapshotError(
            f"not a Sovereign engine snapshot: it starts {data[:8]!r}, expected {MAGIC!r}"
        )
    if len(data) < HEADER_SIZE:
        raise SnapshotError(
            f"snapshot truncated: {len(data)} bytes, its header alone needs {HEADER_SIZE}"
        )
    _, version, length, digest = _HEADER.unpack_from(data)
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"snapshot format version {version} is not supported (this build reads"
            f" version {FORMAT_VERSION})"
        )
    body = data[HEADER_SIZE:]
    if len(body) != length:
        raise SnapshotError(
            f"snapshot truncated: its header announces {length} body bytes, found {len(body)}"
        )
    if hashlib.sha256(body).digest() != digest:
        raise SnapshotError("snapshot checksum mismatch: the body is corrupt (SHA-256 differs)")
    return body


# --------------------------------------------------------------- varints
def _put_uint(out: bytearray, value: int) -> None:
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _put_int(out: bytearray, value: int) -> None:
    _put_uint(out, value * 2 if value >= 0 else -value * 2 - 1)


def _pack_uvarints(values: np.ndarray[Any, np.dtype[np.uint64]]) -> bytes:
    """LEB128 of every value, vectorised (≤ 10 passes over the array)."""
    if values.size == 0:
        return b""
    sizes = np.ones(values.size, dtype=np.int64)
    for k in range(1, 10):
        sizes += values >= np.uint64(1 << (7 * k))
    ends = np.cumsum(sizes)
    starts = ends - sizes
    out = np.zeros(int(ends[-1]), dtype=np.uint8)
    for k in range(int(sizes.max())):
        live = sizes > k
        chunk = (values[live] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (sizes[live] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[live] + k] = (chunk | more).astype(np.uint8)
    return out.tobytes()


def _unpack_uvarints(data: bytes, count: int) -> np.ndarray[Any, np.dtype[np.uint64]]:
    raw = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(raw < 0x80)
    if ends.size != count or (count and ends[-1] != raw.size - 1):
        raise SnapshotError(f"packed array holds {ends.size} values, its length says {count}")
    starts = np.empty(count, dtype=np.int64)
    if count:
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    sizes = ends - starts + 1
    if count and sizes.max() > 10:
        raise SnapshotError("packed array has a value longer than 64 bits")
    values = np.zeros(count, dtype=np.uint64)
    for k in range(int(sizes.max()) if count else 0):
        live = sizes > k
        byte = raw[starts[live] + k].astype(np.uint64) & np.uint64(0x7F)
        values[live] |= byte << np.uint64(7 * k)
    return values


# --------------------------------------------------------------- encoder
class Encoder:
    """One snapshot's encoding pass (its reference numbering and name table)."""

    def __init__(
        self,
        env: Mapping[int, str] | None = None,
        skip: Mapping[type[Any], frozenset[str]] | None = None,
    ) -> None:
        self.out = bytearray()
        self._env = dict(env or {})  # id(object) -> environment name
        self._skip = dict(skip or {})
        self._refs: dict[int, int] = {}
        self._keep: list[object] = []  # referenced objects stay alive: their ids stay unique
        self._names: dict[str, int] = {}

    def name(self, text: str) -> None:
        """A class or field name: the first time inline, later by number."""
        out = self.out
        index = self._names.get(text)
        if index is not None:
            _put_uint(out, index + 1)
            return
        self._names[text] = len(self._names)
        data = text.encode()
        _put_uint(out, 0)
        _put_uint(out, len(data))
        out += data

    def value(self, value: object) -> None:
        out = self.out
        if value is None:
            out.append(_NONE)
        elif type(value) is bool:
            out.append(_TRUE if value else _FALSE)
        elif type(value) is int:
            out.append(_INT)
            _put_int(out, value)
        elif type(value) is float:
            out.append(_FLOAT)
            out += struct.pack(">d", value)
        elif type(value) is str:
            data = value.encode()
            out.append(_STR)
            _put_uint(out, len(data))
            out += data
        elif type(value) is bytes:
            out.append(_BYTES)
            _put_uint(out, len(value))
            out += value
        elif type(value) is tuple:
            out.append(_TUPLE)
            _put_uint(out, len(value))
            for item in value:
                self.value(item)
        elif isinstance(value, Enum):
            out.append(_ENUM)
            self._class(type(value))
            self.value(value.value)
        elif type(value) is SortedInts:
            self._sorted(value.values)
        else:
            self._shared(value)

    def _shared(self, value: object) -> None:
        out = self.out
        key = id(value)
        env = self._env.get(key)
        if env is not None:
            out.append(_ENV)
            self.name(env)
            return
        ref = self._refs.get(key)
        if ref is not None:
            out.append(_REF)
            _put_uint(out, ref)
            return
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # immutable: not shared
            out.append(_NAMEDTUPLE)
            self._class(type(value))
            fields = value._fields
            _put_uint(out, len(fields))
            for item in value:
                self.value(item)
            return
        self._refs[key] = len(self._refs)
        self._keep.append(value)
        kind = type(value)
        if kind is list:
            out.append(_LIST)
            as_list = cast("list[object]", value)  # ``type(value) is list``, exactly
            _put_uint(out, len(as_list))
            for item in as_list:
                self.value(item)
        elif kind is dict:
            out.append(_DICT)
            as_dict = cast("dict[object, object]", value)  # ``type(value) is dict``
            _put_uint(out, len(as_dict))
            for k, v in as_dict.items():
                self.value(k)
                self.value(v)
        elif kind is set or kind is frozenset:
            out.append(_SET if kind is set else _FROZENSET)
            members = cast("set[object] | frozenset[object]", value)  # ``type`` is one of them
            items = sorted(_atom_bytes(item) for item in members)
            _put_uint(out, len(items))
            for data in items:
                out += data
        elif isinstance(value, np.random.Generator):
            bit = value.bit_generator
            if type(bit) is not np.random.PCG64:
                raise SnapshotError(f"cannot snapshot a {type(bit).__name__} generator")
            out.append(_RNG)
            self.value(bit.state)
        else:
            self._object(value)

    def _class(self, cls: type) -> None:
        module = cls.__module__
        if module.split(".")[0] != _ALLOWED_PACKAGE:
            raise SnapshotError(f"cannot snapshot a {module}.{cls.__qualname__}: not core state")
        self.name(f"{module}:{cls.__qualname__}")

    def _object(self, value: object) -> None:
        cls = type(value)
        self.out.append(_OBJ)
        self._class(cls)
        skip = self._skip.get(cls, frozenset())
        names = [n for n in _field_names(cls) if n not in skip]
        if hasattr(value, "__dict__"):
            names += sorted(n for n in vars(value) if n not in skip and n not in names)
        present = [n for n in names if hasattr(value, n)]
        _put_uint(self.out, len(present))
        for name in present:
            self.name(name)
            self.value(getattr(value, name))

    def _sorted(self, values: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        out = self.out
        array = np.ascontiguousarray(values, dtype=np.int64)
        out.append(_SORTED_I64)
        _put_uint(out, array.size)
        if array.size == 0:
            return
        deltas = np.diff(array)
        if deltas.size and deltas.min() < 0:
            raise SnapshotError("a sorted array to snapshot is not sorted")
        _put_int(out, int(array[0]))
        packed = _pack_uvarints(deltas.astype(np.uint64))
        _put_uint(out, len(packed))
        out += packed


def _atom_bytes(value: object) -> bytes:
    """A set element's encoding (atoms and tuples of atoms only: sortable, canonical)."""
    sub = Encoder()
    if isinstance(value, list | dict | set) or not _is_atom(value):
        raise SnapshotError(f"cannot snapshot a set holding {type(value).__name__}")
    sub.value(value)
    return bytes(sub.out)


def _is_atom(value: object) -> bool:
    if value is None or type(value) in (bool, int, float, str, bytes):
        return True
    if type(value) is tuple:
        return all(_is_atom(v) for v in value)
    return isinstance(value, Enum)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """Declared fields: a dataclass's, else every ``__slots__`` entry up the MRO."""
    names = _FIELDS.get(cls)
    if names is not None:
        return names
    found = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
    for klass in reversed(cls.__mro__):
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in found and slot not in ("__dict__", "__weakref__"):
                found.append(slot)
    names = _FIELDS[cls] = tuple(found)
    return names


def encode(
    value: object,
    env: Mapping[int, str] | None = None,
    skip: Mapping[type[Any], frozenset[str]] | None = None,
) -> bytes:
    """The framed snapshot of ``value`` (``env``: id → name of supplied objects)."""
    encoder = Encoder(env, skip)
    encoder.value(value)
    return frame(bytes(encoder.out))


# --------------------------------------------------------------- decoder
class _Truncated(Exception):
    pass


class Decoder:
    def __init__(self, body: bytes, env: Mapping[str, object]) -> None:
        self.data = body
        self.pos = 0
        self._env = env
        self._refs: list[object] = []
        self._names: list[str] = []
        self.lenient = False

    def uint(self) -> int:
        data = self.data
        result = shift = 0
        while True:
            if self.pos >= len(data):
                raise _Truncated
            byte = data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def signed(self) -> int:
        raw = self.uint()
        return raw >> 1 if not raw & 1 else -((raw + 1) >> 1)

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise _Truncated
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def name(self) -> str:
        index = self.uint()
        if index:
            if index > len(self._names):
                raise SnapshotError(f"name #{index} used before it was defined")
            return self._names[index - 1]
        text = self.take(self.uint()).decode()
        self._names.append(text)
        return text

    def value(self) -> Any:
        tag = self.take(1)[0]
        handler = _DECODERS.get(tag)
        if handler is None:
            raise SnapshotError(f"unknown value tag {tag}")
        return handler(self)

    def klass(self) -> type:
        spec = self.name()
        module, _, qualname = spec.partition(":")
        if module.split(".")[0] != _ALLOWED_PACKAGE or not qualname:
            raise SnapshotError(f"snapshot names class {spec!r}, which is not core state")
        try:
            found: Any = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            raise SnapshotError(f"snapshot names class {spec!r}, which this build lacks") from None
        if not isinstance(found, type):
            raise SnapshotError(f"snapshot names {spec!r}, which is not a class")
        return found


def _d_list(d: Decoder) -> list[object]:
    items: list[object] = []
    d._refs.append(items)
    for _ in range(d.uint()):
        items.append(d.value())
    return items


def _d_dict(d: Decoder) -> dict[object, object]:
    items: dict[object, object] = {}
    d._refs.append(items)
    for _ in range(d.uint()):
        key = d.value()
        items[key] = d.value()
    return items


def _d_set(d: Decoder, frozen: bool) -> set[object] | frozenset[object]:
    index = len(d._refs)
    d._refs.append(None)
    items = {d.value() for _ in range(d.uint())}
    result: set[object] | frozenset[object] = frozenset(items) if frozen else items
    d._refs[index] = result
    return result


def _d_enum(d: Decoder) -> Enum:
    cls = d.klass()
    raw = d.value()
    if not issubclass(cls, Enum):
        raise SnapshotError(f"{cls.__qualname__} is not an enum")
    try:
        return cls(raw)
    except ValueError:
        raise SnapshotError(f"{raw!r} is not a {cls.__qualname__}") from None


def _d_obj(d: Decoder) -> object:
    cls = d.klass()
    allowed = set(_field_names(cls))
    maker: Any = cls
    obj = maker.__new__(maker)
    d._refs.append(obj)
    for _ in range(d.uint()):
        name = d.name()
        value = d.value()
        if name not in allowed and not hasattr(obj, "__dict__"):
            raise SnapshotError(f"{cls.__qualname__} has no field {name!r}")
        object.__setattr__(obj, name, value)
    return obj


def _d_namedtuple(d: Decoder) -> object:
    cls = d.klass()
    count = d.uint()
    values = [d.value() for _ in range(count)]
    fields = getattr(cls, "_fields", None)
    if fields is None or len(fields) != count:
        raise SnapshotError(f"{cls.__qualname__} does not take {count} fields")
    return cls(*values)


def _d_ref(d: Decoder) -> object:
    index = d.uint()
    if index >= len(d._refs):
        raise SnapshotError(f"reference #{index} points past the {len(d._refs)} objects read")
    return d._refs[index]


class Missing:
    """What a lenient decode puts where the environment lacks a named object."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _d_env(d: Decoder) -> object:
    name = d.name()
    if d.lenient and name not in d._env:
        return Missing(name)
    if name not in d._env:
        raise SnapshotError(f"snapshot refers to {name!r}, which this engine does not have")
    return d._env[name]


def _d_sorted(d: Decoder) -> SortedInts:
    count = d.uint()
    if count == 0:
        return SortedInts(np.zeros(0, dtype=np.int64))
    first = d.signed()
    packed = d.take(d.uint())
    deltas = _unpack_uvarints(packed, count - 1)
    values = np.empty(count, dtype=np.int64)
    values[0] = first
    if count > 1:
        values[1:] = first + np.cumsum(deltas.astype(np.int64))
    return SortedInts(values)


def _d_rng(d: Decoder) -> np.random.Generator:
    index = len(d._refs)
    d._refs.append(None)
    state = d.value()
    bit = np.random.PCG64()
    try:
        bit.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise SnapshotError(f"random generator state is invalid ({exc})") from None
    generator = np.random.Generator(bit)
    d._refs[index] = generator
    return generator


_DECODERS: dict[int, Callable[[Decoder], Any]] = {
    _NONE: lambda d: None,
    _FALSE: lambda d: False,
    _TRUE: lambda d: True,
    _INT: lambda d: d.signed(),
    _FLOAT: lambda d: struct.unpack(">d", d.take(8))[0],
    _STR: lambda d: d.take(d.uint()).decode(),
    _BYTES: lambda d: d.take(d.uint()),
    _LIST: _d_list,
    _TUPLE: lambda d: tuple(d.value() for _ in range(d.uint())),
    _DICT: _d_dict,
    _SET: lambda d: _d_set(d, False),
    _FROZENSET: lambda d: _d_set(d, True),
    _ENUM: _d_enum,
    _OBJ: _d_obj,
    _NAMEDTUPLE: _d_namedtuple,
    _REF: _d_ref,
    _ENV: _d_env,
    _SORTED_I64: _d_sorted,
    _RNG: _d_rng,
}


def decode(data: bytes, env: Mapping[str, object] | None = None, lenient: bool = False) -> Any:
    """The value of a framed snapshot; ``SnapshotError`` for anything malformed.

    ``lenient``: an environment name the caller lacks decodes as ``Missing``
    instead of failing (to read a snapshot's own description of itself)."""
    body = unframe(data)
    decoder = Decoder(body, env or {})
    decoder.lenient = lenient
    try:
        value = decoder.value()
    except SnapshotError as exc:
        raise SnapshotError(f"snapshot body malformed at byte {decoder.pos}: {exc}") from None
    except _Truncated:
        raise SnapshotError(f"snapshot body ends early at byte {decoder.pos}") from None
    except (UnicodeDecodeError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise SnapshotError(
            f"snapshot body malformed at byte {decoder.pos}: {type(exc).__name__}: {exc}"
        ) from None
    if decoder.pos != len(body):
        raise SnapshotError(
            f"snapshot body has {len(body) - decoder.pos} stray bytes after its value"
        )
    return value
