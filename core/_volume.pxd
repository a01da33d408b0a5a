from libc.stdint cimport int64_t
from libcpp.vector cimport vector

cdef extern from *:
    """
    typedef __int128 sov_i128;
    """
    ctypedef long long sov_i128  # C sees __int128; never converted to Python directly


cdef class VolumeTracker:
    cdef vector[vector[int64_t]] _blocks
    cdef vector[int64_t] _maxes
    cdef vector[int64_t] _fenwick
    cdef int64_t _n
    cdef int64_t _vmax
    cdef sov_i128 _sum
    cdef sov_i128 _sum_sq
    cdef bint _big
    cdef object _big_sum
    cdef object _big_sum_sq

    cdef int64_t _prefix(self, Py_ssize_t blocks) noexcept
    cdef void _fenwick_add(self, Py_ssize_t block, int64_t delta) noexcept
    cdef void _rebuild_index(self)
    cdef int64_t _rank(self, int64_t volume, bint inclusive) noexcept
    cpdef object percentile(self, int64_t volume)
    cdef double percentile_c(self, int64_t volume) noexcept
    cpdef bint spike(self, int64_t volume)
    cpdef void add(self, int64_t volume) except *
