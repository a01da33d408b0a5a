"""How fast ``report.html`` opens on a 500,000-bar run: the old page vs the new, one run.

Issue 14 item 6 asks that the report "opens in a second on a 500,000-bar run". This
script makes that run once (``python -m sim run universe30 --days 43``: 503,100 bars)
or takes an existing run directory (``--out DIR``), renders its report twice from the
same files:

- **old**: the full plotly.js bundle of the ``plotly`` package (≈ 4.8 MB) in the head,
  every chart drawn by one script before the page first paints, a marker for every fill
  (the report before this change);
- **new**: what ``write_report`` writes now: the vendored basic partial bundle (1.2 MB)
  after the text, lazy drawing (charts in view first, the rest when the browser is
  idle), beyond 150 fills a side fills merged per display bucket, and zones and stops
  without the points that do not change their drawing,

and opens each in Debian's headless chromium (selenium, a fresh profile per browser).
In each browser the page is loaded twice: **cold** (the first navigation of a fresh
browser and profile) and **warm** (the same page again in that browser). A probe
injected before any page script (CDP ``Page.addScriptToEvaluateOnNewDocument``) records,
in ``performance.now()`` milliseconds since navigation start, the animation frame after
the first chart holds a drawn trace and the one after every chart does, so both pages
are timed the same way and nothing is scrolled. Old and new alternate round by round so
they share the machine's load; the medians and the old/new ratios are printed with the
load average.

    python benchmarks/bench_report_open.py                 # makes the run in a temp dir
    python benchmarks/bench_report_open.py --out /tmp/big  # reuses (or makes) /tmp/big
    python benchmarks/bench_report_open.py --rounds 7

Not a test: the numbers depend on the machine. They are recorded in docs/report.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sim.report.charts as report_module  # noqa: E402
from sim.report import read_run, render_html  # noqa: E402

RUN_ARGS = ("run", "universe30", "--days", "43")
TIMEOUT_S = 180

# Runs before any script of the page: watches the chart divs and stamps the frame after
# the first one holds a drawn trace (plotly's g.trace) and the frame after all of them do.
PROBE = """(function(){
var t={first:null,all:null,charts:0};window.__open=t;var seen={};
function check(){var c=document.querySelectorAll('.chart');if(!c.length){return;}
var drawn=0;for(var i=0;i<c.length;i++){
if(seen[c[i].id]||c[i].querySelector('g.trace')){seen[c[i].id]=true;drawn++;}}
t.charts=c.length;
if(drawn>0&&t.first===null){t.first=-1;
requestAnimationFrame(function(){t.first=performance.now();});}
if(drawn===c.length&&t.all===null){t.all=-1;
requestAnimationFrame(function(){t.all=performance.now();});}}
new MutationObserver(check).observe(document,{subtree:true,childList:true});
})();"""


def make_run(out: Path) -> None:
    """The 500,000-bar run, unless ``out`` already holds a finished run."""
    if (out / "summary.json").exists() and (out / "bars.csv").exists():
        print(f"using the run in {out}")
        return
    print(f"making the run: python -m sim {' '.join(RUN_ARGS)} --out {out} ...", flush=True)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "sim", *RUN_ARGS, "--out", str(out)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the run failed ({done.returncode}):\n{done.stderr}")
    print(f"  made in {time.perf_counter() - started:.1f} s")


def write_pages(run_dir: Path, pages_dir: Path) -> dict[str, Path]:
    """The old and the new report of the same run, and their sizes.

    The old page is the report as it was: the full bundle, every chart drawn eagerly,
    a marker for every fill (no merging per display bucket) and every decimated point of
    the zones and stops (no ``line_points`` thinning). It differs from the report before
    this change only in drawing the resting stops, which that report failed to read.
    """
    run = read_run(run_dir)
    merged_beyond, thin = report_module.MAX_FILL_MARKERS, report_module.THIN_LINES
    report_module.MAX_FILL_MARKERS, report_module.THIN_LINES = sys.maxsize, False
    try:
        old = render_html(run, bundle="full", lazy=False)
    finally:
        report_module.MAX_FILL_MARKERS, report_module.THIN_LINES = merged_beyond, thin
    pages = {"old": old, "new": render_html(run)}
    paths = {}
    for name, page in pages.items():
        path = pages_dir / f"{name}.html"
        path.write_text(page, encoding="utf-8", newline="\n")
        paths[name] = path
        print(f"  {name}: {path.stat().st_size / 1e6:.2f} MB of HTML")
    return paths


@contextmanager
def fresh_browser(chromium: str, driver: str) -> Iterator[Any]:
    """Headless chromium with a profile of its own, deleted afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bench-report-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    browser.set_page_load_timeout(TIMEOUT_S)
    try:
        browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Timing(NamedTuple):
    """Milliseconds from navigation start (performance.now()) to..."""

    paint: float  # the first contentful paint: the reader sees the page
    first: float  # the frame after the first chart holds a drawn trace
    every: float  # the frame after every chart does


MEASURES = (("paint", "first paint"), ("first", "first chart"), ("every", "all charts"))


def open_page(browser: Any, page: Path) -> tuple[Timing, int]:
    """Load ``page`` and wait until every chart is drawn; its timings and chart count."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    result = WebDriverWait(browser, TIMEOUT_S, poll_frequency=0.05).until(
        lambda d: d.execute_script(
            "var t=window.__open,p=performance.getEntriesByName('first-contentful-paint')[0];"
            "return t&&p&&t.first>0&&t.all>0?[p.startTime,t.first,t.all,t.charts]:null;"
        )
    )
    paint, first, every, charts = result
    return Timing(float(paint), float(first), float(every)), int(charts)


def measure(
    pages: dict[str, Path], rounds: int, chromium: str, driver: str
) -> tuple[dict[str, dict[str, list[Timing]]], dict[str, int]]:
    """Per page, cold and warm timings of each round; old and new alternate."""
    times: dict[str, dict[str, list[Timing]]] = {name: {"cold": [], "warm": []} for name in pages}
    charts: dict[str, int] = {}
    for i in range(rounds):
        order = list(pages) if i % 2 == 0 else list(reversed(pages))
        for name in order:
            with fresh_browser(chromium, driver) as browser:
                for when in ("cold", "warm"):
                    timing, charts[name] = open_page(browser, pages[name])
                    times[name][when].append(timing)
        line = "  ".join(
            f"{name} "
            + " ".join(
                f"{when} {t[when][-1].paint:.0f}/{t[when][-1].first:.0f}/{t[when][-1].every:.0f}"
                for when in ("cold", "warm")
            )
            for name, t in times.items()
        )
        print(f"  round {i + 1}: {line} ms  (paint/first/all; load {os.getloadavg()[0]:.2f})")
    return times, charts


def report(
    times: dict[str, dict[str, list[Timing]]],
    charts: dict[str, int],
    sizes: dict[str, int],
    load: tuple[float, float],
) -> None:
    def median(name: str, when: str, field: str) -> float:
        return statistics.median(getattr(t, field) for t in times[name][when])

    rounds = len(times["old"]["cold"])
    print()
    print(f"{rounds} fresh browsers per page; charts per page {charts}")
    print(f"load average (1 min) {load[0]:.2f} before, {load[1]:.2f} after; {os.cpu_count()} CPUs")
    print(f"HTML: old {sizes['old'] / 1e6:.2f} MB, new {sizes['new'] / 1e6:.2f} MB")
    print(f"{'median ms':<24}{'old':>9}{'new':>9}{'old/new':>9}")
    for when in ("cold", "warm"):
        for field, label in MEASURES:
            old, new = median("old", when, field), median("new", when, field)
            print(f"{when + ' ' + label:<24}{old:>9.0f}{new:>9.0f}{old / new:>8.2f}×")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="run directory to use (made if empty)")
    parser.add_argument("--rounds", type=int, default=5, help="browsers per page (default 5)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument(
        "--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    for name in ("chromium", "chromedriver"):
        if not Path(getattr(args, name)).exists():
            parser.error(f"--{name} {getattr(args, name)} does not exist")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        run_dir = args.out or Path(tmp) / "run"
        make_run(run_dir)
        pages = write_pages(run_dir, Path(tmp))
        sizes = {name: path.stat().st_size for name, path in pages.items()}
        before = os.getloadavg()[0]
        times, charts = measure(pages, args.rounds, args.chromium, args.chromedriver)
        report(times, charts, sizes, (before, os.getloadavg()[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
