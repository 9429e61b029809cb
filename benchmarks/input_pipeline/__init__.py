"""Benchmarks of the input pipeline: how fast views reach the model, CPU path against device path."""
