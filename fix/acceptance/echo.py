"""The acceptance-suite application: echo orders back, reject everything else.

As the QuickFIX test server does: every NewOrderSingle (D) and
SecurityDefinition (d) is sent back unchanged (body fields in tag order,
groups kept intact), except a PossResend(97)=Y copy of a ClOrdID already seen
since the last Logon; any other application message gets a
BusinessMessageReject "Unsupported Message Type".
"""

from __future__ import annotations

from fix.dictionary import Item
from fix.framing import FixMessage
from fix.session import Session, UnsupportedMessageType

_NOT_COPIED = frozenset((8, 9, 10, 34, 35, 43, 49, 52, 56, 122))


def _flatten(items: list[Item], out: list[tuple[int, object]], sort: bool) -> None:
    for tag, value, entries in sorted(items, key=lambda f: f[0]) if sort else items:
        out.append((tag, value))
        for entry in entries or ():
            _flatten(entry, out, False)


class EchoApplication:
    def __init__(self) -> None:
        self._seen: dict[str, set[bytes]] = {}

    def on_logon(self, session: Session, now_ns: int) -> None:
        self._seen[session.config.key] = set()

    def on_message(self, message: FixMessage, session: Session, now_ns: int) -> None:
        msg_type = message.msg_type
        if msg_type not in (b"D", b"d"):
            raise UnsupportedMessageType(msg_type)
        if msg_type == b"D":
            seen = self._seen.setdefault(session.config.key, set())
            cl_ord_id = message.get(11) or b""
            if message.get(97) == b"Y" and cl_ord_id in seen:
                return
            seen.add(cl_ord_id)
        parsed = session.dictionary.split(message.fields[2:-1])
        header: list[tuple[int, object]] = []
        _flatten([h for h in parsed.header if h[0] not in _NOT_COPIED], header, True)
        body: list[tuple[int, object]] = []
        _flatten(parsed.body, body, True)
        session.send(msg_type, body, now_ns, header)


class FillApplication:
    """A minimal venue: every NewOrderSingle is filled in full at its limit price.

    Used for loopback round-trip measurements and transport tests, where
    the point is the wire and the sessions, not matching logic.
    """

    def __init__(self) -> None:
        self._next_id = 0

    def on_logon(self, session: Session, now_ns: int) -> None:
        return None

    def on_message(self, message: FixMessage, session: Session, now_ns: int) -> None:
        if message.msg_type != b"D":
            raise UnsupportedMessageType(message.msg_type)
        self._next_id += 1
        qty = message.get(38) or b"0"
        price = message.get(44) or b"0"
        session.send(
            b"8",
            [
                (6, price),
                (11, message.get(11) or b""),
                (14, qty),
                (17, b"X%d" % self._next_id),
                (31, price),
                (32, qty),
                (37, b"O%d" % self._next_id),
                (39, b"2"),
                (54, message.get(54) or b"1"),
                (55, message.get(55) or b""),
                (150, b"F"),
                (151, b"0"),
            ],
            now_ns,
        )
