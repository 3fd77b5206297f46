"""The error every bad input raises: light to import, so the command line can catch it without
loading the scenario schema (``lifecircle --help`` imports nothing heavy)."""


class ScenarioError(ValueError):
    """A scenario (or batch) file is missing, unreadable or invalid.

    The message names the file, the key, the value and what is allowed.
    """
