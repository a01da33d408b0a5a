"""The published bars and ``/v2/stocks/bars`` paging over them.

Only bars whose minute has ended in simulated time are on the tape, so
history requests can never see the future. Alpaca orders a multi-symbol
answer by symbol, then time, caps the total at ``limit`` and hands back an
opaque ``next_page_token``; here the token encodes the key of the next bar
(symbol and time), so pages stay consistent while new bars are appended.
"""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from core.events import Bar


class BadPageToken(ValueError):
    pass


def encode_token(symbol: str, time_ns: int) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{time_ns}".encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        symbol, time_text = raw.split("|")
        return symbol, int(time_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadPageToken(f"invalid page token {token!r}") from None


@dataclass
class Tape:
    bars: dict[str, list[Bar]] = field(default_factory=dict)
    times: dict[str, list[int]] = field(default_factory=dict)

    def append(self, bar: Bar) -> None:
        self.bars.setdefault(bar.symbol, []).append(bar)
        self.times.setdefault(bar.symbol, []).append(bar.time_ns)

    def count(self) -> int:
        return sum(len(b) for b in self.bars.values())

    def page(
        self,
        symbols: list[str],
        start_ns: int,
        end_ns: int,
        limit: int,
        token: str | None,
        descending: bool = False,
    ) -> tuple[dict[str, list[Bar]], str | None]:
        """Up to ``limit`` bars in [start, end] over ``symbols``, and the next page's token."""
        after: tuple[str, int] | None = decode_token(token) if token else None
        out: dict[str, list[Bar]] = {}
        taken = 0
        for symbol in sorted(set(symbols)):
            if after is not None and symbol < after[0]:
                continue
            times = self.times.get(symbol, [])
            lo, hi = bisect_left(times, start_ns), bisect_right(times, end_ns)
            chosen = self.bars.get(symbol, [])[lo:hi]
            if descending:
                chosen = chosen[::-1]
            if after is not None and symbol == after[0]:
                key = after[1]
                chosen = [
                    b for b in chosen if (b.time_ns <= key if descending else b.time_ns >= key)
                ]
            for bar in chosen:
                if taken == limit:
                    return out, encode_token(bar.symbol, bar.time_ns)
                out.setdefault(symbol, []).append(bar)
                taken += 1
        return out, None
