"""Optional wall-clock timers per phase of the daily loop (needs, choice, spending, monthly ...).

The model holds ``phase_timer = None``; benchmarks attach a :class:`PhaseTimer` and the model's
phases call :meth:`PhaseTimer.start`. With no timer attached the only cost is an ``is None`` test.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Callable


class PhaseTimer:
    """Accumulates wall time (seconds) per named phase; one phase runs at a time.

    Args:
        clock: The clock to read: ``time.perf_counter`` (wall, default) or ``time.process_time``
            (CPU time of this process: steadier on a machine shared with other work).

    Attributes:
        seconds: Total seconds spent in each phase so far.
        calls: Number of times each phase was entered.
    """

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: defaultdict[str, int] = defaultdict(int)
        self._phase: str | None = None
        self._since = 0.0

    def start(self, phase: str) -> None:
        """End the running phase (if any) and start ``phase``."""
        now = self.clock()
        if self._phase is not None:
            self.seconds[self._phase] += now - self._since
        self._phase, self._since = phase, now
        self.calls[phase] += 1

    def stop(self) -> None:
        """End the running phase."""
        if self._phase is not None:
            self.seconds[self._phase] += self.clock() - self._since
            self._phase = None
