"""Benchmarks and small-scale reproductions of maskaug (run with ``python -m benchmarks.<name>``)."""
