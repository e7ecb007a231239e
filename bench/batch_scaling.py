"""Batch cost per submission as the class grows: one `bptt-grade batch --jobs 1` of `large`
submissions against one of `small` (the shipped examples as student folders, the shipped
set with its hidden problems). The time per submission is the median interval between
consecutive submissions' records (results.sqlite's `graded`), so neither the batch's fixed
start-up nor a moment of load on a shared machine counts. ratio = time per submission at
`small` / at `large`; the goal (issue 15) is within 10 %, i.e. ≥ 0.91×.
"""
import itertools
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

from bench.batch_throughput import ROOT, SHIPPED_SET, make_class
from bench.table import Row


def seconds_per_submission(folder: Path, n: int) -> float:
    """Grade a class of `n` in one batch; the median interval between two records."""
    make_class(folder / f"class-{n}", n)
    subprocess.run([sys.executable, "-m", "grader", "batch", str(SHIPPED_SET), str(folder / f"class-{n}"),
                    "-o", str(folder / f"out-{n}"), "--jobs", "1"], cwd=ROOT, check=True, capture_output=True)
    with closing(sqlite3.connect(folder / f"out-{n}" / "results.sqlite")) as record:
        graded = sorted(at for (at,) in record.execute("SELECT graded FROM results"))
    return statistics.median(b - a for a, b in itertools.pairwise(graded))


def rows(small: int = 50, large: int = 1000) -> list[Row]:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        per_small, per_large = seconds_per_submission(folder, small), seconds_per_submission(folder, large)
    return [Row("Batch cost per submission, shipped set", f"{large} vs {small} submissions, --jobs 1", per_large,
                f"per submission at {small}", per_small, "≥ 0.91×",
                f"{per_small * 1e3:.1f} ms at {small}, {per_large * 1e3:.1f} ms at {large}")]
