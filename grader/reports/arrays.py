"""`--full-arrays`: every compared output's expected and got arrays, whole (float64, in the
submission's layout), in one .npz file beside the report, under the keys
"PROBLEM_ID/OUTPUT/expected" and "PROBLEM_ID/OUTPUT/got" (np.load(path)["big/dx/got"])."""
import os
from pathlib import Path

import numpy as np

from grader.atomic import write_atomically
from grader.errors import UsageError
from grader.results import Report

SUFFIX = ".npz"


def full_arrays(report: Report) -> dict[str, np.ndarray]:
    """{"PROBLEM_ID/OUTPUT/expected" or ".../got": the array} for every output compared."""
    return {f"{p.id}/{o.name}/{which}": array
            for p in report.problems for o in p.outputs if o.comparison is not None
            for which, array in (("expected", o.comparison.expected), ("got", o.comparison.got))}


def arrays_path(report_path: str | os.PathLike) -> Path:
    """Where the arrays go beside the report at `report_path`: its name with the suffix .npz
    (report.json → report.npz); a UsageError when that is the report itself."""
    path = Path(report_path).with_suffix(SUFFIX)
    if path == Path(report_path):
        raise UsageError(f"--full-arrays writes the arrays to {path}, the report's own file: "
                         f"name the report otherwise (e.g. {path.with_suffix('.json')})")
    return path


def write_full_arrays(path: str | os.PathLike, report: Report) -> None:
    """The .npz of `full_arrays(report)` at `path`, written atomically (uncompressed)."""
    arrays = full_arrays(report)
    write_atomically(path, lambda file: np.savez(file, **arrays))   # type: ignore[arg-type]  # ** read as its keywords
