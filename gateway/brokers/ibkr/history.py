"""Historical minute bars from TWS (warm-up and gap backfill), paced.

``reqHistoricalData`` (1 min TRADES, RTH, epoch dates), at most a day per
request, under ``HistoricalPacer`` (IB's pacing rules); a pacing violation
TWS reports anyway (another client on the same login spends the same budget)
is counted and retried after a wait. Apart from the live streams because its
failure modes (pacing, chunking) are its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from ib_async import IB, Contract

from core.errors import BadInput
from core.events import Bar
from gateway.brokers.base import RejectedRequest
from gateway.brokers.ibkr.mapping import NS, to_ns, to_price, to_whole
from gateway.brokers.ibkr.pacing import HistoricalPacer

log = logging.getLogger("gateway.ibkr")


class HistoricalBars:
    """Minute bars by request; ``bad_bars`` keeps the rows of the last call it
    could not read, ``rate_limited`` the pacing violations waited out."""

    def __init__(
        self,
        ib: IB,
        pacer: HistoricalPacer,
        *,
        request_timeout: float,
        volume_multiplier: int,
        pacing_retry_s: float,
    ) -> None:
        self.ib = ib
        self.pacer = pacer
        self.pacing_retry_s = pacing_retry_s
        self._request_timeout = request_timeout
        self._volume_multiplier = volume_multiplier
        self.bad_bars: list[BadInput] = []
        self.rate_limited = 0

    async def bars(
        self,
        symbols: Sequence[str],
        start_ns: int,
        end_ns: int,
        contract_of: Callable[[str], Awaitable[Contract]],
        order: Sequence[str],
    ) -> list[Bar]:
        """Minute bars with start in [start_ns, end_ns), sorted by time then by
        the symbol's place in ``order``; one per (symbol, minute)."""
        out: list[Bar] = []
        for symbol in symbols:
            contract = await contract_of(symbol)
            chunk_end = end_ns
            while chunk_end > start_ns:
                seconds = min(86_400, -(-(chunk_end - start_ns) // NS))
                end_text = datetime.fromtimestamp(chunk_end // NS, tz=UTC).strftime(
                    "%Y%m%d-%H:%M:%S"
                )
                duration = f"{seconds} S"
                rows = await self._historical(contract, symbol, end_text, duration)
                for row in rows:
                    try:
                        bar = self._bar(symbol, row)
                    except BadInput as exc:
                        self.bad_bars.append(exc)
                        continue
                    if start_ns <= bar.time_ns < end_ns:
                        out.append(bar)
                chunk_end -= seconds * NS
        place = {s: i for i, s in enumerate(order)}
        unique = {(b.symbol, b.time_ns): b for b in out}
        return sorted(unique.values(), key=lambda b: (b.time_ns, place.get(b.symbol, 0)))

    async def _historical(self, contract: Contract, symbol: str, end: str, duration: str) -> Any:
        """One paced request; a pacing violation TWS reports anyway (another client on
        the same login spends the same budget) is counted and retried after a wait."""
        errors: list[tuple[int, int, str]] = []

        def on_error(req_id: int, code: int, text: str, _contract: Any) -> None:
            errors.append((req_id, code, text))

        self.ib.errorEvent += on_error
        try:
            for attempt in range(4):
                await self.pacer.acquire((symbol, end, duration, "1 min"), symbol)
                rows = await self.ib.reqHistoricalDataAsync(
                    contract,
                    end,
                    duration,
                    "1 min",
                    "TRADES",
                    True,
                    2,
                    timeout=self._request_timeout,
                )
                paced = [
                    e for e in errors if e[0] == rows.reqId and e[1] == 162 and "pacing" in e[2]
                ]
                if not paced:
                    return rows
                self.rate_limited += 1
                wait = self.pacing_retry_s * (attempt + 1)
                log.warning("historical data pacing violation for %s; retry in %.1fs", symbol, wait)
                await asyncio.sleep(wait)
            raise RejectedRequest(162, f"historical data for {symbol}: pacing violations persist")
        finally:
            self.ib.errorEvent -= on_error

    def _bar(self, symbol: str, row: Any) -> Bar:
        try:
            return Bar(
                symbol=symbol,
                time_ns=to_ns(row.date, "bar.date"),
                open=to_price(row.open, "bar.open"),
                high=to_price(row.high, "bar.high"),
                low=to_price(row.low, "bar.low"),
                close=to_price(row.close, "bar.close"),
                volume=to_whole(row.volume, "bar.volume") * self._volume_multiplier,
                vwap=None,
                trades=None if row.barCount < 0 else int(row.barCount),
            )
        except BadInput:
            raise
        except ValueError as exc:
            raise BadInput("bar", repr(row)[:120], str(exc)) from None
