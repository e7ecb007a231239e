from grader.cli import console

if __name__ == "__main__":      # not in a Dask LocalCluster's worker, which imports __main__ again
    console()
