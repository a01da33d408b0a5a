from libc.stdint cimport int64_t
from libcpp.vector cimport vector


cdef class _BucketTree:
    cdef public int64_t g
    cdef int64_t base
    cdef int64_t size
    cdef Py_ssize_t applied
    cdef vector[int64_t] mn
    cdef vector[int64_t] ad

    cdef void reset(self, int64_t base, int64_t size)
    cdef void build_from(self, const vector[int64_t]& leaves)
    cdef void add(self, int64_t node, int64_t nl, int64_t nr, int64_t l, int64_t r)
    cdef int64_t range_min(self, int64_t node, int64_t nl, int64_t nr, int64_t l, int64_t r)
    cdef int64_t find(self, int64_t node, int64_t nl, int64_t nr, int64_t l, int64_t r,
                      int64_t target, int64_t acc, bint rightmost)
    cdef int64_t best(self, int64_t lo_bucket, int64_t hi_bucket, bint rightmost)
    cdef int64_t point(self, int64_t bucket)


cdef class TravelProfile:
    cdef vector[int64_t] _low
    cdef vector[int64_t] _high
    cdef int64_t _dom_lo
    cdef int64_t _dom_hi
    cdef bint _has_domain
    cdef dict _trees
    cdef _BucketTree _last

    cpdef void add_bar(self, int64_t low_tick, int64_t high_tick,
                       int64_t travel_low, int64_t travel_high)
    cdef _BucketTree _tree_for(self, int64_t g)
    cdef void _catch_up(self, _BucketTree tree)
    cdef void _rebuild(self, _BucketTree tree, int64_t lo, int64_t hi)
    cpdef tuple levels(self, int64_t price_tick, int64_t g)
    cdef int levels_c(self, int64_t price_tick, int64_t g, int64_t* support,
                      int64_t* resistance)
