"""graphduel benchmark: `python bench.py` (runtimes vs plain loops), `python bench.py --scaling`."""
import sys

from src.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
