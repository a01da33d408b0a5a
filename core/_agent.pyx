# cython: language_level=3
"""Compiled twin of ``core/agent.py`` (read that first: it is the definition).

The same decisions in the same order, with the ATR, the profile and the
volume statistics reached through C calls instead of Python attribute and
method lookups, which is where the pure agent spends most of its time.
"""

from libc.stdint cimport int64_t

from core._sr cimport TravelProfile
from core._volume cimport VolumeTracker

from core.errors import BadInput
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
cdef object _new_signal = AgentSignal.__new__
cdef object _new_zone = Zone.__new__
cdef int WILDER_PERIOD = 14  # as core/atr.py


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
        if bar.symbol != self.symbol:
            raise BadInput("symbol", bar.symbol, f"bar sent to the agent for {self.symbol}")
        cdef int64_t time_ns = bar.time_ns
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
        cdef int64_t high = bar.high
        cdef int64_t low = bar.low
        cdef int64_t close = bar.close
        cdef int64_t volume = bar.volume
        signal = self._evaluate(time_ns, high, low, close, volume, health)
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

    cdef object _evaluate(self, int64_t time_ns, int64_t high, int64_t low, int64_t close,
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

        return _new_signal(
            AgentSignal,
            self.symbol,
            time_ns,
            signal,
            reason,
            percentile if signal is not _HOLD else None,
            _new_zone(Zone, s_low, s_high) if has_s else None,
            _new_zone(Zone, r_low, r_high) if has_r else None,
            percentile,
            spike,
            width if g else None,
            stop,
            "ok" if health is _OK else health.value,
        )

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
