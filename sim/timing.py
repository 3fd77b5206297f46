"""Wall-clock timers: per phase of the daily loop, and per phase of a command-line run.

The model holds ``phase_timer = None``; benchmarks attach a :class:`PhaseTimer` and the model's
phases call :meth:`PhaseTimer.start`. With no timer attached the only cost is an ``is None`` test.

:class:`RunTimings` splits a ``lifecircle run`` from the process's start to its last output into
start-up, build, checkpoint, warm-up, measured days, figures and outputs: the run's ``timings.json``.
"""

from __future__ import annotations

import os
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


RUN_PHASES: tuple[str, ...] = ("startup", "build", "checkpoint", "warmup", "measured", "figures", "outputs")
"""The phases of a command-line run, in order (:class:`RunTimings`)."""
SIMULATED_PHASES: tuple[str, ...] = ("warmup", "measured")
"""The phases that simulate days; the others are the time to a result outside the simulation."""


def process_age() -> float | None:
    """Seconds since this process started (interpreter start included), or None where it cannot be
    read. Linux: ``/proc/self/stat`` against the boot clock (resolution one clock tick, 10 ms);
    elsewhere: psutil's process creation time, when psutil is installed."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time, ticks after boot
        return max(time.clock_gettime(time.CLOCK_BOOTTIME) - started, 0.0)
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    try:
        import psutil
    except ImportError:
        return None
    return max(time.time() - psutil.Process().create_time(), 0.0)


class RunTimings:
    """Wall seconds of a run's phases, from the start of the process to its last output.

    Phases (:data:`RUN_PHASES`): ``startup`` (interpreter start and imports, until the command begins
    its work), ``build`` (scenario read and checked, city, population arrays and Mesa agents),
    ``checkpoint`` (the settled start loaded from its checkpoint, or saved to it after a warm-up),
    ``warmup`` and ``measured`` (simulated days), ``figures`` (matplotlib imported, figures drawn and
    written), ``outputs`` (tables, report, marker). A run paired with its counterfactual adds each
    arm's build, checkpoint and days to the same phases.

    Args:
        origin: Clock reading taken as the start; default: the process's start (:func:`process_age`),
            or now if that cannot be read.
        clock: The clock (seconds): ``time.perf_counter``.
    """

    def __init__(self, origin: float | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        now = clock()
        if origin is None:
            age = process_age()
            origin = now - age if age is not None else now
        self.origin = origin
        self.seconds: dict[str, float] = dict.fromkeys(RUN_PHASES, 0.0)
        self.seconds["startup"] = now - origin
        self._mark = now
        self._added = 0.0  # seconds added to phases since the mark (not to be counted again by lap)
        self.first_day: tuple[float, int] | None = None
        """(seconds of the run's first measured day, measured days of the run), when timed apart: a
        compiled rule not yet loaded from numba's cache loads at its first call."""

    def add(self, phase: str, seconds: float) -> None:
        """Add ``seconds``, timed by the caller, to ``phase`` (one of :data:`RUN_PHASES`)."""
        if phase not in self.seconds:
            raise KeyError(f"unknown run phase {phase!r}; allowed: {', '.join(RUN_PHASES)}")
        self.seconds[phase] += seconds
        self._added += seconds

    def lap(self, phase: str) -> float:
        """Add the time since the previous lap (or the start), less what :meth:`add` counted in it, to
        ``phase``; returns those seconds. Every second from the start is thus counted once."""
        now = self.clock()
        seconds = now - self._mark - self._added
        self.add(phase, seconds)
        self._mark, self._added = now, 0.0
        return seconds

    def record(self) -> dict:
        """The timings as plain data (``timings.json``): seconds per phase, the total from the
        process's start, the simulated seconds and the share of the total outside them."""
        total = self.clock() - self.origin
        simulated = sum(self.seconds[p] for p in SIMULATED_PHASES)
        return {
            "phases": {name: round(value, 4) for name, value in self.seconds.items()},
            "total": round(total, 4),
            "simulated": round(simulated, 4),
            "outside_simulated_share": round(1.0 - simulated / total, 4) if total > 0 else 0.0,
            "first_measured_day": round(self.first_day[0], 4) if self.first_day else None,
            "measured_days": self.first_day[1] if self.first_day else None,
            "units": "seconds of wall time",
        }
