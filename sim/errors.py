"""The error every bad input raises: light to import, so the command line can catch it without
loading the scenario schema (``lifecircle --help`` imports nothing heavy)."""


class ScenarioError(ValueError):
    """A scenario (or batch) file is missing, unreadable or invalid.

    The message names the file, the key, the value and what is allowed.
    """


class EngineChangedError(RuntimeError):
    """lifecircle's code changed after this process loaded it: what it computes belongs to no fingerprint
    (:func:`sim.io.checkpoint.engine_fingerprint`). Restart the process."""
