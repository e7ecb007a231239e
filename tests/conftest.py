from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_SET = ROOT / "problem_sets" / "scalar_bptt.yaml"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def write_submission(tmp_path):
    """Write a submission file into a fresh folder and return its path."""
    def write(source: str, name: str = "submission.py") -> Path:
        path = tmp_path / name
        path.write_text(source)
        return path
    return write
