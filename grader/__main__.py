import sys

from grader.cli import main

if __name__ == "__main__":      # not in a Dask LocalCluster's worker, which imports __main__ again
    sys.exit(main())
