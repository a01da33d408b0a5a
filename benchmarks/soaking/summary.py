"""The soak's results for people: a short text beside the JSON."""

from __future__ import annotations

from typing import Any


def _yes(flag: object) -> str:
    return {True: "met", False: "NOT met", None: "n/a"}.get(flag, str(flag))  # type: ignore[call-overload]


def text(result: dict[str, Any]) -> str:
    s = result["settings"]
    m = result["market"]
    r = result["restart_s"]
    rss = result["rss"]
    e = result["executions"]
    f = result["faults"]
    during = r["during_run"]
    lines = [
        f"soak: {len(m['symbols'])} symbols, {s['days']} days ({s['scenario']}, seed {s['seed']}),"
        f" speed {s['speed']:g}, {result['kills']} kill -9 cycles, wall {result['wall_s']:.0f} s"
        f" (stand-in start {result['standin_start_s']:.0f} s)",
        f"market: {m['history_bars']} history bars, {m['live_bars']} live bars,"
        f" {m['live_bars_left']} left unplayed; journal at the end"
        f" {r['journal_inputs_at_end']} inputs",
        f"restart (process start -> ready): during the run n={during.get('n', 0)}"
        f" median {during.get('median')} s, p90 {during.get('p90')} s, max {during.get('max')} s;"
        f" with a 429 storm during recovery n={r['during_run_with_429_storm'].get('n', 0)}"
        f" median {r['during_run_with_429_storm'].get('median')} s;"
        f" at the end {r['final']} s, median {r['final_median']} s"
        f" (target <= {r['target_s']:g} s: {_yes(r['met'])})",
        f"gateway RSS peak per life after {rss['warmup_cycles_skipped']} warm-up lives:"
        f" {rss.get('min_peak_mb')}..{rss.get('max_peak_mb')} MB, spread {rss.get('spread')}"
        f" (flat within {rss['flat_within']:.0%}: {_yes(rss.get('flat'))});"
        f" growth {rss.get('bytes_per_journal_input')} bytes per journaled input;"
        f" RSS just before each kill {rss.get('at_kill_min_max_mb')} MB"
        f" (spread {rss.get('at_kill_spread')});"
        f" stand-in {rss['standin_mb_first_last'][0]} -> {rss['standin_mb_first_last'][1]} MB",
    ]
    x = result.get("extrapolated") or {}

    def at_year(name: str) -> str:
        fit = x.get(name)
        if not fit:
            return "n/a"
        return f"{fit['at_a_year']} ({fit['intercept']} + {fit['per_million_inputs']}/M inputs)"

    lines.append(
        f"straight lines carried to a year ({x.get('journal_inputs_of_a_year')} inputs):"
        f" restart {at_year('restart_s')} s, replay {at_year('replay_s')} s,"
        f" peak RSS {at_year('rss_peak_mb')} MB"
    )
    if e is not None:
        lines.append(
            f"executions: brokers {e['broker_fills']}, database {e['db_executions']};"
            f" lost {e['lost']}, duplicated {e['duplicated']}, unknown {e['unknown']},"
            f" mismatched {e['mismatched']}, recon rows {e['synthesized_recon_rows']},"
            f" positions equal {e['positions_equal']}"
        )
    lines.append(
        f"faults injected {f['injected']}, transfers {f['transfers']};"
        f" stand-in counters {f['standin_counters']}, FIX drops {f['fix_dropped_connections']}"
    )
    if result["error"]:
        lines.append(f"FAILED: {result['error']}")
    for problem in result["problems"]:
        lines.append(f"problem: {problem}")
    verdict = "OK (0 lost, 0 duplicated, every life recovered)" if result["ok"] else "FAILED"
    lines.append("result: " + verdict)
    return "\n".join(lines)
