"""Entry point of ``python -m benchmarks.repro``."""

from .run import main

if __name__ == "__main__":
    main()
