"""Feedback that names what real submissions get wrong beyond BPTT itself: a gradient left
at zero, the upstream array returned under another name, and an output right but for
length-1 axes (strict and lenient `shape_policy`); and diagnoses and hints in the contract's
own names and the problem's own loss; a vector table row naming the element of its largest
error. Graded from the command line."""
import json
import re
import shutil

import numpy as np
import pytest

from grader.cli import main
from grader.compare import compare
from grader.contracts import CONTRACTS
from grader.problem_set import Tolerance
from reference.vector_mistakes import VECTOR_MISTAKES
from tests.conftest import EXAMPLES, ROOT

CS231N = ROOT / "problem_sets" / "cs231n_rnn.yaml"
COURSERA = ROOT / "problem_sets" / "coursera_rnn.yaml"


@pytest.fixture
def cs231n_submission(tmp_path):
    """A submission wrapping the correct rnn_layers.py: `body` is rnn_backward's, after
    `dx, dh0, dWx, dWh, db = _correct(dh, cache)`."""
    def write(body: str):
        shutil.copy(EXAMPLES / "cs231n" / "rnn_layers.py", tmp_path)
        path = tmp_path / "submission.py"
        path.write_text("import numpy as np\n"
                        "from rnn_layers import rnn_forward, rnn_step_forward, rnn_step_backward\n"
                        "from rnn_layers import rnn_backward as _correct\n\n\n"
                        "def rnn_backward(dh, cache):\n"
                        "    dx, dh0, dWx, dWh, db = _correct(dh, cache)\n" + body)
        return path
    return write


def graded(capsys, problem_set, submission, *options) -> tuple[int, dict]:
    code = main(["grade", str(problem_set), str(submission), "--format", "json", *options])
    report = json.loads(capsys.readouterr().out)
    return code, {p["id"]: p for p in report["problems"]}


def test_a_gradient_left_at_zero_is_called_starter_code(capsys, cs231n_submission):
    code, problems = graded(capsys, CS231N, cs231n_submission("    return dx, dh0, dWx, np.zeros_like(dWh), db\n"))
    p = problems["gradient-check"]
    assert (code, p["status"], p["score"]) == (1, "failed", 8)
    assert p["message"] == "dWh is all zeros: starter code left in place?"


def test_the_upstream_array_returned_as_dh0_is_named(capsys, cs231n_submission):
    code, problems = graded(capsys, CS231N, cs231n_submission("    return dx, dh, dWx, dWh, db\n"))
    p = problems["small-explicit"]
    assert (code, p["status"], p["score"]) == (1, "error", 9)
    assert p["message"] == "dh0 has the shape of dh: the whole upstream array was returned"
    assert p["outputs"]["dh0"]["error"] == "has the shape of dh: the whole upstream array was returned"


def test_coursera_da0_returned_as_da_is_named_in_coursera_names(capsys, tmp_path):
    shutil.copy(EXAMPLES / "coursera" / "rnn_utils.py", tmp_path)
    path = tmp_path / "submission.py"
    path.write_text("from rnn_utils import rnn_forward, rnn_cell_forward, rnn_cell_backward\n"
                    "from rnn_utils import rnn_backward as _correct\n\n\n"
                    "def rnn_backward(da, caches):\n"
                    "    return {**_correct(da, caches), 'da0': da}\n")
    _, problems = graded(capsys, COURSERA, path)
    p = problems["forward-backward"]
    assert (p["status"], p["message"]) == ("error", "da0 has the shape of da: the whole upstream array was returned")


KEEPDIMS = "    return dx, dh0, dWx, dWh, db.reshape(1, -1)\n"


def test_an_output_right_but_for_a_length_1_axis_fails_saying_the_values_are_right(capsys, cs231n_submission):
    code, problems = graded(capsys, CS231N, cs231n_submission(KEEPDIMS))
    p = problems["small-explicit"]
    assert (code, p["status"], p["score"]) == (1, "failed", 9)
    assert p["message"] == "db has shape (1, 3), expected (3,): the values are right"
    db = p["outputs"]["db"]
    assert (db["passed"], db["score"]) == (False, 0)
    assert db["shape_only"] == {"got": [1, 3], "expected": [3], "granted": False}
    assert p["diagnosis"] == []


def test_shape_policy_lenient_grants_the_points_with_the_note(capsys, cs231n_submission, tmp_path):
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(CS231N.read_text().replace("contract: cs231n\n", "contract: cs231n\nshape_policy: lenient\n"))
    code, problems = graded(capsys, lenient, cs231n_submission(KEEPDIMS), "--include-hidden")
    p = problems["small-explicit"]
    assert (p["status"], p["score"]) == ("passed", 10)
    assert p["message"] == ("every graded output matches (db has shape (1, 3), expected (3,): the values are right; "
                            "granted under shape_policy: lenient)")
    assert p["outputs"]["db"]["shape_only"] == {"got": [1, 3], "expected": [3], "granted": True}
    assert code == 0


def test_an_unknown_shape_policy_is_a_problem_set_error(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CS231N.read_text().replace("contract: cs231n\n", "contract: cs231n\nshape_policy: loose\n"))
    assert main(["validate", str(bad)]) == 2
    assert "shape_policy" in capsys.readouterr().err


def test_the_text_report_shows_no_table_for_a_shape_only_output(capsys, cs231n_submission):
    main(["grade", str(CS231N), str(cs231n_submission(KEEPDIMS))])
    out = capsys.readouterr().out
    assert ("small-explicit: 9/10 failed (N = 2, T = 3, D = 4, H = 3) — db has shape (1, 3), expected (3,): "
            "the values are right\n") in out
    assert "∂L/∂b" not in out


def test_a_coursera_diagnosis_speaks_coursera_names(capsys):
    main(["grade", str(COURSERA), str(EXAMPLES / "coursera" / "dWaa_not_accumulated.py"), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    (d,) = report["problems"][1]["diagnosis"]
    assert (d["mistake"], d["output"], d["change"]) == (
        "dWh_not_accumulated", "dWaa", "∂L/∂Waa = a⟨0⟩ᵀ·∂L/∂s⟨1⟩, one term")
    assert d["explanation"].startswith("Waa is shared by every step, so its gradient sums all of them: "
                                       "∂L/∂Waa = Σ_t a⟨t−1⟩ᵀ·∂L/∂s⟨t⟩.")
    assert report["diagnosis_across_problems"][0]["change"] == "∂L/∂Waa = a⟨0⟩ᵀ·∂L/∂s⟨1⟩, one term"


@pytest.mark.parametrize("mistake", list(VECTOR_MISTAKES))
def test_every_vector_mistake_reads_in_coursera_names(mistake):
    entry = VECTOR_MISTAKES[mistake]
    text = CONTRACTS["coursera"].in_notation(entry.change + " " + entry.explanation)
    assert re.findall(r"\bW[hx]\b|(?<![A-Za-z])[hs]_|\bdh_|∂L/∂b\b", text) == []


def test_the_hint_at_t_T_names_the_problems_own_loss(capsys):
    main(["grade", str(COURSERA), str(EXAMPLES / "coursera" / "wrong_tanh_derivative.py")])
    out = capsys.readouterr().out
    assert ("look at the local term da⟨T⟩ ⊙ φ'(s⟨T⟩) (da⟨T⟩: the upstream gradient at t = T) and the boundary "
            "∂L/∂s_{T+1} = 0.") in out
    assert "ŷ" not in out and "θ" not in out


def test_a_vector_table_row_names_the_element_of_its_largest_error(capsys):
    main(["grade", str(CS231N), str(EXAMPLES / "cs231n" / "dprev_h_not_carried.py")])
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("  ∂L/∂s_t (derived from dx), diverging at 2 of 3 steps:")
    assert lines[start + 1:start + 5] == [
        "          t  element       expected            got     |error|",
        "          3   [0, 0]      -0.182407      -0.182407    6.05e-15",
        "          2   [1, 2]       0.228005       0.777165       0.549  ← first divergence",
        "          1   [0, 1]      -0.448457      -0.627074       0.179  ✗"]


def test_element_at_step_is_the_index_within_the_step_in_the_outputs_layout():
    expected = np.zeros((2, 3, 4))          # (N, T, D), t on axis 1
    got = expected.copy()
    got[1, 2, 3] = 1.0
    c = compare(expected, got, Tolerance(), time_axis=1)
    assert (c.element_at_step(3), c.at_step(3)) == ((1, 3), (0.0, 1.0, 1.0))
    assert compare(np.zeros(3), np.ones(3), Tolerance()).element_at_step(2) == ()
