"""Benchmarks (out of the default test run); see benchmarks/README.md."""
