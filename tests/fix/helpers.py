"""Shared helpers for FIX tests: building counterparty messages, session pairs."""

from __future__ import annotations

from fix import codec
from fix.framing import FixMessage, Framer
from fix.session import Actions, Session, SessionConfig
from fix.store import MemoryStore, MessageStore
from fix.timefmt import format_ns

T0 = 1_700_000_000 * 1_000_000_000
S = 1_000_000_000


def msg(
    msg_type: bytes,
    seq: int,
    now: int,
    body: list[tuple[int, object]] = (),  # type: ignore[assignment]
    header: list[tuple[int, object]] = (),  # type: ignore[assignment]
    sender: bytes = b"TW",
    target: bytes = b"ISLD",
    begin: bytes = b"FIX.4.4",
) -> bytes:
    head = [(34, seq), (49, sender), (52, format_ns(now)), (56, target), *header]
    head.sort(key=lambda f: f[0])
    return codec.encode(begin, [(35, msg_type), *head, *body])


def order(cl_ord_id: str, now: int) -> list[tuple[int, object]]:
    return [
        (11, cl_ord_id),
        (21, b"1"),
        (38, b"100"),
        (40, b"1"),
        (54, b"1"),
        (55, b"INTC"),
        (60, format_ns(now, millis=False)),
    ]


def acceptor(store: MessageStore | None = None, **kw: object) -> Session:
    config = SessionConfig("FIX.4.4", "ISLD", "TW", initiator=False, **kw)  # type: ignore[arg-type]
    return Session(config, store if store is not None else MemoryStore())


def initiator(store: MessageStore | None = None, **kw: object) -> Session:
    config = SessionConfig("FIX.4.4", "TW", "ISLD", initiator=True, **kw)  # type: ignore[arg-type]
    return Session(config, store if store is not None else MemoryStore())


def sent(actions: Actions) -> list[FixMessage]:
    """The messages in ``actions.send``, parsed."""
    out = []
    for raw in actions.send:
        out.extend(m for m in Framer().feed(raw) if isinstance(m, FixMessage))
    return out


def logged_on_acceptor(now: int = T0, **kw: object) -> Session:
    session = acceptor(**kw)
    session.connect(now)
    actions = session.on_bytes(msg(b"A", 1, now, [(98, 0), (108, 30)]), now)
    assert [m.msg_type for m in sent(actions)] == [b"A"]
    return session
