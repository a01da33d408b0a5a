"""One symbol's agent: bars in, one ``AgentSignal`` per bar out (SPEC §4).

Everything the signal for bar *t* uses was built from bars 1..t−1; bar *t*
is absorbed only after its signal is decided, so no signal can see its own
bar's influence on the profile, the ATR or the volume history.

Two ways to know the position: a *self-tracking* agent follows its own
signals (the signal CLI, SPEC §4.5); inside the Engine the agent is told the
portfolio's real position through ``set_position`` after fills, so a refused
or unfilled entry never leaves the agent believing it is long.
"""

from __future__ import annotations

import importlib

from core.atr import WilderATR, granularity_ticks
from core.errors import BadInput
from core.events import Bar
from core.health import Health, HealthMonitor, Schedule
from core.hotpath import COMPILED, TravelProfile, VolumeTracker
from core.instruments import Instrument
from core.signals import AgentSignal, Reason, Signal, Zone
from core.sr import PyTravelProfile
from core.volume import PyVolumeTracker

_HOLD = Signal.HOLD
_ENTER_LONG = Signal.ENTER_LONG
_ENTER_SHORT = Signal.ENTER_SHORT
_EXIT_LONG = Signal.EXIT_LONG
_EXIT_SHORT = Signal.EXIT_SHORT
_LEVEL = Reason.LEVEL
_STOP = Reason.STOP


class PySymbolAgent:
    """Reference agent; ``core/_agent.pyx`` is its compiled twin."""

    __slots__ = (
        "_atr",
        "_direction",
        "_g",
        "_health",
        "_last_time",
        "_prev_close",
        "_profile",
        "_self_tracking",
        "_stop",
        "_tick",
        "_volume",
        "bars_seen",
        "instrument",
        "symbol",
    )

    def __init__(
        self,
        instrument: Instrument,
        self_tracking: bool = True,
        schedule: Schedule | None = None,
    ) -> None:
        self.instrument = instrument
        self.symbol = instrument.symbol
        self._tick = int(instrument.tick)
        self._self_tracking = self_tracking
        self._atr = WilderATR()
        self._profile = TravelProfile()
        self._volume = VolumeTracker()
        self._health = HealthMonitor(schedule)
        self._g: int | None = None  # granularity in ticks, after the last bar
        self._prev_close: int | None = None
        self._last_time: int | None = None
        self._direction = 0
        self._stop: int | None = None
        self.bars_seen = 0

    # ------------------------------------------------------------ read-only

    @property
    def atr(self) -> int | None:
        return self._atr.value

    @property
    def granularity(self) -> int | None:
        """Bucket width in price nano-units, or None during warm-up."""
        return None if self._g is None else self._g * self._tick

    @property
    def position(self) -> tuple[int, int | None]:
        return self._direction, self._stop

    @property
    def health(self) -> HealthMonitor:
        return self._health

    @property
    def profile(self) -> PyTravelProfile:  # or its compiled twin: the same interface
        return self._profile

    @property
    def volumes(self) -> PyVolumeTracker:  # or its compiled twin
        return self._volume

    def is_stale(self, now_ns: int) -> bool:
        """SPEC §4.6: no bar for two bar periods inside the session."""
        return self._health.is_stale(self._last_time, now_ns)

    def snapshot_state(self) -> dict[str, object]:
        """Everything this agent learned, twin-neutral (``core.snapshot``): the
        compiled twin exports the same keys and values, so a snapshot of one
        restores into the other."""
        atr = self._atr
        lows, highs, domain = self._profile.export_state()
        return {
            "bars_seen": self.bars_seen,
            "direction": self._direction,
            "stop": self._stop,
            "g": self._g,
            "prev_close": self._prev_close,
            "last_time": self._last_time,
            "atr_count": atr._count,
            "atr_seed": atr._seed_sum,
            "atr": atr.value,
            "period": self._health.period_ns,
            "gaps": self._health.gaps,
            "stale_events": self._health.stale_events,
            "lows": lows,
            "highs": highs,
            "domain": domain,
            "volumes": self._volume.export_state(),
        }

    def restore_state(self, state: dict[str, object]) -> None:
        """Become the agent ``snapshot_state`` described (of either twin)."""
        self.bars_seen = _int(state, "bars_seen")
        self._direction = _int(state, "direction")
        self._stop = _opt_int(state, "stop")
        self._g = _opt_int(state, "g")
        self._prev_close = _opt_int(state, "prev_close")
        self._last_time = _opt_int(state, "last_time")
        atr = self._atr
        atr._count = _int(state, "atr_count")
        atr._seed_sum = _int(state, "atr_seed")
        atr.value = _opt_int(state, "atr")
        atr._prev_close = self._prev_close
        self._health.restore(
            _opt_int(state, "period"), _int(state, "gaps"), _int(state, "stale_events")
        )
        domain = state["domain"]
        if domain is not None and not (
            isinstance(domain, tuple) and len(domain) == 2 and all(type(v) is int for v in domain)
        ):
            raise ValueError(f"agent state: domain must be two ints or None, got {domain!r}")
        self._profile.restore_state(_bytes(state, "lows"), _bytes(state, "highs"), domain)
        self._volume.restore_state(_bytes(state, "volumes"))

    def set_position(self, direction: int, stop: int | None) -> None:
        """The portfolio's truth: −1 short, 0 flat, +1 long, with its stop."""
        if direction not in (-1, 0, 1):
            raise BadInput("direction", direction, "must be -1, 0 or 1")
        if direction != 0 and stop is None:
            raise BadInput("stop", stop, "an open position needs a stop")
        self._direction = direction
        self._stop = stop if direction != 0 else None

    # ---------------------------------------------------------------- bars

    def on_bar(self, bar: Bar) -> AgentSignal:
        if bar.symbol != self.symbol:
            raise BadInput("symbol", bar.symbol, f"bar sent to the agent for {self.symbol}")
        if self._last_time is not None and bar.time_ns <= self._last_time:
            raise BadInput(
                "time", bar.time_ns, f"is not later than the previous bar at {self._last_time}"
            )
        health = self._health.observe(self._last_time, bar.time_ns)
        signal = self._evaluate(bar, health)
        self._absorb(bar)
        if self._self_tracking:
            self._follow(signal)
        return signal

    def _evaluate(self, bar: Bar, health: Health) -> AgentSignal:
        volume = bar.volume
        percentile = self._volume.percentile(volume)
        spike = self._volume.spike(volume)
        g = self._g
        tick = self._tick
        support = resistance = None
        if g is not None and self._prev_close is not None:
            s_bucket, r_bucket = self._profile.levels(self._prev_close // tick, g)
            width = g * tick
            if s_bucket is not None:
                support = Zone(s_bucket * width, (s_bucket + 1) * width)
            if r_bucket is not None:
                resistance = Zone(r_bucket * width, (r_bucket + 1) * width)

        signal, reason, stop = _HOLD, None, None
        direction = self._direction
        held_stop = self._stop  # set whenever direction is not 0
        if direction == 1 and held_stop is not None and bar.low <= held_stop:
            signal, reason, stop = _EXIT_LONG, _STOP, self._stop
        elif direction == -1 and held_stop is not None and bar.high >= held_stop:
            signal, reason, stop = _EXIT_SHORT, _STOP, self._stop
        elif direction == 1:
            if resistance is not None and bar.high > resistance.low >= bar.close:
                signal, reason, stop = _EXIT_LONG, _LEVEL, self._stop
        elif direction == -1:
            if support is not None and bar.low < support.high <= bar.close:
                signal, reason, stop = _EXIT_SHORT, _LEVEL, self._stop
        elif spike and health is not Health.STALE:
            long_ok = support is not None and bar.low < support.high <= bar.close
            short_ok = resistance is not None and bar.high > resistance.low >= bar.close
            if long_ok and not short_ok and support is not None:  # long_ok implies a support
                signal, reason, stop = _ENTER_LONG, _LEVEL, support.low - tick
            elif short_ok and not long_ok and resistance is not None:
                signal, reason, stop = _ENTER_SHORT, _LEVEL, resistance.high

        return AgentSignal(
            self.symbol,
            bar.time_ns,
            signal,
            reason,
            percentile if signal is not _HOLD else None,
            support,
            resistance,
            percentile,
            spike,
            None if g is None else g * tick,
            stop,
            health.value,
        )

    def _absorb(self, bar: Bar) -> None:
        tick = self._tick
        low_tick = bar.low // tick
        # Only a bar that moved travels (SPEC §4.2); an off-tick doji would
        # otherwise round to a one-tick interval.
        travel_high = -(-bar.high // tick) if bar.low < bar.high else low_tick
        self._profile.add_bar(low_tick, bar.high // tick, low_tick, travel_high)
        self._volume.add(bar.volume)
        atr = self._atr.update(bar.high, bar.low, bar.close)
        if atr is not None:
            self._g = granularity_ticks(atr, tick)
        self._prev_close = bar.close
        self._last_time = bar.time_ns
        self.bars_seen += 1

    def _follow(self, signal: AgentSignal) -> None:
        kind = signal.signal
        if kind is _ENTER_LONG:
            self.set_position(1, signal.stop)
        elif kind is _ENTER_SHORT:
            self.set_position(-1, signal.stop)
        elif kind is _EXIT_LONG or kind is _EXIT_SHORT:
            self.set_position(0, None)


def _int(state: dict[str, object], key: str) -> int:
    value = state.get(key)
    if type(value) is not int:
        raise ValueError(f"agent state: {key} must be an integer, got {value!r}")
    return value


def _opt_int(state: dict[str, object], key: str) -> int | None:
    return None if state.get(key) is None else _int(state, key)


def _bytes(state: dict[str, object], key: str) -> bytes:
    value = state.get(key)
    if type(value) is not bytes or len(value) % 8:
        raise ValueError(f"agent state: {key} must be int64 bytes, got {type(value).__name__}")
    return value


SymbolAgent: type[PySymbolAgent] = PySymbolAgent
if COMPILED:  # the compiled twin (same interface, differential tests)
    SymbolAgent = importlib.import_module("core._agent").SymbolAgent
