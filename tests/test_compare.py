"""Scoring returned outputs against the reference, without a process in between."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.compare import COMPARED_ELEMENTS, compare, diverges, first_divergence
from grader.problem_data import Given
from grader.problem_set import ScalarProblem, Tolerance
from grader.results import CallOutcome
from grader.scoring import score_outputs, summarise, usable_output
from reference.scalar import backward


def make_problem(T: int, seed: int = 0, **grade) -> ScalarProblem:
    rng = np.random.default_rng(seed)
    data = Given(rng.normal(size=T), rng.uniform(size=T))
    return ScalarProblem(id="p", title="p", points=10, visibility="visible", phi="tanh", theta="sigmoid",
                         loss="squared_error", w=0.9, v=-0.7, h0=0.2, data=data,
                         grade=grade or {"dL_ds": 6, "dL_dw": 2, "dL_dv": 2})


def reference_outcome(problem: ScalarProblem) -> tuple[dict, CallOutcome]:
    expected = backward(problem.rnn, problem.forward())
    outputs = {k: np.array(v, dtype=float) for k, v in expected.items()}
    return expected, CallOutcome(outputs=outputs)


def test_divergence_uses_atol_plus_rtol_times_expected():
    c = compare([1.0, 100.0, 0.0, 0.0], [1.0 + 2e-6, 100.0 + 9e-5, 2e-9, 0.5e-9],
                Tolerance(rtol=1e-6, atol=1e-9))
    assert c.diverging.tolist() == [True, False, True, False]


def test_nan_always_diverges():
    assert compare([1.0], [np.nan], Tolerance()).diverging.tolist() == [True]


@pytest.mark.parametrize("slack_shape", [(), (3, 1, 1), (1, 70_000, 1), (2,)])
def test_diverges_in_blocks_as_in_one_expression(slack_shape):
    """Blocks split the first two axes here (70,000·2 numbers per index of the first); an
    operand broadcast along a split axis is taken whole there."""
    rng = np.random.default_rng(3)
    expected = rng.normal(size=(3, 70_000, 2))
    got = expected + rng.normal(scale=1e-6, size=expected.shape)
    slack = rng.uniform(0, 2e-6, size=slack_shape)
    tolerance = Tolerance(rtol=1e-7, atol=1e-9)
    assert expected[0].size > COMPARED_ELEMENTS
    whole = ~(np.abs(got - expected) <= tolerance.atol + tolerance.rtol * np.abs(expected) + slack)
    assert whole.any() and not whole.all()
    assert np.array_equal(diverges(expected, got, tolerance, slack), whole)


@pytest.mark.parametrize("time_axis", [0, 1, 2])
def test_errors_read_in_blocks_are_those_of_one_expression(time_axis):
    """|error| comes a block of rows of the time axis at a time (70,000·2 numbers in all
    along it, several blocks): the largest error of each step, NaN where a step has one, and
    the element of largest error (NaN first, then the first of equal ones) are the whole's."""
    rng = np.random.default_rng(4)
    expected = rng.normal(size=(3, 70_000, 2))
    got = expected + rng.normal(size=expected.shape)
    got[1, 5, 0] = got[2, 60_000, 1] = np.nan
    c = compare(np.moveaxis(expected, 1, time_axis), np.moveaxis(got, 1, time_axis), Tolerance(), time_axis)
    errors = np.moveaxis(np.abs(got - expected), 1, time_axis)
    assert len(list(c.abs_error_parts())) > 2
    other_axes = tuple(axis for axis in range(3) if axis != time_axis)
    assert np.array_equal(c.step_errors, np.max(errors, axis=other_axes), equal_nan=True)
    assert c.largest_error_at() == tuple(np.unravel_index(np.argmax(np.isnan(errors)), errors.shape))


def test_a_passing_comparison_holds_no_array_of_its_size():
    c = compare(np.ones((40, 3000)), np.ones((40, 3000)), Tolerance())
    assert c.passed and c.diverging.shape == (40, 3000) and c.diverging.strides == (0, 0)


def test_first_divergence_is_the_largest_t():
    assert first_divergence(np.array([True, False, True, False])) == 3
    assert first_divergence(np.zeros(4, dtype=bool)) is None


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(0, 1000))
def test_the_reference_itself_scores_full_marks(T, seed):
    problem = make_problem(T, seed)
    expected, outcome = reference_outcome(problem)
    outputs = score_outputs(problem, expected, outcome)
    assert sum(o.score for o in outputs) == 10
    assert summarise(outputs) == ("passed", "every graded output matches")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 60), st.data())
def test_one_perturbed_timestep_is_the_first_divergence(T, data):
    t = data.draw(st.integers(1, T))
    problem = make_problem(T, seed=T)
    expected, outcome = reference_outcome(problem)
    outcome.outputs["dL_ds"][t - 1] += 1e-3 * (1 + abs(outcome.outputs["dL_ds"][t - 1]))
    (ds, dw, dv) = score_outputs(problem, expected, outcome)
    assert ds.comparison.first_divergence == t
    assert ds.comparison.diverging_timesteps == [t]
    assert (ds.score, dw.score, dv.score) == (0.0, 2, 2)
    assert summarise((ds, dw, dv)) == ("failed", f"dL_ds first diverges at t = {t}")


@pytest.mark.parametrize("raw, why", [
    (np.zeros(3), "has shape (3,), expected (4,)"),
    (np.zeros((4, 1)), "has shape (4, 1), expected (4,)"),
    (np.array([0.0, np.nan, 0.0, np.nan]), "is NaN at t = 2"),
    (np.array([0.0, 0.0, np.inf, 0.0]), "is infinite at t = 3"),
])
def test_unusable_per_timestep_outputs_say_why(raw, why):
    assert usable_output(raw, (4,)) == (None, why)


def test_a_scalar_may_come_as_one_element():
    got, why = usable_output(np.array([0.5]), ())
    assert why is None and got.shape == ()


def test_missing_and_unusable_outputs_make_an_error_with_partial_credit():
    problem = make_problem(5)
    expected, outcome = reference_outcome(problem)
    del outcome.outputs["dL_dw"]
    outcome.unusable["dL_dv"] = "is None"
    del outcome.outputs["dL_dv"]
    outputs = score_outputs(problem, expected, outcome)
    assert [o.score for o in outputs] == [6, 0.0, 0.0]
    assert summarise(outputs) == ("error", "dL_dw is missing; dL_dv is None")
