"""Helper programs: the demo launcher, the benchmark and its comparison points."""
