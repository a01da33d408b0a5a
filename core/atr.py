"""Wilder's ATR on exact integers, and the bucket granularity it implies (SPEC §4.1).

14 is Wilder's own period (SPEC names it; it is the one constant of the
granularity rule). Every division is rounded half to even to the core's
fixed-point unit, so the ATR is identical in any build on any machine.
"""

from __future__ import annotations

from core.money import round_half_even_div, round_half_up_div

WILDER_PERIOD = 14  # Wilder (1978); SPEC §4.1 names it.


class WilderATR:
    """Running Wilder ATR in price nano-units; ``value`` is None during warm-up."""

    __slots__ = ("_count", "_prev_close", "_seed_sum", "value")

    def __init__(self) -> None:
        self._count = 0
        self._prev_close: int | None = None
        self._seed_sum = 0
        self.value: int | None = None

    def update(self, high: int, low: int, close: int) -> int | None:
        prev = self._prev_close
        true_range = (
            high - low if prev is None else max(high - low, abs(high - prev), abs(low - prev))
        )
        self._prev_close = close
        self._count += 1
        if self._count < WILDER_PERIOD:
            self._seed_sum += true_range
        elif self._count == WILDER_PERIOD:
            self.value = round_half_even_div(self._seed_sum + true_range, WILDER_PERIOD)
        else:
            assert self.value is not None
            self.value = round_half_even_div(
                (WILDER_PERIOD - 1) * self.value + true_range, WILDER_PERIOD
            )
        return self.value


def granularity_ticks(atr: int, tick: int) -> int:
    """ATR in whole ticks, rounded half up, never below one tick."""
    return max(1, round_half_up_div(atr, tick))
