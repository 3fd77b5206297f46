"""Data files that ship with lifecircle: the service catalogue and the POI type-code table (TOML).

A package (not a bare folder) so that setuptools installs the files as this package's data.
"""
