"""Benchmarks of the sync against the sandbox API (``make bench`` / ``make bench-quick``)."""
