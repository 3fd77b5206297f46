"""Defaults of the batch analyses, in a module light enough for the command line's parser."""

DEFAULT_LAST_MONTHS = 3
"""A run's outcome in ``compare`` and ``sensitivity`` is the mean over its last this many months."""
