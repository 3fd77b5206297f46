"""Named random streams derived from one seed.

Every mechanism draws from its own stream (``streams["needs"]``, ``streams["lever.lockers"]`` ...),
derived from the master seed and a stable hash of the name (never Python's ``hash()``, which
changes between processes). A lever that is off never asks for its stream, and a lever's own random
choices (and the outlets it opens itself) draw from its stream, so switching it on does not shift
anyone else's draws: a policy run and its counterfactual of the same seed draw alike until the
lever's effects reach a shared mechanism. From then on they part as far as those effects go --
another entrant opens, another vacancy is filled, a matching rule that draws less (the local-hiring
lever's nearest seeker, the siting lever's best site) leaves the shared stream elsewhere -- so
effects are paired differences whose noise grows with what the lever changes, never biased by it.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stream_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (the same in every process and platform)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


class Streams:
    """A lazily filled mapping from stream name to ``numpy.random.Generator``."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._streams: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        rng = self._streams.get(name)
        if rng is None:
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(stream_key(name),)))
            self._streams[name] = rng
        return rng

    def used(self) -> list[str]:
        """Names of the streams drawn from so far (for tests: a lever that is off draws nothing)."""
        return sorted(self._streams)

    def state(self) -> dict[str, dict]:
        """The position of every stream used so far (JSON-able bit-generator states)."""
        return {name: rng.bit_generator.state for name, rng in sorted(self._streams.items())}

    def restore(self, states: dict[str, dict]) -> None:
        """Put every stream in ``states`` at its saved position (others start afresh when asked for)."""
        for name, state in states.items():
            self[name].bit_generator.state = state
