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

# catalogue mistake → the example submission that makes it (its params where it has some)
EXAMPLE_OF_MISTAKE = {
    "output_derivative_uses_phi": "seed_typo_phi_prime_of_h",
    "missing_recurrent_term": "missing_recurrent_term",
    "activation_derivative_at_h": "activation_derivative_at_h",
    "nonzero_boundary": "nonzero_boundary",
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
