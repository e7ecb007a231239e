"""Memory of a batch: the peak resident set size of `bptt-grade batch` and every process
it started (the pool's workers, every submission's sandbox), for a large class against a
small one graded the same way. Flat in the number of submissions means ratio ≈ 1×.

Each batch runs under its own fresh Python process that reports
getrusage(RUSAGE_CHILDREN).ru_maxrss: the largest peak RSS of any process below it (Linux:
KiB), so the figure is the grader's biggest process, whichever it is.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.batch_throughput import SHIPPED_SET, make_class
from bench.table import Row

ROOT = Path(__file__).resolve().parents[1]
MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mb(folder: Path, n: int) -> float:
    """Peak RSS (MB) of the largest process of a batch grading `n` example submissions."""
    make_class(folder / f"class-{n}", n)
    batch = [sys.executable, "-m", "grader", "batch", str(SHIPPED_SET), str(folder / f"class-{n}"),
             "-o", str(folder / f"grades-{n}"), "--jobs", str(os.cpu_count() or 1)]
    done = subprocess.run([sys.executable, "-c", MEASURE, *batch], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return int(done.stdout.split()[-1]) / 1024


def rows(sizes: tuple[int, ...] = (200, 1000), small: int = 10) -> list[Row]:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        baseline = peak_rss_mb(folder, small)
        return [Row("Memory, batch peak RSS", f"{n:,} submissions", peak_rss_mb(folder, n),
                    f"the same, {small} submissions", baseline, "≈ 1× (flat)", unit=" MB")
                for n in sizes]
