"""Benchmarks of the framework adapters against each framework's own sessions, one module per framework."""
