"""Benchmarks of glide-memory; run them with ``make bench``."""
