"""Naming the mistake, at library level: returned outputs are scored and diagnosed without a
process in between (the examples run in-process here; end to end in test_examples)."""
import importlib.util
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grader.contracts import exercise
from grader.diagnosis import MistakeRuns, across_problems, diagnose, matching
from grader.problem_data import Given
from grader.problem_set import ScalarProblem, Tolerance
from grader.results import CallOutcome, Diagnosis, OutputResult, ProblemResult, Unusable
from grader.scoring import score_outputs
from reference.mistakes import MISTAKES
from reference.scalar import backward
from tests.conftest import EXAMPLE_OF_MISTAKE, EXAMPLES

SMOOTH = ["identity", "tanh", "sigmoid", "softplus", "sin"]
GRADE = {"dL_ds": 4, "dL_dw": 2, "dL_dv": 2, "dL_dh0": 2}


def load_example(stem: str):
    """An example submission as a module (with student_math beside it importable)."""
    spec = importlib.util.spec_from_file_location(f"example_{stem}", EXAMPLES / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


SUBMISSIONS = {mistake: load_example(stem) for mistake, stem in EXAMPLE_OF_MISTAKE.items()}
CORRECT = load_example("correct")


def make_problem(phi="tanh", theta="sigmoid", loss="squared_error", w=0.9, v=-0.6, h0=0.3, T=6, seed=0,
                 tolerance=Tolerance()) -> ScalarProblem:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=T)
    y = rng.integers(0, 2, T).astype(float) if loss == "binary_cross_entropy" else rng.normal(size=T)
    return ScalarProblem(id="p", title="p", points=10, visibility="visible", phi=phi, theta=theta, loss=loss,
                         w=w, v=v, h0=h0, data=Given(x, y), grade=dict(GRADE), tolerance=tolerance)


def graded(problem: ScalarProblem, returned: dict, runs: MistakeRuns | None = None):
    """(scored outputs, diagnosis) of `returned` on `problem`."""
    ex = exercise(problem, "backward")
    outcome = CallOutcome(outputs={name: np.asarray(returned[name], dtype=np.float64) for name in problem.grade})
    outputs = score_outputs(problem, ex.expected, outcome)
    return outputs, diagnose(ex, outputs, runs)


def submitted(mistake: str, problem: ScalarProblem, k: int = 3) -> dict:
    """What the example submission making `mistake` returns (truncating after k steps)."""
    module = SUBMISSIONS[mistake]
    if hasattr(module, "K"):
        module.K = k
    return module.backward(exercise(problem, "backward").arguments())


models = st.sampled_from(SMOOTH).flatmap(lambda theta: st.tuples(
    st.sampled_from(SMOOTH), st.just(theta),
    st.sampled_from(["squared_error", "mean_squared_error", "last_step_squared_error"]
                    + (["binary_cross_entropy"] if theta == "sigmoid" else []))))
params = st.floats(-1.5, 1.5)


@pytest.mark.parametrize("mistake", list(MISTAKES))
@settings(max_examples=25, deadline=None)
@given(models, params, params, params, st.integers(1, 25), st.integers(2, 24), st.integers(0, 2**32 - 1))
def test_grading_a_catalogue_mistake_diagnoses_it_wherever_it_shows(mistake, model, w, v, h0, T, k, seed):
    problem = make_problem(*model, w=w, v=v, h0=h0, T=T, seed=seed)
    with np.errstate(all="ignore"):     # a saturated θ makes ∂L/∂ŷ of cross-entropy 0/0
        correct, _ = graded(problem, CORRECT.backward(exercise(problem, "backward").arguments()))
        assume(all(o.passed for o in correct))
        outputs, diagnosis = graded(problem, submitted(mistake, problem, k))
    named = {(d.mistake, d.output, tuple(d.params.items())) for d in diagnosis}
    params = (("k", k),) if mistake == "truncated_recursion" else ()
    for o in outputs:
        if not o.passed:
            assert (mistake, o.name, params) in named, o.name


def test_a_shown_mistake_is_diagnosed_on_every_wrong_output_and_nothing_else_is():
    problem = make_problem()
    outputs, diagnosis = graded(problem, submitted("missing_recurrent_term", problem))
    assert [o.passed for o in outputs] == [False, False, False, False]
    assert diagnosis == tuple(Diagnosis("missing_recurrent_term", name, {}) for name in GRADE)


def test_mistakes_that_give_the_same_numbers_are_all_listed_as_indistinguishable():
    problem = make_problem(v=0.0)          # ∂L/∂s_{t+1}·v is then no recurrent term at all
    _, diagnosis = graded(problem, submitted("missing_recurrent_term", problem))
    ds = [d for d in diagnosis if d.output == "dL_ds"]
    assert ds == [Diagnosis("missing_recurrent_term", "dL_ds", {}, ("recurrence_uses_v",)),
                  Diagnosis("recurrence_uses_v", "dL_ds", {}, ("missing_recurrent_term",))]


def test_a_wrong_output_outside_the_catalogue_gets_no_diagnosis():
    problem = make_problem()
    returned = backward(problem.rnn, problem.forward())
    returned["dL_ds"] = np.clip(returned["dL_ds"], -0.05, 0.05)
    outputs, diagnosis = graded(problem, returned)
    assert not outputs[0].passed and diagnosis == ()


@pytest.mark.parametrize("scale, diagnosed", [(0.9, ["nonzero_boundary"]), (1.1, [])])
def test_a_mistake_is_named_only_within_the_problems_tolerance(scale, diagnosed):
    tolerance = Tolerance(rtol=1e-4, atol=0.0)
    problem = make_problem(tolerance=tolerance)
    returned = submitted("nonzero_boundary", problem)
    returned["dL_ds"] = returned["dL_ds"] * (1 + scale * tolerance.rtol)     # off by 0.9 or 1.1 × rtol
    _, diagnosis = graded(problem, returned)
    assert [d.mistake for d in diagnosis if d.output == "dL_ds"] == diagnosed


def test_a_variant_that_passes_the_problem_itself_is_no_diagnosis():
    tolerance = Tolerance(rtol=1e-6, atol=0.0)
    expected, variant, got = np.array([1.0]), np.array([[1.0 + 0.9e-6]]), np.array([1.0 + 1.8e-6])
    assert matching(variant, got, expected, tolerance).tolist() == [False]       # within rtol of expected
    assert matching(variant + 0.9e-6, got + 0.9e-6, expected, tolerance).tolist() == [True]


def test_a_recursion_mistake_is_not_named_for_a_wrong_sum_of_a_right_dL_ds():
    # only the last step's loss: BPTT cut after T − 1 steps changes ∂L/∂s_t at t = 1 only, so its
    # ∂L/∂w is the correct sum without the term ∂L/∂s_1·h_0 — what a sum skipping t = 1 returns
    problem = make_problem("softplus", "sin", "last_step_squared_error", w=0.7, v=-0.9, h0=0.2, T=10)
    returned = backward(problem.rnn, problem.forward())
    returned["dL_dw"] = returned["dL_dw"] - returned["dL_ds"][0] * problem.h0
    truncated = MISTAKES["truncated_recursion"].run(problem.rnn, problem.forward(), returned).of({"k": 9})
    assert np.isclose(truncated["dL_dw"], returned["dL_dw"], rtol=1e-6, atol=1e-9)
    outputs, diagnosis = graded(problem, returned)
    assert [o.passed for o in outputs] == [True, False, True, True] and diagnosis == ()
    del problem.grade["dL_ds"]                                  # the right ∂L/∂v rules it out too
    assert graded(problem, returned)[1] == ()
    del problem.grade["dL_dv"], problem.grade["dL_dh0"]         # nothing does
    _, diagnosis = graded(problem, returned)
    assert [(d.mistake, d.output, d.params) for d in diagnosis] == [("truncated_recursion", "dL_dw", {"k": 9})]


def test_a_mistake_in_one_sum_is_named_beside_the_other_right_sums():
    problem = make_problem()
    returned = backward(problem.rnn, problem.forward())
    returned["dL_dw"] = returned["dL_ds"][0] * problem.h0       # = where += belongs; ∂L/∂v, ∂L/∂h_0 right
    _, diagnosis = graded(problem, returned)
    assert [(d.mistake, d.output) for d in diagnosis] == [("dw_not_accumulated", "dL_dw")]


def result(id: str, wrong: dict[str, list[tuple[str, dict]]]) -> ProblemResult:
    """A failing problem whose wrong outputs are diagnosed as `wrong` says (output → mistakes)."""
    outputs = tuple(OutputResult(name, name, 1, False, Unusable("is wrong")) for name in wrong)
    diagnosis = tuple(Diagnosis(m, name, params) for name, found in wrong.items() for m, params in found)
    return ProblemResult(id, id, "visible", 3, "failed", "", 1, outputs, diagnosis=diagnosis)


def test_across_problems_names_the_mistake_with_the_same_params_that_explains_every_wrong_output():
    problems = (result("a", {"dL_ds": [("truncated_recursion", {"k": 3}), ("missing_local_term", {})],
                             "dL_dw": [("truncated_recursion", {"k": 3})]}),
                result("b", {"dL_ds": [("truncated_recursion", {"k": 3}), ("truncated_recursion", {"k": 4})]}))
    assert [(a.mistake, a.params, a.problems) for a in across_problems(problems)] == [
        ("truncated_recursion", {"k": 3}, ("a", "b"))]


def test_across_problems_is_empty_when_one_wrong_output_is_unexplained():
    problems = (result("a", {"dL_ds": [("nonzero_boundary", {})], "dL_dv": []}),
                result("b", {"dL_ds": [("nonzero_boundary", {})]}))
    assert across_problems(problems) == ()


def test_across_problems_needs_two_failing_problems():
    assert across_problems((result("a", {"dL_ds": [("nonzero_boundary", {})]}),)) == ()


def test_a_kept_mistake_run_serves_the_next_submission_without_running_it_again(monkeypatch):
    problem = make_problem()
    returned = submitted("missing_recurrent_term", problem)
    runs = MistakeRuns()
    outputs, first = graded(problem, returned, runs)
    assert [o.passed for o in outputs] == [False] * len(GRADE)
    assert len(runs) == len([m for m in MISTAKES.values() if set(m.outputs) & set(GRADE)])

    def must_not_run(*args):
        raise AssertionError("ran again")
    monkeypatch.setattr(type(MISTAKES["missing_recurrent_term"]), "run", must_not_run)
    assert graded(problem, returned, runs)[1] == first
    assert "missing_recurrent_term" in {d.mistake for d in first}
