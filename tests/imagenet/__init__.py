"""Tests of the ImageNet reference run (benchmarks/imagenet)."""
