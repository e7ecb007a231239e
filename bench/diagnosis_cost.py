"""What naming the mistake costs.

- End to end: grading a buggy submission (examples/missing_recurrent_term.py, wrong on 9
  of the 10 shipped problems, hidden ones included) with the diagnosis, against the same
  grading without it. The ratio is time without / time with: 1× means free.
- Per failing problem: diagnose() on one problem whose ∂L/∂s_t, ∂L/∂w, ∂L/∂v, ∂L/∂h_0 are
  all wrong (every catalogue mistake is tried), against one run of the reference backward
  (a Python loop over t); the note gives the cost in reference-backward runs. Below
  T ≈ 1,000 a fixed ~0.5 ms of numpy calls dominates; above, the cost is a few runs.
"""
from pathlib import Path

import numpy as np

from bench.table import Row, best_time
from grader import loader
from grader.contracts import Exercise, exercise
from grader.diagnosis import diagnose
from grader.grading import grade
from grader.problem_data import Given
from grader.problem_set import ScalarProblem
from grader.results import CallOutcome
from grader.scoring import score_outputs
from reference.mistakes import MISTAKES
from reference.scalar import backward

ROOT = Path(__file__).resolve().parents[1]
BUGGY = ROOT / "examples" / "missing_recurrent_term.py"
GRADED = {"dL_ds": 4, "dL_dw": 2, "dL_dv": 2, "dL_dh0": 2}


def failing_problem(T: int) -> tuple[Exercise, tuple]:
    """A problem's exercise, and the scored outputs of the missing_recurrent_term mistake on it."""
    rng = np.random.default_rng(0)
    problem = ScalarProblem(id="p", title="p", points=10, visibility="visible", phi="tanh", theta="sigmoid",
                            loss="squared_error", w=0.7, v=-0.4, h0=0.2,
                            data=Given(rng.normal(size=T), rng.uniform(size=T)), grade=dict(GRADED))
    ex = exercise(problem, "backward")
    wrong = MISTAKES["missing_recurrent_term"].run(problem.rnn, *ex.reference()).of({})
    outcome = CallOutcome(outputs={name: np.asarray(wrong[name]) for name in GRADED})
    return ex, score_outputs(problem, ex.expected, outcome)


def rows(sizes=(10, 100, 1_000, 10_000), end_to_end: bool = True, repeat: int = 7) -> list[Row]:
    result = []
    if end_to_end:
        shipped = loader.load(ROOT / "problem_sets" / "scalar_bptt.yaml")
        with_diagnosis = best_time(lambda: grade(shipped, BUGGY, include_hidden=True), repeat)
        without = best_time(lambda: grade(shipped, BUGGY, include_hidden=True, diagnosis=False), repeat)
        result.append(Row("diagnosis, grading", "10 problems, 9 wrong", with_diagnosis,
                          "grading without diagnosis", without, "≥ 0.8×",
                          "one submission process, 10 calls"))
    for T in sizes:
        ex, outputs = failing_problem(T)
        assert {d.mistake for d in diagnose(ex, outputs)} == {"missing_recurrent_term"}
        repeat = 5 if T <= 1000 else 2
        ours = best_time(lambda ex=ex, outputs=outputs: diagnose(ex, outputs), repeat)
        one_backward = best_time(lambda ex=ex: backward(ex.problem.rnn, ex.forward()), repeat)
        result.append(Row("diagnosis, per failing problem", f"T = {T:,}", ours, "one reference backward",
                          one_backward, "", f"= {ours / one_backward:.1f} backward runs, "
                                            f"{len(MISTAKES)} mistakes tried"))
    return result


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
