"""Entry point of ``python -m benchmarks.imagenet``."""

from .cli import main

if __name__ == "__main__":
    main()
