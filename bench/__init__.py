"""Benchmarks: `python -m bench.run` (or `make bench`). Figures, not tests: nothing here asserts on timings."""
