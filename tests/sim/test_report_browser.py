"""report.html in a real headless browser (Debian's chromium + chromium-driver, selenium).

The page must load offline without a console error, every chart must render
(plotly draws an SVG into each chart div), the trade table must hold one row
per trade of trades.csv and sort when a header is clicked, and the page must
say at the top what the market was.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _run(out: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sim", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr


DRAWN = "return arguments[0].querySelector('svg.main-svg g.trace')!==null;"


def _open(driver: object, page: Path) -> list[dict[str, object]]:
    """Load the page, then scroll to each chart in turn and wait until plotly drew it
    (charts are drawn lazily: those in view first, the others when idle or scrolled to)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("browser")  # type: ignore[attr-defined]  # drop anything from before
    driver.get(page.as_uri())  # type: ignore[attr-defined]
    charts = driver.find_elements(By.CSS_SELECTOR, ".chart")  # type: ignore[attr-defined]
    assert charts, "the page has no chart"
    for chart in charts:
        driver.execute_script("arguments[0].scrollIntoView({block:'center'});", chart)  # type: ignore[attr-defined]
        WebDriverWait(driver, 120).until(lambda d, c=chart: d.execute_script(DRAWN, c))  # type: ignore[arg-type,misc]
    driver.execute_script("window.scrollTo(0,0);")  # type: ignore[attr-defined]
    return driver.get_log("browser")  # type: ignore[attr-defined,no-any-return]


def _trades(out: Path) -> list[dict[str, str]]:
    with (out / "trades.csv").open(newline="") as stream:
        return list(csv.DictReader(stream))


def test_scenario_report_loads_renders_and_lists_every_trade(
    browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "run"
    _run(out, "run", "default", "--days", "5")
    logs = _open(browser, out / "report.html")
    assert [e for e in logs if e.get("level") == "SEVERE"] == []
    charts = browser.find_elements(By.CSS_SELECTOR, ".chart")  # type: ignore[attr-defined]
    kinds = [c.get_attribute("data-kind") for c in charts]
    assert kinds[0] == "equity" and "price" in kinds and "pnl" in kinds
    assert "tca-algo" in kinds and "tca-venue" in kinds
    for chart in charts:
        # plotted: at least one trace drawn into the SVG
        assert chart.find_elements(By.CSS_SELECTOR, "g.trace, g.scatterlayer, g.barlayer")
    rows = browser.find_elements(By.CSS_SELECTOR, "#trades tbody tr")  # type: ignore[attr-defined]
    trades = _trades(out)
    assert trades and len(rows) == len(trades)
    banner = browser.find_element(By.ID, "provenance").text  # type: ignore[attr-defined]
    assert banner.startswith("SYNTHETIC MARKET")
    # the first element of the body is the warning
    first = browser.execute_script("return document.body.firstElementChild.id")  # type: ignore[attr-defined]
    assert first == "provenance"


def test_trade_table_sorts_by_a_clicked_column(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "run"
    _run(out, "run", "default", "--days", "5")
    _open(browser, out / "report.html")
    headers = browser.find_elements(By.CSS_SELECTOR, "#trades thead th")  # type: ignore[attr-defined]
    pnl_column = [h.text for h in headers].index("P&L")
    headers[pnl_column].click()

    def pnl_values() -> list[float]:
        cells = browser.find_elements(  # type: ignore[attr-defined]
            By.CSS_SELECTOR, f"#trades tbody tr td:nth-child({pnl_column + 1})"
        )
        return [float(c.get_attribute("data-v")) for c in cells]

    ascending = pnl_values()
    assert ascending == sorted(ascending)
    headers[pnl_column].click()
    assert pnl_values() == sorted(ascending, reverse=True)


def test_replay_report_states_the_data_and_renders(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "replay"
    _run(out, "replay", str(ROOT / "sim" / "data" / "sample_daily.csv"))
    logs = _open(browser, out / "report.html")
    assert [e for e in logs if e.get("level") == "SEVERE"] == []
    banner = browser.find_element(By.ID, "provenance").text  # type: ignore[attr-defined]
    assert "real data from sample_daily.csv" in banner and "MSFT" in banner
    rows = browser.find_elements(By.CSS_SELECTOR, "#trades tbody tr")  # type: ignore[attr-defined]
    assert len(rows) == len(_trades(out))


def test_charts_out_of_view_are_drawn_when_idle_without_scrolling(
    browser: object, tmp_path: Path
) -> None:
    """Lazy drawing never leaves a chart blank: the ones below the fold are drawn one by
    one when the browser is idle, even if the reader never scrolls (e.g. to print)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out = tmp_path / "run"
    _run(out, "run", "default", "--days", "5")
    browser.get_log("browser")  # type: ignore[attr-defined]
    browser.get((out / "report.html").as_uri())  # type: ignore[attr-defined]
    charts = browser.find_elements(By.CSS_SELECTOR, ".chart")  # type: ignore[attr-defined]
    below = browser.execute_script(  # type: ignore[attr-defined]
        "return Array.prototype.filter.call(arguments[0],function(c){"
        "return c.getBoundingClientRect().top>window.innerHeight+400;}).length;",
        charts,
    )
    assert below > 0  # some charts start out of view, so this tests the idle queue
    WebDriverWait(browser, 120).until(  # type: ignore[arg-type]
        lambda d: all(d.execute_script(DRAWN, c) for c in charts)
    )
    assert browser.execute_script("return window.scrollY") == 0  # type: ignore[attr-defined]
    logs = browser.get_log("browser")  # type: ignore[attr-defined]
    assert [e for e in logs if e.get("level") == "SEVERE"] == []
