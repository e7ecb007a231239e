"""What graded a submission: this grader's version, and the Python and numpy that the grader
and the submission ran with (student code can behave differently across numpy versions)."""
import platform

import numpy

import grader


def environment() -> dict[str, str]:
    """The JSON report's `metadata.grader_version`, `metadata.python` and `metadata.numpy`."""
    return {"grader_version": grader.__version__, "python": platform.python_version(), "numpy": numpy.__version__}


def version_line() -> str:
    """`bptt-grade --version`: e.g. "bptt-grade 0.1.0 (Python 3.11.2, numpy 1.26.4)"."""
    found = environment()
    return f"bptt-grade {found['grader_version']} (Python {found['python']}, numpy {found['numpy']})"
