"""``python -m gateway.histdata`` (run by ``python -m sim data fetch``): history into the catalog.

Bars come through the unmodified SDKs the gateway trades with — alpaca-py's
``StockHistoricalDataClient`` (it follows ``next_page_token`` itself) and
ib_async's ``reqHistoricalData`` paced by the gateway's own ``HistoricalPacer``
— with credentials and endpoints taken exactly as the gateway takes them
(``--config`` file sections ``[alpaca]``/``[ibkr]``, the environment's
``SOVEREIGN_ALPACA_API_KEY``/``SOVEREIGN_ALPACA_SECRET_KEY`` winning).

Resumable: the catalog's manifest records every session already held (a
session fetched in full, even an empty one, is recorded), so a fetch killed
half way and run again asks only for the missing sessions. Requests go in
chunks of a few sessions per symbol and each chunk is written (atomically,
replacing those days) before the next is asked for. HTTP 429 and IB pacing
refusals back off exponentially (Retry-After when the server gives one).

It lives in ``gateway`` because it is a network shell with wall-clock waits;
``sim`` must not import ``gateway``, so ``sim data fetch`` hands over to this
module as a separate process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from core.cells import as_float
from core.errors import BadInput
from core.events import Bar
from core.money import price_from_decimal
from sim.data.catalog import DEFAULT_CATALOG, Catalog, check_adjustment, day_of
from sim.data.source import parse_symbols
from sim.timefmt import parse_time

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_NS = 10**9
CHUNK_SESSIONS = 5  # sessions per request: a few thousand minute bars, a few pages
MAX_RETRIES = 8
TIMEFRAMES = ("1Min", "1Day")


@dataclass
class FetchStats:
    requests: int = 0
    bars: int = 0
    sessions: int = 0
    skipped_sessions: int = 0
    rate_limited: int = 0
    waited_s: float = 0.0
    empty_sessions: list[str] = field(default_factory=list)


class BackOff:
    """Exponential back-off with an upper bound; Retry-After wins when the server sends it."""

    def __init__(self, first: float = 0.5, ceiling: float = 30.0) -> None:
        self.first, self.ceiling, self.delay = first, ceiling, first

    def next_wait(self, retry_after: float | None = None) -> float:
        wait = retry_after if retry_after is not None else self.delay
        self.delay = min(self.ceiling, self.delay * 2)
        return min(self.ceiling, max(0.0, wait))

    def reset(self) -> None:
        self.delay = self.first


# ------------------------------------------------------------------ arguments
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", required=True, choices=("alpaca", "ibkr"))
    parser.add_argument("--symbols", required=True, help="SYM,SYM,...")
    parser.add_argument("--start", required=True, help="first session, YYYY-MM-DD")
    parser.add_argument("--end", required=True, help="last session, YYYY-MM-DD")
    parser.add_argument("--timeframe", default="1Min", help="1Min or 1Day (default 1Min)")
    parser.add_argument(
        "--adjustment", default="raw", help="raw, split, dividend or all (default raw)"
    )
    parser.add_argument("--catalog", default=str(DEFAULT_CATALOG), help="catalog directory")
    parser.add_argument("--config", help="the gateway's config.toml ([alpaca] / [ibkr])")
    parser.add_argument("--url", help="Alpaca market-data base URL (e.g. `python -m standins`)")
    parser.add_argument("--feed", choices=("iex", "sip"), help="Alpaca feed (default: config's)")
    parser.add_argument("--tws", metavar="HOST:PORT", help="TWS / IB Gateway (default: config's)")
    parser.add_argument("--client-id", type=int, help="IB API client id (default: config's + 7)")


@dataclass(frozen=True)
class Plan:
    symbols: list[str]
    timeframe: str
    adjustment: str
    sessions: list[tuple[str, int, int]]  # (date, open_ns, close_ns) in the range
    todo: dict[str, list[list[tuple[str, int, int]]]]  # symbol -> chunks of missing sessions
    skipped: int


def plan(
    catalog: Catalog, symbols: list[str], timeframe: str, adjustment: str, start: str, end: str
) -> Plan:
    """Which sessions each symbol still lacks, in chunks of consecutive sessions."""
    from sim.calendar import exchange_sessions

    first = parse_time(start, "--start")
    last = parse_time(end, "--end")
    if last < first:
        raise BadInput("--end", end, f"is before --start {start}")
    sessions = [
        (day_of(o), o, c)
        for o, c in exchange_sessions("XNYS", first, last + 86_400 * _NS)
        if start <= day_of(o) <= end
    ]
    if not sessions:
        raise BadInput("--start", start, f"no XNYS session between {start} and {end}")
    held = catalog.manifest()
    todo: dict[str, list[list[tuple[str, int, int]]]] = {}
    skipped = 0
    for symbol in symbols:
        have = held.get(f"{timeframe}/{adjustment}/{symbol}")
        days = set(have.days) if have else set()
        missing = [s for s in sessions if s[0] not in days]
        skipped += len(sessions) - len(missing)
        chunks: list[list[tuple[str, int, int]]] = []
        for item in missing:
            if (
                chunks
                and len(chunks[-1]) < CHUNK_SESSIONS
                and _next(sessions, chunks[-1][-1]) == item
            ):
                chunks[-1].append(item)
            else:
                chunks.append([item])
        if chunks:
            todo[symbol] = chunks
    return Plan(symbols, timeframe, adjustment, sessions, todo, skipped)


def _next(sessions: list[tuple[str, int, int]], item: tuple[str, int, int]) -> object:
    index = sessions.index(item)
    return sessions[index + 1] if index + 1 < len(sessions) else None


# ------------------------------------------------------------------ conversion
def _price(value: object, column: str) -> int:
    """A JSON/float price as exact nano-units: the shortest decimal that prints it."""
    return price_from_decimal(
        repr(float(value)) if isinstance(value, float) else str(value), column
    )


def _vwap(value: object, low: int, high: int) -> int | None:
    """VWAPs are averages with any number of digits: rounded to nano-units, kept in [low, high]."""
    if value is None:
        return None
    nano = int(
        (Decimal(repr(as_float(value))) * _NS).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    )
    return min(max(nano, low), high)


def alpaca_bar(symbol: str, row: dict[str, Any]) -> Bar:
    stamp = row["t"]
    time_ns = (
        parse_time(stamp, "t")
        if isinstance(stamp, str)
        else int(stamp.timestamp()) * _NS + stamp.microsecond * 1000
    )
    low, high = _price(row["l"], "l"), _price(row["h"], "h")
    trades = row.get("n")
    return Bar(
        symbol,
        time_ns,
        _price(row["o"], "o"),
        high,
        low,
        _price(row["c"], "c"),
        int(row["v"]),
        _vwap(row.get("vw"), low, high),
        None if trades is None else int(trades),
    )


# ------------------------------------------------------------------ alpaca
def _alpaca_client(args: argparse.Namespace, raw: dict[str, Any]) -> tuple[Any, Any]:
    from alpaca.data.enums import DataFeed
    from alpaca.data.historical import StockHistoricalDataClient

    from gateway.config import _alpaca

    config = _alpaca(raw, os.environ)
    url = args.url or config.data_url
    client = StockHistoricalDataClient(
        config.api_key.reveal(), config.secret_key.reveal(), url_override=url, raw_data=True
    )
    # As the gateway does: alpaca-py's own fixed 3 s retry on 429 would hide the 429;
    # surface it so the back-off below waits (and counts) instead.
    client._retry_codes = [504]
    feed = DataFeed.SIP if (args.feed or config.feed) == "sip" else DataFeed.IEX
    return client, feed


def fetch_alpaca(
    args: argparse.Namespace,
    raw: dict[str, Any],
    work: Plan,
    catalog: Catalog,
    stats: FetchStats,
    progress: Callable[[str, int], None],
) -> None:
    from alpaca.common.exceptions import APIError
    from alpaca.data.enums import Adjustment
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame

    client, feed = _alpaca_client(args, raw)
    # a --url endpoint (a stand-in, a proxy) is named in the catalog: its bars are not Alpaca's
    source = f"alpaca via {args.url}" if args.url else "alpaca"
    frame = TimeFrame.Day if work.timeframe == "1Day" else TimeFrame.Minute
    back_off = BackOff()
    for symbol, chunks in work.todo.items():
        for chunk in chunks:
            start = datetime.fromtimestamp(chunk[0][1] // _NS - 12 * 3600, tz=UTC)
            end = datetime.fromtimestamp(chunk[-1][2] // _NS, tz=UTC)
            request = StockBarsRequest(
                symbol_or_symbols=[symbol],
                timeframe=frame,
                start=start,
                end=end,
                adjustment=Adjustment(work.adjustment),
                feed=feed,
            )
            for attempt in range(MAX_RETRIES + 1):
                try:
                    stats.requests += 1
                    answer = client.get_stock_bars(request)
                    back_off.reset()
                    break
                except APIError as exc:
                    if exc.status_code != 429 or attempt == MAX_RETRIES:
                        raise
                    stats.rate_limited += 1
                    wait = back_off.next_wait(_retry_after(exc))
                    stats.waited_s += wait
                    time.sleep(wait)
            rows = (answer or {}).get(symbol) or []
            bars = [alpaca_bar(symbol, row) for row in rows]
            _store(catalog, work, symbol, chunk, bars, source, stats)
            progress(symbol, len(bars))


def _retry_after(exc: Any) -> float | None:
    response = getattr(exc, "response", None)
    value = None if response is None else response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# ------------------------------------------------------------------ ibkr
async def fetch_ibkr(
    args: argparse.Namespace,
    raw: dict[str, Any],
    work: Plan,
    catalog: Catalog,
    stats: FetchStats,
    progress: Callable[[str, int], None],
) -> None:
    from ib_async import IB, Contract, Stock

    from gateway.brokers.ibkr.pacing import HistoricalPacer
    from gateway.config import _ibkr

    # The gateway's [ibkr] section when there is one (it also names the account, which
    # history does not need); else --tws and IB's defaults (paper TWS on 7497).
    host, port, base_id = "127.0.0.1", 7497, 0
    if "ibkr" in raw:
        config = _ibkr(raw)
        host, port, base_id = config.host, config.port, config.client_id
    if args.tws:
        host, _, port_text = args.tws.rpartition(":")
        try:
            port = int(port_text)
        except ValueError:
            raise BadInput("--tws", args.tws, "must be HOST:PORT") from None
    if work.adjustment not in ("raw", "all"):
        raise BadInput(
            "--adjustment", work.adjustment, "IB serves raw (TRADES) or all (ADJUSTED_LAST)"
        )
    what = "TRADES" if work.adjustment == "raw" else "ADJUSTED_LAST"
    bar_size = "1 day" if work.timeframe == "1Day" else "1 min"
    ib = IB()
    client_id = args.client_id if args.client_id is not None else base_id + 7
    await ib.connectAsync(host, port, clientId=client_id, timeout=30)
    pacer = HistoricalPacer()
    errors: list[tuple[int, int, str]] = []

    def on_error(req_id: int, code: int, text: str, _contract: Any) -> None:
        errors.append((req_id, code, text))

    ib.errorEvent += on_error
    back_off = BackOff(first=2.0, ceiling=60.0)
    try:
        for symbol, chunks in work.todo.items():
            qualified = await ib.qualifyContractsAsync(Stock(symbol, "SMART", "USD"))
            contract = qualified[0] if qualified else None
            if not isinstance(contract, Contract):
                raise BadInput("--symbols", symbol, "is not a contract IB knows (SMART, USD)")
            for chunk in chunks:
                end_text = datetime.fromtimestamp(chunk[-1][2] // _NS, tz=UTC).strftime(
                    "%Y%m%d-%H:%M:%S"
                )
                duration = f"{len(chunk)} D"
                for attempt in range(MAX_RETRIES + 1):
                    await pacer.acquire((symbol, end_text, duration, bar_size), symbol)
                    stats.requests += 1
                    rows = await ib.reqHistoricalDataAsync(
                        contract, end_text, duration, bar_size, what, True, 2, timeout=120
                    )
                    paced = [e for e in errors if e[0] == rows.reqId and e[1] == 162]
                    if not paced:
                        back_off.reset()
                        break
                    if attempt == MAX_RETRIES:
                        raise BadInput("ibkr", symbol, "historical data pacing violations persist")
                    stats.rate_limited += 1
                    wait = back_off.next_wait()
                    stats.waited_s += wait
                    await asyncio.sleep(wait)
                bars = [_ib_bar(symbol, row) for row in rows]
                first, last = chunk[0][1], chunk[-1][2]
                if work.timeframe == "1Min":
                    bars = [b for b in bars if first <= b.time_ns < last]
                _store(catalog, work, symbol, chunk, bars, "ibkr", stats)
                progress(symbol, len(bars))
    finally:
        ib.errorEvent -= on_error
        ib.disconnect()


def _ib_bar(symbol: str, row: Any) -> Bar:
    stamp = row.date
    if isinstance(stamp, datetime):
        time_ns = int(stamp.timestamp()) * _NS
    else:  # a daily bar's date: midnight UTC of the session, like Yahoo files
        time_ns = int(datetime(stamp.year, stamp.month, stamp.day, tzinfo=UTC).timestamp()) * _NS
    low, high = _price(float(row.low), "low"), _price(float(row.high), "high")
    count = getattr(row, "barCount", None)
    return Bar(
        symbol,
        time_ns,
        _price(float(row.open), "open"),
        high,
        low,
        _price(float(row.close), "close"),
        int(row.volume),
        _vwap(getattr(row, "average", None), low, high),
        None if count is None or count < 0 else int(count),
    )


# ------------------------------------------------------------------ writing
def _store(
    catalog: Catalog,
    work: Plan,
    symbol: str,
    chunk: list[tuple[str, int, int]],
    bars: list[Bar],
    source: str,
    stats: FetchStats,
) -> None:
    """One chunk into the catalog; its sessions are recorded held even if empty."""
    days = {d for d, _, _ in chunk}
    mine = sorted(
        {b.time_ns: b for b in bars if day_of(b.time_ns) in days}.values(), key=lambda b: b.time_ns
    )
    written = {day_of(b.time_ns) for b in mine}
    stats.empty_sessions += sorted(f"{symbol} {d}" for d in days - written)
    if mine:
        catalog.write(mine, work.timeframe, source, work.adjustment, covered_days=days)
    else:  # nothing that day: still recorded, so a resumed fetch does not ask again
        catalog.write_empty(symbol, work.timeframe, source, work.adjustment, days)
    stats.bars += len(mine)
    stats.sessions += len(chunk)


# ------------------------------------------------------------------ main
def _config(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except OSError as exc:
        raise BadInput("--config", path, f"cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadInput("--config", path, f"is not TOML: {exc}") from None


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    symbols = parse_symbols(args.symbols)
    if args.timeframe not in TIMEFRAMES:
        raise BadInput("--timeframe", args.timeframe, "must be 1Min or 1Day")
    check_adjustment(args.adjustment)
    raw = _config(args.config)
    catalog = Catalog(args.catalog)
    work = plan(catalog, symbols, args.timeframe, args.adjustment, args.start, args.end)
    stats = FetchStats(skipped_sessions=work.skipped)
    chunks = sum(len(c) for c in work.todo.values())
    console = Console(stderr=True)
    console.print(
        f"{args.source}: {', '.join(symbols)} {args.timeframe} {args.adjustment}, "
        f"{len(work.sessions)} XNYS sessions {args.start}..{args.end}; "
        f"{work.skipped} symbol-sessions already held, {chunks} requests to make"
    )
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[bars]:,} bars, {task.fields[limited]} rate-limited"),
        console=console,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task(args.source, total=chunks, bars=0, limited=0)

        def advance(symbol: str, n: int) -> None:
            bar.update(
                task, advance=1, description=f"{args.source} {symbol}", bars=stats.bars,
                limited=stats.rate_limited,
            )  # fmt: skip

        if args.source == "alpaca":
            fetch_alpaca(args, raw, work, catalog, stats, advance)
        else:
            asyncio.run(fetch_ibkr(args, raw, work, catalog, stats, advance))
    print(
        f"fetched {stats.bars:,} bars in {stats.requests} requests ({stats.sessions} "
        f"symbol-sessions, {stats.skipped_sessions} already held), {stats.rate_limited} "
        f"rate-limited and retried after {stats.waited_s:.1f} s; catalog {catalog.root}"
    )
    if stats.empty_sessions:
        print(f"sessions without bars: {', '.join(stats.empty_sessions[:10])}"
              + (" ..." if len(stats.empty_sessions) > 10 else ""))  # fmt: skip
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sim data fetch", description=__doc__.split("\n\n")[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: run the same command again to fetch what is missing", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # network and API failures: a message, not a traceback
        message = type(exc).__name__
        with contextlib.suppress(Exception):
            message = f"{type(exc).__name__}: {exc}"
        print(f"error: fetch failed: {message[:400]}", file=sys.stderr)
        return EXIT_FAILED
