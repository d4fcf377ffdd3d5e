"""Benchmarks of the framework adapters against each framework's own savers and the nearest alternatives."""
