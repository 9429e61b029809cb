"""SimCLR with and without MSCN masks on scikit-learn's bundled digits: ``python -m benchmarks.digits``."""

from .run import PRESETS, Preset, main, run

__all__ = ["PRESETS", "Preset", "main", "run"]
