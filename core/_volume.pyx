# cython: language_level=3
"""Compiled twin of ``core/volume.py`` (read that first: it is the definition).

The multiset of all volumes is a list of sorted blocks (the sortedcontainers
layout, in C++) with a Fenwick tree over block sizes, so rank queries and
inserts stay O(log n) with small constants at millions of bars. The spike
rule runs on 128-bit integers while ``n·max(v) < 2⁶²`` proves nothing can
overflow, and falls back to Python's unbounded integers beyond that.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t
from libc.string cimport memcpy
from libcpp.algorithm cimport lower_bound, upper_bound
from libcpp.vector cimport vector

from core.volume import is_spike as _exact_is_spike


# Half-full blocks of 512..1024 keep inserts (a memmove) and searches cheap.
DEF BLOCK = 1024

cdef sov_i128 _GUARD = (<sov_i128>1) << 62
cdef sov_i128 _BIG = (<sov_i128>1) << 126


cdef object _py(sov_i128 x):
    """Exact Python int of a non-negative 128-bit value."""
    cdef unsigned long long hi = <unsigned long long>(x >> 64)
    cdef unsigned long long lo = <unsigned long long>(x & 0xFFFFFFFFFFFFFFFF)
    return (int(hi) << 64) | int(lo)


cdef class VolumeTracker:

    def __cinit__(self):
        self._n = 0
        self._vmax = 0
        self._sum = 0
        self._sum_sq = 0
        self._big = False

    @property
    def count(self):
        return self._n

    cdef int64_t _prefix(self, Py_ssize_t blocks) noexcept:
        """Number of volumes in the first ``blocks`` blocks."""
        cdef int64_t total = 0
        cdef Py_ssize_t i = blocks
        while i > 0:
            total += self._fenwick[i - 1]
            i &= i - 1
        return total

    cdef void _fenwick_add(self, Py_ssize_t block, int64_t delta) noexcept:
        cdef Py_ssize_t i = block + 1
        cdef Py_ssize_t n = self._fenwick.size()
        while i <= n:
            self._fenwick[i - 1] += delta
            i += i & (-i)

    cdef void _rebuild_index(self):
        cdef Py_ssize_t nb = self._blocks.size()
        cdef Py_ssize_t i, parent
        self._maxes.resize(nb)
        self._fenwick.assign(nb, 0)
        for i in range(nb):
            self._maxes[i] = self._blocks[i].back()
            self._fenwick[i] += <int64_t>self._blocks[i].size()
            parent = i | (i + 1)
            if parent < nb:
                self._fenwick[parent] += self._fenwick[i]

    cdef int64_t _rank(self, int64_t volume, bint inclusive) noexcept:
        """#volumes < ``volume`` (or <= when ``inclusive``)."""
        cdef Py_ssize_t nb = self._maxes.size()
        cdef Py_ssize_t j
        cdef int64_t within
        if inclusive:
            j = upper_bound(self._maxes.begin(), self._maxes.end(), volume) - self._maxes.begin()
        else:
            j = lower_bound(self._maxes.begin(), self._maxes.end(), volume) - self._maxes.begin()
        if j == nb:
            return self._n
        if inclusive:
            within = upper_bound(self._blocks[j].begin(), self._blocks[j].end(), volume) \
                - self._blocks[j].begin()
        else:
            within = lower_bound(self._blocks[j].begin(), self._blocks[j].end(), volume) \
                - self._blocks[j].begin()
        return self._prefix(j) + within

    cpdef object percentile(self, int64_t volume):
        if self._n == 0:
            return None
        return self.percentile_c(volume)

    cdef double percentile_c(self, int64_t volume) noexcept:
        """The percentile; only meaningful when the history is not empty."""
        cdef Py_ssize_t nb = self._maxes.size()
        cdef Py_ssize_t j = lower_bound(self._maxes.begin(), self._maxes.end(), volume) \
            - self._maxes.begin()
        cdef int64_t before, less, upto
        if j == nb:
            return 1.0  # every volume is below this one
        # One descent for both ranks: when block j's max exceeds the volume,
        # all its equals sit inside block j, so the prefix count is shared.
        before = self._prefix(j)
        less = before + (lower_bound(self._blocks[j].begin(), self._blocks[j].end(), volume)
                         - self._blocks[j].begin())
        if self._maxes[j] > volume:
            upto = before + (upper_bound(self._blocks[j].begin(), self._blocks[j].end(), volume)
                             - self._blocks[j].begin())
        else:
            upto = self._rank(volume, True)
        return <double>(2 * less + (upto - less)) / <double>(2 * self._n)

    cpdef bint spike(self, int64_t volume):
        cdef sov_i128 n = self._n
        cdef sov_i128 excess, spread
        cdef int64_t top = volume if volume > self._vmax else self._vmax
        if self._n < 2:
            return False
        if not self._big and n * top < _GUARD:
            excess = n * volume - self._sum
            if excess <= 0:
                return False
            spread = n * self._sum_sq - self._sum * self._sum
            return excess * excess > 4 * spread
        total = self._big_sum if self._big else _py(self._sum)
        total_sq = self._big_sum_sq if self._big else _py(self._sum_sq)
        return _exact_is_spike(self._n, total, total_sq, volume)

    def export_state(self):
        """As ``PyVolumeTracker.export_state``: every volume, sorted, as
        native int64 bytes (the blocks are sorted and in order already)."""
        cdef vector[int64_t] flat
        flat.reserve(self._n)
        cdef Py_ssize_t i
        for i in range(<Py_ssize_t>self._blocks.size()):
            flat.insert(flat.end(), self._blocks[i].begin(), self._blocks[i].end())
        cdef Py_ssize_t size = <Py_ssize_t>flat.size() * 8
        return PyBytes_FromStringAndSize(<char*>flat.data() if size else NULL, size)

    def restore_state(self, bytes volumes):
        """Become the tracker ``export_state`` described (of either twin):
        half-full blocks, the index rebuilt, the sums recomputed as ``add`` would."""
        if len(volumes) % 8:
            raise ValueError(f"{len(volumes)} bytes of volumes is not a whole number of int64")
        cdef Py_ssize_t n = len(volumes) // 8
        cdef vector[int64_t] flat
        flat.resize(n)
        if n:
            memcpy(flat.data(), <const char*>volumes, n * 8)
        cdef Py_ssize_t i, start
        for i in range(1, n):
            if flat[i] < flat[i - 1]:
                raise ValueError("volumes to restore are not sorted")
        if n and flat[0] < 0:
            raise ValueError(f"volume must be >= 0, got {flat[0]}")
        self._blocks.clear()
        start = 0
        while start < n:
            self._blocks.push_back(vector[int64_t](
                flat.begin() + start, flat.begin() + min(n, start + BLOCK)))
            start += BLOCK
        self._rebuild_index()
        self._n = n
        self._vmax = flat[n - 1] if n else 0
        self._sum = 0
        self._sum_sq = 0
        self._big = False
        self._big_sum = None
        self._big_sum_sq = None
        cdef int64_t volume
        for i in range(n):
            volume = flat[i]
            if not self._big and self._sum_sq >= _BIG:
                self._big = True
                self._big_sum = _py(self._sum)
                self._big_sum_sq = _py(self._sum_sq)
            if self._big:
                exact = <object>volume
                self._big_sum += exact
                self._big_sum_sq += exact * exact
            else:
                self._sum += volume
                self._sum_sq += (<sov_i128>volume) * volume

    cpdef void add(self, int64_t volume) except *:
        if volume < 0:
            raise ValueError(f"volume must be >= 0, got {volume}")
        cdef Py_ssize_t nb = self._blocks.size()
        cdef Py_ssize_t j
        cdef vector[int64_t] tail
        if nb == 0:
            self._blocks.push_back(vector[int64_t]())
            self._blocks[0].push_back(volume)
            self._rebuild_index()
        else:
            j = upper_bound(self._maxes.begin(), self._maxes.end(), volume) - self._maxes.begin()
            if j == nb:
                j = nb - 1
            self._blocks[j].insert(
                upper_bound(self._blocks[j].begin(), self._blocks[j].end(), volume), volume)
            if self._blocks[j].back() > self._maxes[j]:
                self._maxes[j] = self._blocks[j].back()
            self._fenwick_add(j, 1)
            if <Py_ssize_t>self._blocks[j].size() >= 2 * BLOCK:
                tail.assign(self._blocks[j].begin() + BLOCK, self._blocks[j].end())
                self._blocks[j].resize(BLOCK)
                self._blocks.insert(self._blocks.begin() + j + 1, tail)
                self._rebuild_index()
        self._n += 1
        if volume > self._vmax:
            self._vmax = volume
        if not self._big and self._sum_sq >= _BIG:
            self._big = True
            self._big_sum = _py(self._sum)
            self._big_sum_sq = _py(self._sum_sq)
        if self._big:
            exact = <object>volume  # Python int: the square must not wrap in C
            self._big_sum += exact
            self._big_sum_sq += exact * exact
        else:
            self._sum += volume
            self._sum_sq += (<sov_i128>volume) * volume
