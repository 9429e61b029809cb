"""Entry point of ``python -m benchmarks.digits``."""

from .run import main

if __name__ == "__main__":
    main()
