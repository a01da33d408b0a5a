"""plotly.js from the plotly Python package, made to live under a strict CSP.

The bundle injects ``<style>`` elements when it loads: its own global rules
(into ``#plotly.js-style-global``) and MapLibre's stylesheet. A policy with
``style-src 'self'`` blocks both, and the browser reports each as an error.
plotly.js has an opt-out for each — it leaves the global rules alone when an
element with that id carries the class ``no-inline-styles``, and skips
MapLibre's when an element with its id exists — so the page provides those
elements, and this module serves plotly's global rules as a stylesheet of
our own origin (``/static/plotly.css``), read out of the installed bundle
once at start, so they always match the plotly.js being served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInput

_RULES_START = re.compile(r'=\{"X,X div":')
_PAIR = re.compile(
    r'(?:"((?:[^"\\]|\\.)*)"|([A-Za-z_$][\w$]*)):'  # "key": or key: (minified)
    r'(?:\'((?:[^\'\\]|\\.)*)\'|"((?:[^"\\]|\\.)*)")'
)
_GUARD = re.compile(
    r'getElementById\("([0-9a-f]{16,128})"\)\)\{var \w+=document\.createElement\("style"\)'
)


@dataclass(frozen=True)
class PlotlyAssets:
    bundle: Path
    css: str  # plotly's global rules, as a stylesheet
    guard_ids: tuple[str, ...]  # ids whose presence stops a <style> injection


def bundle_path() -> Path:
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise BadInput("dashboard", str(path), "plotly.min.js is missing from the plotly package")
    return path


def load() -> PlotlyAssets:
    path = bundle_path()
    text = path.read_text(encoding="utf-8", errors="replace")
    return PlotlyAssets(path, global_css(text), tuple(dict.fromkeys(_GUARD.findall(text))))


def global_css(bundle: str) -> str:
    """plotly.js's ``addStyleRule`` table as CSS (selectors expanded as plotly
    expands them: X → ``.js-plotly-plot .plotly``, Y → ``.plotly-notifier``)."""
    found = _RULES_START.search(bundle)
    if found is None:
        return ""
    position = found.end() - len('"X,X div":')
    rules = []
    while True:
        pair = _PAIR.match(bundle, position)
        if pair is None:
            break
        key = pair.group(1) if pair.group(1) is not None else pair.group(2)
        single, double = pair.group(3), pair.group(4)
        value = single if single is not None else double
        selector = re.sub(r"^,", " ,", key).replace("X", ".js-plotly-plot .plotly")
        selector = selector.replace("Y", ".plotly-notifier")
        rules.append(f"{_unescape(selector)}{{{_unescape(value or '')}}}")
        position = pair.end()
        if bundle.startswith(",", position):
            position += 1
        else:
            break
    return "\n".join(rules) + "\n"


def _unescape(text: str) -> str:
    return text.replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")
