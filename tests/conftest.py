from pathlib import Path

import pytest

from grader.errors import ProblemSetError
from grader.loader import load

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_SET = ROOT / "problem_sets" / "scalar_bptt.yaml"
EXAMPLES = ROOT / "examples"


NOT_IMPORTED = "the submission could not be imported (above)"


def problem_said(report: dict, problem: dict) -> str:
    """What a JSON report says went wrong on `problem`: its message, or the report's
    `metadata.import_error` where the problem points there."""
    return report["metadata"]["import_error"] if problem["message"] == NOT_IMPORTED else problem["message"]


@pytest.fixture
def write_submission(tmp_path):
    """Write a submission file into a fresh folder and return its path."""
    def write(source: str, name: str = "submission.py") -> Path:
        path = tmp_path / name
        path.write_text(source)
        return path
    return write

def write(tmp_path, text: str) -> str:
    """Write a problem set's text to tmp_path/set.yaml and return its path."""
    path = tmp_path / "set.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def load_error(path: str) -> ProblemSetError:
    """The error loading the problem set at `path` raises."""
    with pytest.raises(ProblemSetError) as caught:
        load(path)
    return caught.value


def error_for(tmp_path, text: str) -> ProblemSetError:
    return load_error(write(tmp_path, text))


def where(error: ProblemSetError) -> tuple:
    """(field path, line, column, message): what a person reads of a problem-set error."""
    return error.field, error.line, error.column, error.message


# catalogue mistake → the example submission that makes it (its params where it has some)
EXAMPLE_OF_MISTAKE = {
    "output_derivative_uses_phi": "seed_typo_phi_prime_of_h",
    "missing_recurrent_term": "missing_recurrent_term",
    "activation_derivative_at_h": "activation_derivative_at_h",
    "nonzero_boundary": "nonzero_boundary",
    "activation_derivative_omitted": "activation_derivative_omitted",
    "recurrent_term_skips_phi_prime": "recurrent_term_skips_phi_prime",
    "recurrence_uses_v": "recurrence_uses_v",
    "loss_derivative_sign": "loss_derivative_sign",
    "missing_local_term": "missing_local_term",
    "truncated_recursion": "truncated_recursion",      # K = 3
    "dw_uses_h_t": "dw_uses_h_t",
    "dw_not_accumulated": "dw_not_accumulated",
    "dv_uses_h": "dv_uses_h",
    "dv_not_accumulated": "dv_not_accumulated",
    "dh0_missing_w": "dh0_missing_w",
}
