"""``python -m sim signals``: the agents alone over a bars CSV.

Each agent tracks its own position from its own signals (SPEC §4.5), so this
is the place to see exactly what the signal core decides, bar by bar.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator

from core.agent import PySymbolAgent, SymbolAgent
from core.errors import BadInput
from core.events import Bar
from core.instruments import Instrument, us_equity_tick
from core.money import Price, price_from_decimal
from core.signals import AgentSignal, Signal
from sim.bars_csv import write_signals
from sim.calendar import schedule_for

EXIT_BAD_INPUT = 2


def run_agents(
    bars: Iterable[Bar],
    tick: int | None = None,
    exchange: str | None = "XNYS",
    span: tuple[int, int] | None = None,
) -> Iterator[AgentSignal]:
    """One agent per symbol, created at the symbol's first bar.

    The tick is ``tick`` when given, else the US equity rule applied to the
    symbol's first close. ``span`` bounds the calendar needed for gap checks.
    """
    agents: dict[str, PySymbolAgent] = {}  # or the compiled twin
    schedule = schedule_for(exchange, *span) if span is not None else None
    for bar in bars:
        agent = agents.get(bar.symbol)
        if agent is None:
            chosen = Price(tick) if tick is not None else us_equity_tick(bar.close)
            agent = SymbolAgent(Instrument(bar.symbol, tick=chosen), schedule=schedule)
            agents[bar.symbol] = agent
        yield agent.on_bar(bar)


def parse_tick(text: str | None) -> int | None:
    if text is None:
        return None
    tick = price_from_decimal(text, "--tick")
    if tick <= 0:
        raise BadInput("--tick", text, "must be positive")
    return tick


def main(args: argparse.Namespace, out: str | None, tick_text: str | None, skip_bad: bool) -> int:
    """``args`` names the bars: ``files`` or the ``--catalog`` query (``sim.data.source``)."""
    from sim.data.source import load, query_from

    try:
        tick = parse_tick(tick_text)
        loaded = load(args.files, query_from(args), skip_bad)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for path, bad in loaded.rejected:
        print(f"skipped: {path}: {bad}", file=sys.stderr)
    print(loaded.description, file=sys.stderr)
    bars = loaded.bars
    span = (min(b.time_ns for b in bars), max(b.time_ns for b in bars)) if bars else None
    counts = {signal: 0 for signal in Signal}
    try:
        target = open(out, "w", newline="", encoding="utf-8") if out else sys.stdout  # noqa: SIM115
    except OSError as exc:
        print(f"error: --out={out!r}: cannot write: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        for signal in write_signals(target, run_agents(bars, tick, "XNYS", span)):
            counts[signal.signal] += 1
        target.flush()
    except BrokenPipeError:
        # The reader left (``| head``): stop quietly, as Unix tools do. Point
        # stdout at /dev/null so the interpreter's own final flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    finally:
        if out:
            target.close()
    summary = ", ".join(f"{s.value}={n}" for s, n in counts.items())
    print(
        f"{len(bars)} bars, {len(loaded.rejected)} rejected; {summary}",
        file=sys.stderr,
    )
    return 0


__all__ = ["main", "run_agents"]
