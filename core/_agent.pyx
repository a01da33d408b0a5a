# cython: language_level=3
"""Compiled twin of ``core/agent.py`` (read that first: it is the definition).

The same decisions in the same order, with the ATR, the profile and the
volume statistics reached through C calls instead of Python attribute and
method lookups, which is where the pure agent spends most of its time.
"""

from cpython.object cimport PyObject, PyTypeObject
from libc.stdint cimport int64_t

from core._sr cimport TravelProfile
from core._volume cimport VolumeTracker

from core.errors import BadInput
from core.events import Bar
from core.health import Health, HealthMonitor
from core.signals import AgentSignal, Reason, Signal, Zone

cdef object _HOLD = Signal.HOLD
cdef object _ENTER_LONG = Signal.ENTER_LONG
cdef object _ENTER_SHORT = Signal.ENTER_SHORT
cdef object _EXIT_LONG = Signal.EXIT_LONG
cdef object _EXIT_SHORT = Signal.EXIT_SHORT
cdef object _LEVEL = Reason.LEVEL
cdef object _STOP = Reason.STOP
cdef object _STALE = Health.STALE
cdef object _OK = Health.OK
cdef int WILDER_PERIOD = 14  # as core/atr.py

cdef extern from *:
    """
    #include <structmember.h>
    /* A tuple-subclass instance of n NULL slots, as tuple.__new__ makes it
       (tp_alloc tracks it for the GC, which skips NULL items). */
    static PyObject* sov_alloc_tuple(PyTypeObject* type, Py_ssize_t n) {
        return type->tp_alloc(type, n);
    }
    static void sov_set_item(PyObject* t, Py_ssize_t i, PyObject* v) {
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, i, v);
    }
    /* The slot a __slots__ member descriptor reads: its offset in the object. */
    static Py_ssize_t sov_member_offset(PyObject* descr) {
        return ((PyMemberDescrObject*)descr)->d_member->offset;
    }
    static PyObject* sov_slot(PyObject* obj, Py_ssize_t offset) {
        return *(PyObject**)((char*)obj + offset);
    }
    """
    object sov_alloc_tuple(PyTypeObject* type, Py_ssize_t n)
    void sov_set_item(object t, Py_ssize_t i, object v)
    Py_ssize_t sov_member_offset(object descr)
    PyObject* sov_slot(object obj, Py_ssize_t offset)

# Why build the results by hand: AgentSignal.__new__ is the Python function
# namedtuple generates (12 arguments, then a tuple, then tuple.__new__), which
# was ~0.4 µs of each bar. Filling a freshly allocated instance directly gives
# the same object, item for item, in a fraction of that.
cdef PyTypeObject* _SIGNAL_TYPE = <PyTypeObject*>AgentSignal
cdef PyTypeObject* _ZONE_TYPE = <PyTypeObject*>Zone
if len(AgentSignal._fields) != 12 or len(Zone._fields) != 2:
    raise ImportError("core/_agent.pyx fills AgentSignal (12 fields) and Zone (2) by position")


cdef inline object _zone(object low, object high):
    cdef object zone = sov_alloc_tuple(_ZONE_TYPE, 2)
    sov_set_item(zone, 0, low)
    sov_set_item(zone, 1, high)
    return zone


# Bar is a frozen slots dataclass: reading its fields through the slots'
# offsets skips the attribute lookup on the type (six per bar). Only for
# exactly Bar; anything else (a subclass, a duck-typed bar) goes through
# getattr as before.
cdef object _BAR = Bar
for _name in ("symbol", "time_ns", "high", "low", "close", "volume"):
    if type(Bar.__dict__[_name]).__name__ != "member_descriptor":
        raise ImportError("core/_agent.pyx reads Bar's fields as slots; Bar must keep slots=True")
cdef Py_ssize_t _OFF_SYMBOL = sov_member_offset(Bar.__dict__["symbol"])
cdef Py_ssize_t _OFF_TIME = sov_member_offset(Bar.__dict__["time_ns"])
cdef Py_ssize_t _OFF_HIGH = sov_member_offset(Bar.__dict__["high"])
cdef Py_ssize_t _OFF_LOW = sov_member_offset(Bar.__dict__["low"])
cdef Py_ssize_t _OFF_CLOSE = sov_member_offset(Bar.__dict__["close"])
cdef Py_ssize_t _OFF_VOLUME = sov_member_offset(Bar.__dict__["volume"])


cdef inline object _field(object bar, Py_ssize_t offset, str name):
    cdef PyObject* value = sov_slot(bar, offset)
    if value is NULL:
        return getattr(bar, name)  # unset slot: the AttributeError getattr gives
    return <object>value


cdef inline int64_t _half_even(int64_t num, int64_t den) noexcept:
    cdef int64_t q = num // den
    cdef int64_t twice = 2 * (num - q * den)
    if twice > den or (twice == den and (q & 1)):
        q += 1
    return q


cdef class SymbolAgent:
    cdef readonly object instrument
    cdef readonly str symbol
    cdef readonly int64_t bars_seen
    cdef int64_t _tick
    cdef bint _self_tracking
    cdef TravelProfile _profile
    cdef VolumeTracker _volume
    cdef object _health
    # Wilder ATR state
    cdef int64_t _atr_count
    cdef int64_t _atr_seed
    cdef int64_t _atr
    cdef int64_t _g  # ticks; 0 = warm-up
    cdef int64_t _prev_close
    cdef int64_t _last_time
    cdef int64_t _period  # the monitor's learned bar period; 0 = unknown
    cdef bint _has_prev
    cdef int _direction
    cdef object _stop
    # The last zones handed out (immutable, so reused while unchanged).
    cdef object _s_zone
    cdef object _r_zone
    cdef int64_t _s_low
    cdef int64_t _s_high
    cdef int64_t _r_low
    cdef int64_t _r_high
    cdef object _width_obj
    cdef int64_t _width

    def __init__(self, instrument, bint self_tracking=True, schedule=None):
        self.instrument = instrument
        self.symbol = instrument.symbol
        self._tick = int(instrument.tick)
        self._self_tracking = self_tracking
        self._profile = TravelProfile()
        self._volume = VolumeTracker()
        self._health = HealthMonitor(schedule)
        self._atr_count = 0
        self._atr_seed = 0
        self._atr = 0
        self._g = 0
        self._has_prev = False
        self._period = 0
        self._direction = 0
        self._stop = None
        self.bars_seen = 0
        self._s_zone = None
        self._r_zone = None
        self._width_obj = None
        self._width = 0

    @property
    def atr(self):
        return self._atr if self._atr_count >= WILDER_PERIOD else None

    @property
    def granularity(self):
        return self._g * self._tick if self._g else None

    @property
    def position(self):
        return self._direction, self._stop

    @property
    def health(self):
        return self._health

    @property
    def profile(self):
        return self._profile

    @property
    def volumes(self):
        return self._volume

    def is_stale(self, now_ns):
        return self._health.is_stale(self._last_time if self._has_prev else None, now_ns)

    def snapshot_state(self):
        """As ``PySymbolAgent.snapshot_state``: the same keys, the same values."""
        lows, highs, domain = self._profile.export_state()
        return {
            "bars_seen": self.bars_seen,
            "direction": self._direction,
            "stop": self._stop,
            "g": self._g if self._g else None,
            "prev_close": self._prev_close if self._has_prev else None,
            "last_time": self._last_time if self._has_prev else None,
            "atr_count": self._atr_count,
            "atr_seed": self._atr_seed,
            "atr": self._atr if self._atr_count >= WILDER_PERIOD else None,
            "period": self._health.period_ns,
            "gaps": self._health.gaps,
            "stale_events": self._health.stale_events,
            "lows": lows,
            "highs": highs,
            "domain": domain,
            "volumes": self._volume.export_state(),
        }

    def restore_state(self, state):
        """Become the agent ``snapshot_state`` described (of either twin)."""
        from core.agent import _bytes, _int, _opt_int  # the pure twin's checks

        self.bars_seen = _int(state, "bars_seen")
        self._direction = _int(state, "direction")
        self._stop = _opt_int(state, "stop")
        g = _opt_int(state, "g")
        self._g = g if g is not None else 0
        prev_close = _opt_int(state, "prev_close")
        last_time = _opt_int(state, "last_time")
        if (prev_close is None) != (last_time is None):
            raise ValueError("agent state: prev_close and last_time must both be set or unset")
        self._has_prev = prev_close is not None
        self._prev_close = prev_close if prev_close is not None else 0
        self._last_time = last_time if last_time is not None else 0
        self._atr_count = _int(state, "atr_count")
        self._atr_seed = _int(state, "atr_seed")
        atr = _opt_int(state, "atr")
        self._atr = atr if atr is not None else 0
        period = _opt_int(state, "period")
        self._health.restore(period, _int(state, "gaps"), _int(state, "stale_events"))
        self._period = period if period is not None else 0
        domain = state["domain"]
        if domain is not None and not (
            isinstance(domain, tuple) and len(domain) == 2 and all(type(v) is int for v in domain)
        ):
            raise ValueError(f"agent state: domain must be two ints or None, got {domain!r}")
        self._profile.restore_state(_bytes(state, "lows"), _bytes(state, "highs"), domain)
        self._volume.restore_state(_bytes(state, "volumes"))

    def set_position(self, direction, stop):
        if direction not in (-1, 0, 1):
            raise BadInput("direction", direction, "must be -1, 0 or 1")
        if direction != 0 and stop is None:
            raise BadInput("stop", stop, "an open position needs a stop")
        self._direction = direction
        self._stop = stop if direction != 0 else None

    def on_bar(self, bar):
        if type(bar) is _BAR:
            symbol = _field(bar, _OFF_SYMBOL, "symbol")
            time_obj = _field(bar, _OFF_TIME, "time_ns")
            high_obj = _field(bar, _OFF_HIGH, "high")
            low_obj = _field(bar, _OFF_LOW, "low")
            close_obj = _field(bar, _OFF_CLOSE, "close")
            volume_obj = _field(bar, _OFF_VOLUME, "volume")
        else:
            symbol = bar.symbol
            time_obj = bar.time_ns
            high_obj = bar.high
            low_obj = bar.low
            close_obj = bar.close
            volume_obj = bar.volume
        if symbol != self.symbol:
            raise BadInput("symbol", symbol, f"bar sent to the agent for {self.symbol}")
        cdef int64_t time_ns = time_obj
        if type(time_obj) is not int:
            time_obj = time_ns  # the signal carries a plain int, as it always did
        if self._has_prev and time_ns <= self._last_time:
            raise BadInput(
                "time", time_ns, f"is not later than the previous bar at {self._last_time}"
            )
        if self._has_prev and time_ns - self._last_time == self._period:
            health = _OK  # HealthMonitor.observe's own fast path, without the call
        else:
            health = self._health.observe(self._last_time if self._has_prev else None, time_ns)
            period = self._health.period_ns
            self._period = period if period is not None else 0
        cdef int64_t high = high_obj
        cdef int64_t low = low_obj
        cdef int64_t close = close_obj
        cdef int64_t volume = volume_obj
        signal = self._evaluate(time_obj, high, low, close, volume, health)
        self._absorb(time_ns, high, low, close, volume)
        if self._self_tracking:
            kind = signal.signal
            if kind is _ENTER_LONG:
                self.set_position(1, signal.stop)
            elif kind is _ENTER_SHORT:
                self.set_position(-1, signal.stop)
            elif kind is _EXIT_LONG or kind is _EXIT_SHORT:
                self.set_position(0, None)
        return signal

    cdef object _evaluate(self, object time_ns, int64_t high, int64_t low, int64_t close,
                          int64_t volume, object health):
        cdef bint has_history = self._volume._n > 0
        percentile = self._volume.percentile_c(volume) if has_history else None
        cdef bint spike = self._volume.spike(volume)
        cdef int64_t g = self._g
        cdef int64_t tick = self._tick
        cdef int64_t width = g * tick
        cdef int64_t s_bucket = 0, r_bucket = 0
        cdef int found = 0
        cdef int64_t s_low = 0, s_high = 0, r_low = 0, r_high = 0
        if g and self._has_prev:
            found = self._profile.levels_c(self._prev_close // tick, g, &s_bucket, &r_bucket)
        cdef bint has_s = found & 1
        cdef bint has_r = found & 2
        if has_s:
            s_low = s_bucket * width
            s_high = s_low + width
        if has_r:
            r_low = r_bucket * width
            r_high = r_low + width

        signal, reason, stop = _HOLD, None, None
        cdef int direction = self._direction
        cdef bint long_ok, short_ok
        if direction == 1 and low <= self._stop:
            signal, reason, stop = _EXIT_LONG, _STOP, self._stop
        elif direction == -1 and high >= self._stop:
            signal, reason, stop = _EXIT_SHORT, _STOP, self._stop
        elif direction == 1:
            if has_r and high > r_low >= close:
                signal, reason, stop = _EXIT_LONG, _LEVEL, self._stop
        elif direction == -1:
            if has_s and low < s_high <= close:
                signal, reason, stop = _EXIT_SHORT, _LEVEL, self._stop
        elif spike and health is not _STALE:
            long_ok = has_s and low < s_high <= close
            short_ok = has_r and high > r_low >= close
            if long_ok and not short_ok:
                signal, reason, stop = _ENTER_LONG, _LEVEL, s_low - tick
            elif short_ok and not long_ok:
                signal, reason, stop = _ENTER_SHORT, _LEVEL, r_high

        if has_s:
            if self._s_zone is None or s_low != self._s_low or s_high != self._s_high:
                self._s_zone = _zone(s_low, s_high)
                self._s_low = s_low
                self._s_high = s_high
            support = self._s_zone
        else:
            support = None
        if has_r:
            if self._r_zone is None or r_low != self._r_low or r_high != self._r_high:
                self._r_zone = _zone(r_low, r_high)
                self._r_low = r_low
                self._r_high = r_high
            resistance = self._r_zone
        else:
            resistance = None
        if g:
            if self._width_obj is None or width != self._width:
                self._width_obj = width
                self._width = width
            granularity = self._width_obj
        else:
            granularity = None
        volume_percentile = percentile if has_history else None

        result = sov_alloc_tuple(_SIGNAL_TYPE, 12)
        sov_set_item(result, 0, self.symbol)
        sov_set_item(result, 1, time_ns)
        sov_set_item(result, 2, signal)
        sov_set_item(result, 3, reason)
        sov_set_item(result, 4, volume_percentile if signal is not _HOLD else None)
        sov_set_item(result, 5, support)
        sov_set_item(result, 6, resistance)
        sov_set_item(result, 7, volume_percentile)
        sov_set_item(result, 8, True if spike else False)
        sov_set_item(result, 9, granularity)
        sov_set_item(result, 10, stop)
        sov_set_item(result, 11, "ok" if health is _OK else health.value)
        return result

    cdef void _absorb(self, int64_t time_ns, int64_t high, int64_t low, int64_t close,
                      int64_t volume) except *:
        cdef int64_t tick = self._tick
        cdef int64_t low_tick = low // tick
        cdef int64_t true_range = high - low
        # Only a bar that moved travels (SPEC §4.2). Ceiling by hand: with C
        # division a negated floor would truncate instead.
        cdef int64_t travel_high = (high + tick - 1) // tick if low < high else low_tick
        self._profile.add_bar(low_tick, high // tick, low_tick, travel_high)
        self._volume.add(volume)
        if self._has_prev:
            true_range = max(true_range, abs(high - self._prev_close), abs(low - self._prev_close))
        self._atr_count += 1
        if self._atr_count < WILDER_PERIOD:
            self._atr_seed += true_range
        elif self._atr_count == WILDER_PERIOD:
            self._atr = _half_even(self._atr_seed + true_range, WILDER_PERIOD)
        else:
            self._atr = _half_even((WILDER_PERIOD - 1) * self._atr + true_range, WILDER_PERIOD)
        if self._atr_count >= WILDER_PERIOD:
            self._g = max(1, (2 * self._atr + tick) // (2 * tick))
        self._prev_close = close
        self._last_time = time_ns
        self._has_prev = True
        self.bars_seen += 1
