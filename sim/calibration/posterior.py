"""A calibration's posterior as a source of parameter values: what ``lifecircle batch`` draws from.

A batch file's ``[uncertainties] from_posterior = "DIR"`` makes its design points draws from the
posterior a calibration wrote into ``DIR`` (``posterior.parquet``: the last generation's particles
and weights; ``calibration.json``: which scenario keys they are). Draws are taken by weight, with
replacement, from a generator seeded by the batch, and each becomes one design point: every
package runs at every draw with every replicate seed, so paired policy effects carry the
parameters' uncertainty as well as the seeds' noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.scenario import ScenarioError

POSTERIOR = "posterior.parquet"
INFO = "calibration.json"


@dataclass(frozen=True)
class Posterior:
    """The last generation of a calibration.

    Attributes:
        folder: The calibration folder.
        keys: The calibrated scenario keys.
        values: (particles, keys) values as runs take them (integer keys rounded).
        weights: (particles,) normalised importance weights.
        digest: SHA-256 of ``posterior.parquet`` (a batch's fingerprint includes it).
        name: The calibration's name.
    """

    folder: Path
    keys: list[str]
    values: np.ndarray
    weights: np.ndarray
    digest: str
    name: str

    def draw(self, n: int, seed: int) -> np.ndarray:
        """(n, keys) parameter values drawn by weight with replacement, seeded."""
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xB05]))
        rows = rng.choice(len(self.weights), size=n, replace=True, p=self.weights)
        return self.values[rows]


def read_posterior(folder: str | Path, *, source: str = "from_posterior") -> Posterior:
    """The posterior a calibration wrote into ``folder``.

    Raises:
        ScenarioError: the folder, its ``posterior.parquet`` or its ``calibration.json`` is
            missing or damaged (the message names ``source``, the folder and what is needed).
    """
    import json

    from sim.io.inputs import file_digest

    folder = Path(folder).expanduser().resolve()
    post, info_path = folder / POSTERIOR, folder / INFO
    if not post.is_file() or not info_path.is_file():
        raise ScenarioError(f"{source} = {str(folder)!r}: not a finished calibration folder (needs {POSTERIOR} and "
                            f"{INFO}, written by `lifecircle calibrate ... --out {folder}`)")
    try:
        info = json.loads(info_path.read_bytes().decode("utf-8"))
        keys = list(info["parameter_keys"])
        frame = pd.read_parquet(post)
        values = frame[[f"value.{k}" for k in keys]].to_numpy(dtype=float)
        weights = frame["weight"].to_numpy(dtype=float)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ScenarioError(f"{source} = {str(folder)!r}: damaged calibration output ({type(err).__name__}: {err})") from None
    if not len(weights) or not np.isfinite(values).all() or (weights < 0).any() or not weights.sum() > 0:
        raise ScenarioError(f"{source} = {str(folder)!r}: {POSTERIOR} holds no usable particles")
    return Posterior(folder=folder, keys=keys, values=values, weights=weights / weights.sum(),
                     digest=file_digest(post), name=str(info.get("name", "")))


def posterior_frame(folder: str | Path) -> pd.DataFrame:
    """``posterior.parquet`` of a calibration folder as a frame (for notebooks)."""
    return pd.read_parquet(Path(folder) / POSTERIOR)
