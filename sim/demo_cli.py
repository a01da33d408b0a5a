"""The default job: the agents over the seeded demo market, summarised."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Table

from core.money import format_price
from core.signals import AgentSignal, Signal, Zone
from sim.demo import demo_bars
from sim.signals_cli import run_agents


def run_demo(seed: int, sessions: int) -> int:
    console = Console(width=max(Console().width, 110))
    if sessions < 1:
        console.print(f"[red]error:[/] --sessions={sessions}: must be at least 1")
        return 2
    bars = demo_bars(seed=seed, sessions=sessions)
    counts: dict[str, Counter[Signal]] = {}
    last: dict[str, AgentSignal] = {}
    span = (bars[0].time_ns, bars[-1].time_ns)
    for signal in run_agents(bars, exchange="XNYS", span=span):
        counts.setdefault(signal.symbol, Counter())[signal.signal] += 1
        last[signal.symbol] = signal
    table = Table(title=f"Sovereign signal demo — seed {seed}, {sessions} NYSE sessions")
    for column in ("symbol", "bars", "long", "short", "exits", "support", "resistance", "g"):
        table.add_column(column, justify="right" if column != "symbol" else "left", no_wrap=True)
    for symbol, tally in counts.items():
        final = last[symbol]
        table.add_row(
            symbol,
            str(sum(tally.values())),
            str(tally[Signal.ENTER_LONG]),
            str(tally[Signal.ENTER_SHORT]),
            str(tally[Signal.EXIT_LONG] + tally[Signal.EXIT_SHORT]),
            _zone(final.support),
            _zone(final.resistance),
            "" if final.granularity is None else format_price(final.granularity),
        )
    console.print(table)
    console.print("Run your own data: python -m sim signals BARS.csv --out SIGNALS.csv")
    return 0


def _zone(zone: Zone | None) -> str:
    if zone is None:
        return "—"
    low, high = zone
    return f"[{format_price(low)}, {format_price(high)})"
