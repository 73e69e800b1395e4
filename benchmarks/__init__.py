"""Benchmarks of the store against its raw drivers: ``python benchmarks/run.py``."""
