"""Inputs and outputs: input files and their checks, results folders, figures, reports, GIS outputs, checkpoints of settled states, memory estimates, your own district."""
