# cython: language_level=3
"""Compiled twin of ``core/sr.py`` (read that first: it is the definition).

Why the extra machinery: the reference recounts every domain bucket on each
query, O(D log N). Here each granularity ``g`` that has been asked for keeps a
segment tree of bucket counts (range add, range min with arg-min), brought up
to date lazily from the travel log when ``g`` is next used. A bar costs
O(log D) per granularity in use, a query O(log D), and history never has to
be re-read unless a new granularity or a wider domain needs a fresh tree
(O(N), amortised over the bars since the last rebuild).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t
from libc.string cimport memcpy
from libcpp.algorithm cimport sort
from libcpp.vector cimport vector

cdef int64_t _INF = 1 << 62


cdef class _BucketTree:
    """Bucket counts at one granularity over buckets [base, base + size)."""


    def __cinit__(self, int64_t g):
        self.g = g
        self.base = 0
        self.size = 0
        self.applied = 0

    cdef void reset(self, int64_t base, int64_t size):
        self.base = base
        self.size = size
        self.mn.assign(2 * size, 0)
        self.ad.assign(2 * size, 0)

    cdef void build_from(self, const vector[int64_t]& leaves):
        """Leaves hold the counts; internal nodes their minimum, no pending adds."""
        cdef int64_t i
        for i in range(self.size):
            self.mn[self.size + i] = leaves[i]
            self.ad[self.size + i] = 0
        for i in range(self.size - 1, 0, -1):
            self.mn[i] = min(self.mn[2 * i], self.mn[2 * i + 1])
            self.ad[i] = 0

    cdef void add(self, int64_t node, int64_t nl, int64_t nr, int64_t l, int64_t r):
        cdef int64_t mid
        if r < nl or nr < l:
            return
        if l <= nl and nr <= r:
            self.mn[node] += 1
            self.ad[node] += 1
            return
        mid = (nl + nr) >> 1
        self.add(2 * node, nl, mid, l, r)
        self.add(2 * node + 1, mid + 1, nr, l, r)
        self.mn[node] = min(self.mn[2 * node], self.mn[2 * node + 1]) + self.ad[node]

    cdef int64_t range_min(self, int64_t node, int64_t nl, int64_t nr, int64_t l, int64_t r):
        cdef int64_t mid
        if r < nl or nr < l:
            return _INF
        if l <= nl and nr <= r:
            return self.mn[node]
        mid = (nl + nr) >> 1
        return min(
            self.range_min(2 * node, nl, mid, l, r),
            self.range_min(2 * node + 1, mid + 1, nr, l, r),
        ) + self.ad[node]

    cdef int64_t find(self, int64_t node, int64_t nl, int64_t nr, int64_t l, int64_t r,
                      int64_t target, int64_t acc, bint rightmost):
        """Leaf index in [l, r] whose count equals ``target`` (the range min)."""
        cdef int64_t mid, found
        if r < nl or nr < l or self.mn[node] + acc > target:
            return -1
        if nl == nr:
            return nl
        acc += self.ad[node]
        mid = (nl + nr) >> 1
        if rightmost:
            found = self.find(2 * node + 1, mid + 1, nr, l, r, target, acc, rightmost)
            if found < 0:
                found = self.find(2 * node, nl, mid, l, r, target, acc, rightmost)
        else:
            found = self.find(2 * node, nl, mid, l, r, target, acc, rightmost)
            if found < 0:
                found = self.find(2 * node + 1, mid + 1, nr, l, r, target, acc, rightmost)
        return found

    cdef int64_t best(self, int64_t lo_bucket, int64_t hi_bucket, bint rightmost):
        """The least-travelled bucket in [lo, hi]; ties to the right or left end."""
        cdef int64_t l = lo_bucket - self.base
        cdef int64_t r = hi_bucket - self.base
        cdef int64_t target = self.range_min(1, 0, self.size - 1, l, r)
        return self.find(1, 0, self.size - 1, l, r, target, 0, rightmost) + self.base

    cdef int64_t point(self, int64_t bucket):
        return self.range_min(1, 0, self.size - 1, bucket - self.base, bucket - self.base)


cdef class TravelProfile:
    """Compiled travel profile; same API and answers as ``PyTravelProfile``."""


    def __cinit__(self):
        self._has_domain = False
        self._trees = {}
        self._last = None

    @property
    def travelled(self):
        return self._low.size()

    @property
    def domain_ticks(self):
        if not self._has_domain:
            return None
        return self._dom_lo, self._dom_hi

    def export_state(self):
        """As ``PyTravelProfile.export_state``: sorted lows and highs as native
        int64 bytes, and the domain (the segment trees are caches, rebuilt)."""
        cdef vector[int64_t] lows = self._low
        cdef vector[int64_t] highs = self._high
        sort(lows.begin(), lows.end())
        sort(highs.begin(), highs.end())
        cdef Py_ssize_t size = <Py_ssize_t>lows.size() * 8
        low_bytes = PyBytes_FromStringAndSize(<char*>lows.data() if size else NULL, size)
        high_bytes = PyBytes_FromStringAndSize(<char*>highs.data() if size else NULL, size)
        return low_bytes, high_bytes, self.domain_ticks

    def restore_state(self, bytes lows, bytes highs, domain):
        """Become the profile ``export_state`` described (of either twin)."""
        if len(lows) != len(highs) or len(lows) % 8:
            raise ValueError(f"{len(lows)} bytes of travel lows but {len(highs)} of highs")
        cdef Py_ssize_t n = len(lows) // 8
        self._low.resize(n)
        self._high.resize(n)
        if n:
            memcpy(self._low.data(), <const char*>lows, n * 8)
            memcpy(self._high.data(), <const char*>highs, n * 8)
        self._trees = {}
        self._last = None
        if domain is None:
            self._has_domain = False
            self._dom_lo = 0
            self._dom_hi = 0
        else:
            self._dom_lo, self._dom_hi = domain
            self._has_domain = True

    cpdef void add_bar(self, int64_t low_tick, int64_t high_tick,
                       int64_t travel_low, int64_t travel_high):
        if not self._has_domain:
            self._dom_lo = low_tick
            self._dom_hi = high_tick
            self._has_domain = True
        else:
            if low_tick < self._dom_lo:
                self._dom_lo = low_tick
            if high_tick > self._dom_hi:
                self._dom_hi = high_tick
        if travel_low < travel_high:
            self._low.push_back(travel_low)
            self._high.push_back(travel_high)

    cdef _BucketTree _tree_for(self, int64_t g):
        cdef _BucketTree tree = self._last
        if tree is None or tree.g != g:
            tree = self._trees.get(g)
            if tree is None:
                tree = _BucketTree(g)
                self._trees[g] = tree
            self._last = tree
        cdef int64_t lo = self._dom_lo // g
        cdef int64_t hi = self._dom_hi // g
        cdef Py_ssize_t n = self._low.size()
        cdef Py_ssize_t pending = n - tree.applied
        if tree.size == 0 or lo < tree.base or hi >= tree.base + tree.size:
            self._rebuild(tree, lo, hi)
        elif pending > 0:
            # Replaying costs ~log D per bar, a rebuild ~1 per bar of history:
            # rebuild once the backlog is a sizeable share of all history.
            if pending * 8 > n:
                self._rebuild(tree, lo, hi)
            else:
                self._catch_up(tree)
        return tree

    cdef void _catch_up(self, _BucketTree tree):
        cdef Py_ssize_t j
        cdef Py_ssize_t n = self._low.size()
        cdef int64_t g = tree.g
        for j in range(tree.applied, n):
            tree.add(1, 0, tree.size - 1,
                     self._low[j] // g - tree.base, (self._high[j] - 1) // g - tree.base)
        tree.applied = n

    cdef void _rebuild(self, _BucketTree tree, int64_t lo, int64_t hi):
        """Fresh tree over the domain with room to grow on both sides."""
        cdef int64_t g = tree.g
        cdef int64_t span = hi - lo + 1
        cdef int64_t size = 1
        while size < 2 * span:
            size <<= 1
        cdef int64_t base = lo - (size - span) // 2
        if base < 0:
            base = 0
        tree.reset(base, size)
        # Counts via a difference array: +1 at the first bucket a bar covers,
        # -1 after the last.
        cdef vector[int64_t] diff
        diff.assign(size + 1, 0)
        cdef Py_ssize_t j
        cdef Py_ssize_t n = self._low.size()
        for j in range(n):
            diff[self._low[j] // g - base] += 1
            diff[(self._high[j] - 1) // g - base + 1] -= 1
        cdef vector[int64_t] leaves
        leaves.assign(size, 0)
        cdef int64_t running = 0
        cdef int64_t i
        for i in range(size):
            running += diff[i]
            leaves[i] = running
        tree.build_from(leaves)
        tree.applied = n

    def count(self, int64_t bucket, int64_t g):
        cdef _BucketTree tree
        cdef Py_ssize_t j
        cdef int64_t total = 0
        if g <= 0:
            raise ValueError(f"granularity must be positive, got {g}")
        if self._has_domain:
            tree = self._tree_for(g)
            if tree.base <= bucket < tree.base + tree.size:
                return tree.point(bucket)
        for j in range(<Py_ssize_t>self._low.size()):
            if self._low[j] < (bucket + 1) * g and self._high[j] > bucket * g:
                total += 1
        return total

    def score(self, int64_t bucket, int64_t g):
        return -self.count(bucket, g)

    cpdef tuple levels(self, int64_t price_tick, int64_t g):
        cdef int64_t support, resistance
        if g <= 0:
            raise ValueError(f"granularity must be positive, got {g}")
        cdef int found = self.levels_c(price_tick, g, &support, &resistance)
        return (support if found & 1 else None, resistance if found & 2 else None)

    cdef int levels_c(self, int64_t price_tick, int64_t g, int64_t* support,
                      int64_t* resistance):
        """Bit 1: a support was found (in ``support``); bit 2: a resistance."""
        if not self._has_domain:
            return 0
        cdef _BucketTree tree = self._tree_for(g)
        cdef int64_t here = price_tick // g
        cdef int64_t lowest = self._dom_lo // g
        cdef int64_t highest = self._dom_hi // g
        cdef int64_t top = min(here - 1, highest)
        cdef int64_t bottom = max(here + 1, lowest)
        cdef int found = 0
        if top >= lowest:
            support[0] = tree.best(lowest, top, True)
            found |= 1
        if bottom <= highest:
            resistance[0] = tree.best(bottom, highest, False)
            found |= 2
        return found
