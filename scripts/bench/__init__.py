"""The benchmark's sections, one module each (`scripts/benchmark.py --only NAME`).

Each module has `run(args)` and may have `add_arguments(parser)`; `scripts/benchmark.py` lists
them in the order they run. Every section measures the project side by side with what a user
would otherwise use (a plain COPY, `psql \\copy`, Django's stock admin, a minimal hook), in the
same run and interleaved, and prints the ratio.
"""
