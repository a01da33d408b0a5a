"""Volume percentile and 2σ spike (SPEC §4.4) against brute force, and the
compiled tracker against the reference, including 128-bit and bigint ranges."""

from __future__ import annotations

import numpy as np
import pytest
from core._volume import VolumeTracker
from hypothesis import given, settings
from hypothesis import strategies as st

from core.volume import PyVolumeTracker, is_spike
from tests.core.reference import brute_percentile, brute_spike

INT64_MAX = 2**63 - 1
small_volumes = st.integers(0, 50)
wide_volumes = st.one_of(
    st.integers(0, 10**6),
    st.integers(0, INT64_MAX),
    st.integers(2**62 - 10**6, INT64_MAX),  # the overflow guard's neighbourhood
)


def _check_stream(volumes: list[int]) -> None:
    """Before each add, both twins answer like brute force over the history."""
    compiled, pure = VolumeTracker(), PyVolumeTracker()
    history: list[int] = []
    for v in volumes:
        expected_pct = brute_percentile(history, v)
        expected_spike = brute_spike(history, v)
        assert pure.percentile(v) == expected_pct
        assert compiled.percentile(v) == expected_pct
        assert pure.spike(v) is expected_spike
        assert compiled.spike(v) == expected_spike
        compiled.add(v)
        pure.add(v)
        history.append(v)
    assert compiled.count == pure.count == len(history)


@settings(max_examples=200, deadline=None)
@given(volumes=st.lists(small_volumes, max_size=60))
def test_small_volumes_many_ties_match_brute_force(volumes: list[int]) -> None:
    _check_stream(volumes)


@settings(max_examples=150, deadline=None)
@given(volumes=st.lists(st.integers(0, 10**6), max_size=40))
def test_ordinary_volumes_match_brute_force(volumes: list[int]) -> None:
    _check_stream(volumes)


@settings(max_examples=100, deadline=None)
@given(
    history=st.lists(st.integers(0, 10**9), min_size=2, max_size=30),
    queries=st.lists(st.integers(0, 10**10), min_size=1, max_size=10),
)
def test_queries_do_not_change_state(history: list[int], queries: list[int]) -> None:
    compiled, pure = VolumeTracker(), PyVolumeTracker()
    for v in history:
        compiled.add(v)
        pure.add(v)
    for q in queries:
        assert compiled.percentile(q) == pure.percentile(q) == brute_percentile(history, q)
        assert compiled.spike(q) == pure.spike(q) == brute_spike(history, q)
    assert compiled.count == len(history)


def test_empty_and_single_history() -> None:
    for cls in (VolumeTracker, PyVolumeTracker):
        tracker = cls()
        assert tracker.percentile(5) is None
        assert not tracker.spike(10**12)
        tracker.add(5)
        assert tracker.percentile(5) == 0.5
        assert tracker.percentile(6) == 1.0
        assert tracker.percentile(4) == 0.0
        assert not tracker.spike(10**12)  # n < 2: undefined, never a spike


def test_spike_boundary_is_strict() -> None:
    """History 0, 2 (mean 1, σ 1): mean + 2σ = 3 is not a spike, 4 is."""
    for cls in (VolumeTracker, PyVolumeTracker):
        tracker = cls()
        tracker.add(0)
        tracker.add(2)
        assert not tracker.spike(3)
        assert tracker.spike(4)
    # and all-equal history (σ = 0): anything above the mean is a spike
    for cls in (VolumeTracker, PyVolumeTracker):
        tracker = cls()
        for _ in range(5):
            tracker.add(100)
        assert not tracker.spike(100)
        assert tracker.spike(101)


def test_is_spike_matches_fraction_definition_on_integers() -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        history = [int(x) for x in rng.integers(0, 1000, size=int(rng.integers(0, 12)))]
        v = int(rng.integers(0, 3000))
        s = sum(history)
        q = sum(x * x for x in history)
        assert is_spike(len(history), s, q, v) == brute_spike(history, v)


@settings(max_examples=150, deadline=None)
@given(volumes=st.lists(wide_volumes, max_size=25), query=wide_volumes)
def test_compiled_equals_reference_on_huge_volumes(volumes: list[int], query: int) -> None:
    """Volumes up to 2**63−1: the 128-bit path, its 2**62 guard, the bigint fallback."""
    compiled, pure = VolumeTracker(), PyVolumeTracker()
    for v in volumes:
        assert compiled.spike(v) == pure.spike(v)
        assert compiled.percentile(v) == pure.percentile(v)
        compiled.add(v)
        pure.add(v)
    assert compiled.spike(query) == pure.spike(query) == brute_spike(volumes, query)
    assert compiled.percentile(query) == pure.percentile(query)


def test_huge_volumes_near_the_guard_match_brute_force() -> None:
    """Hand-picked values straddling n·max(v) = 2**62 and Σv² = 2**126."""
    streams = [
        [2**62] * 3 + [0, 1, 2**61],
        [2**61, 2**61 + 1, 2**61 - 1, 3 * 2**60],
        [INT64_MAX, INT64_MAX, 0, INT64_MAX],
        [2**62 - 1, 2**62 - 1, 2**62 - 1, 2**62],
    ]
    for stream in streams:
        _check_stream(stream)


# Regression (was a bug, found by this suite): core/_volume.pyx VolumeTracker.add, bigint
# branch: `self._big_sum_sq += volume * volume` multiplies two int64_t in C and overflows once
# Σv² ≥ 2**126; the compiled spike then disagrees with SPEC §4.4
def test_bigint_fallback_keeps_the_exact_sum_of_squares() -> None:
    """Four volumes of 2**62 push Σv² to 2**126 (the switch to Python ints);
    every later volume v > 2**31.5 has v² > 2**63."""
    _check_stream([2**62] * 4 + [2**62 + 2**61] * 4 + [2**62 + 2**61])


def test_many_equal_values_split_blocks() -> None:
    """> 2048 inserts of one value force block splits; ranks must stay exact."""
    compiled, pure = VolumeTracker(), PyVolumeTracker()
    counts = {7: 0, 3: 0, 11: 0}
    pattern = [7] * 2500 + [3] * 1200 + [7] * 1500 + [11] * 900 + [7] * 500
    for i, v in enumerate(pattern):
        compiled.add(v)
        pure.add(v)
        counts[v] += 1
        if i % 97 == 0 or i == len(pattern) - 1:
            n = i + 1
            for q in (2, 3, 5, 7, 9, 11, 12):
                less = sum(c for value, c in counts.items() if value < q)
                equal = counts.get(q, 0)
                expected = (2 * less + equal) / (2 * n)
                assert compiled.percentile(q) == pure.percentile(q) == expected
                assert compiled.spike(q) == pure.spike(q)
    assert compiled.count == len(pattern)


def test_random_long_stream_compiled_equals_reference() -> None:
    """5000 heavy-tailed volumes with many duplicates (block splits everywhere)."""
    rng = np.random.default_rng(5)
    raw = rng.pareto(1.5, size=5000) * 1000
    volumes = [int(x) // 50 * 50 for x in raw]
    compiled, pure = VolumeTracker(), PyVolumeTracker()
    for v in volumes:
        assert compiled.percentile(v) == pure.percentile(v)
        assert compiled.spike(v) == pure.spike(v)
        compiled.add(v)
        pure.add(v)
    for q in (0, 50, 1000, 10**6, 10**9):
        assert compiled.percentile(q) == pure.percentile(q) == brute_percentile(volumes, q)
        assert compiled.spike(q) == pure.spike(q) == brute_spike(volumes, q)


def test_negative_volume_refused_by_compiled_tracker() -> None:
    with pytest.raises(ValueError, match="volume"):
        VolumeTracker().add(-1)


@given(st.integers(0, 2**32), st.integers(1, 8), st.integers(2_000, 6_000))
@settings(max_examples=15, deadline=None)
def test_percentile_when_equal_volumes_span_blocks(seed: int, distinct: int, n: int) -> None:
    """Thousands of copies of few values fill several 1024-wide blocks with the
    same number, so a block's max equals the queried volume: the single-descent
    percentile must still count the equals in the blocks after it."""
    rng = np.random.default_rng(seed)
    compiled, pure = VolumeTracker(), PyVolumeTracker()
    for volume in rng.integers(0, distinct, n).tolist():
        compiled.add(volume)
        pure.add(volume)
    for volume in range(-1, distinct + 1):
        if volume >= 0:
            assert compiled.percentile(volume) == pure.percentile(volume)
