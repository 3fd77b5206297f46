"""Services and the daily passes: the catalogue, demand, the compiled kernels, their random numbers and tallies."""
