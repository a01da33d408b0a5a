"""The journal's hand-written bar line must equal the generic canonical form."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.events import Bar
from sim.journal import _bar_line, canonical, dumps


@st.composite
def bars(draw: st.DrawFn) -> Bar:
    low = draw(st.integers(1, 10**12))
    high = low + draw(st.integers(0, 10**9))
    open_ = draw(st.integers(low, high))
    close = draw(st.integers(low, high))
    vwap = draw(st.none() | st.integers(low, high))
    return Bar(
        draw(st.text(min_size=1, max_size=8)),
        draw(st.integers(-(2**62), 2**62)),
        open_,
        high,
        low,
        close,
        draw(st.integers(0, 2**63 - 1)),
        vwap,
        draw(st.none() | st.integers(0, 10**9)),
    )


@settings(max_examples=300, deadline=None)
@given(bars(), st.integers(0, 10**9), st.integers(0, 2**63 - 1), st.sampled_from(["in", "out"]))
def test_bar_fast_path_is_the_canonical_line(bar: Bar, count: int, at: int, direction: str) -> None:
    expected = dumps({"n": count, "at": at, "dir": direction, "item": canonical(bar)})
    assert _bar_line(count, at, direction, bar) == expected
