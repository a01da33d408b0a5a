"""How one ``config.toml`` table is read: typed getters that name the field.

Every getter consumes its key (``Section.finish`` then refuses any key left
unread: a typo must not leave a default in force) and raises ``BadInput``
whose field is ``section.key`` with the offending value (masked for a
secret). Kept apart from ``gateway.config``, which says *which* keys each
section has; this says how any key is checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from core.errors import BadInput
from gateway.secrets import MASK, Secret

CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = re.compile(r"^[A-Za-z0-9.:-]{1,253}$")
"""A host name or address as ``Section.host`` accepts it. (Before the
split, config.py defined a second ``_HOST`` below this class that shadowed
the first at call time; this is the one that was in force, kept as it was.)"""
_COMP_ID = re.compile(r"[\x21-\x7e]{1,64}", re.ASCII)
PLACEHOLDERS = ("your-api-key", "your-secret-key", "your-bot-token", "your-chat-id")


class Section:
    """One TOML table being read; remembers which keys were consumed."""

    def __init__(self, name: str, table: object) -> None:
        if not isinstance(table, dict):
            raise BadInput(name, table, "must be a table ([section])")
        self.name = name
        self.table: dict[str, Any] = table
        self.used: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.name}.{key}"

    def get(self, key: str, default: object = None) -> Any:
        self.used.add(key)
        return self.table.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.table

    def string(self, key: str, default: str | None = None, *, secret: bool = False) -> str:
        value = self.get(key, default)
        shown = MASK if secret else value
        if value is None:
            raise BadInput(self.field(key), None, "is required")
        if not isinstance(value, str):
            raise BadInput(self.field(key), shown, "must be a string")
        if not value.strip():
            raise BadInput(self.field(key), shown, "must not be empty")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if type(value) is not bool:
            raise BadInput(self.field(key), value, "must be true or false")
        return value

    def integer(self, key: str, default: int | None, lo: int, hi: int) -> int:
        value = self.get(key, default)
        if value is None:
            raise BadInput(self.field(key), None, "is required")
        if type(value) is not int:
            raise BadInput(self.field(key), value, "must be an integer")
        if not lo <= value <= hi:
            raise BadInput(self.field(key), value, f"must be between {lo} and {hi}")
        return value

    def url(self, key: str, schemes: tuple[str, ...]) -> str | None:
        if not self.has(key):
            self.used.add(key)
            return None
        value = self.string(key)
        if not value.startswith(tuple(f"{s}://" for s in schemes)):
            raise BadInput(self.field(key), value, f"must be a {'/'.join(schemes)} URL")
        try:
            parts = urlsplit(value)
            port = parts.port  # raises ValueError for "abc" or 99999
        except ValueError as exc:
            raise BadInput(self.field(key), value, f"is not a valid URL: {exc}") from None
        if not parts.hostname:
            raise BadInput(self.field(key), value, "has no host")
        if port == 0 or CONTROL.search(value) or " " in value:
            raise BadInput(self.field(key), value, "has port 0, a space or a control character")
        return value.rstrip("/")

    def host(self, key: str, default: str) -> str:
        value = self.string(key, default)
        if not _HOST.fullmatch(value):
            raise BadInput(self.field(key), value, "is not a host name or IP address")
        return value

    def comp_id(self, key: str) -> str:
        """A FIX CompID: printable ASCII, no spaces (SOH would split the field)."""
        value = self.string(key)
        if not _COMP_ID.fullmatch(value):
            raise BadInput(self.field(key), value, "must be 1-64 printable ASCII characters")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise BadInput(self.field(unknown[0]), self.table[unknown[0]], "is not a known key")


def credential(section: Section, key: str, env_name: str, env: Mapping[str, str]) -> Secret:
    from_env = env.get(env_name)
    if section.has(key):
        file_value = section.string(key, secret=True)
    else:
        section.used.add(key)
        file_value = None
    value = from_env if from_env else file_value
    if value is None:
        raise BadInput(section.field(key), None, f"is required (in the file or ${env_name})")
    if value in PLACEHOLDERS:
        raise BadInput(section.field(key), value, "is still the example's placeholder")
    return Secret(value)


def decimal(section: Section, key: str) -> Decimal:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise BadInput(section.field(key), value, "must be a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise BadInput(section.field(key), value, "must be a number") from None
    if not number.is_finite():
        raise BadInput(section.field(key), value, "must be finite")
    return number


def path_text(section: Section, key: str, default: str) -> str:
    text = section.string(key, default)
    if CONTROL.search(text):
        raise BadInput(section.field(key), text, "contains a control character (NUL, newline)")
    return text


def to_bps(section: Section, key: str, multiplier: int) -> int:
    number = decimal(section, key)
    bps = number * multiplier
    if bps != bps.to_integral_value():
        raise BadInput(section.field(key), number, "must be a whole number of basis points")
    return int(bps)
