"""The prime-broker adapter reads its session store a page at a time (issue 15):
a long session's history is never all in memory at once."""

from __future__ import annotations

from pathlib import Path

from gateway.brokers.prime_fix import PrimeFixBroker
from tests.primefix.conftest import settings


def test_the_store_is_read_a_page_at_a_time_when_recalling_orders(tmp_path: Path) -> None:
    """After a restart the adapter recalls an order's terms and its replace
    chain from the session store, across page boundaries, never the whole
    history in one read."""
    from gateway.brokers.prime_fix.chains import STORE_PAGE
    from tests.fix.helpers import T0, msg, order

    broker = PrimeFixBroker(settings(1, tmp_path / "gw.fix.sqlite"))
    store = broker.store
    total = STORE_PAGE * 2 + 17
    for seq in range(1, total + 1):
        if seq == 3:
            raw = msg(b"D", seq, T0, order("OLD-1", T0), sender=b"SOVEREIGN", target=b"PB")
        elif seq == total - 1:
            body = [(11, "NEW-1"), (41, "OLD-1"), *order("x", T0)[1:]]
            raw = msg(b"G", seq, T0, body, sender=b"SOVEREIGN", target=b"PB")
        else:
            raw = msg(b"0", seq, T0, sender=b"SOVEREIGN", target=b"PB")
        store.save_sent(seq, raw)
    store.set_next_sender_seq(total + 1)
    spans: list[int] = []
    read = store.sent_range

    def counting(begin: int, end: int) -> list[tuple[int, bytes]]:
        spans.append(end - begin + 1)
        return read(begin, end)

    store.sent_range = counting  # type: ignore[method-assign]
    assert broker._recall_terms("OLD-1")
    assert broker._chains.earlier_ids("NEW-1") == ["OLD-1"]
    assert spans and max(spans) <= STORE_PAGE
    store.close()
