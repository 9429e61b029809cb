"""Small-scale reproduction of the MSCN paper's ablations on Fashion-MNIST: ``python -m benchmarks.repro``."""

from .grid import CLAIMS, GRIDS, Experiment, Grid
from .run import main, run_grid

__all__ = ["CLAIMS", "GRIDS", "Experiment", "Grid", "main", "run_grid"]
