"""grader.loader.load for vector problems and the cs231n and coursera contracts:
the issue's own example, sizes, random draws, and every check beyond the schema."""
import tracemalloc

import numpy as np
import pytest

from grader.contracts import CONTRACTS
from grader.loader import load
from grader.problem_data import Drawn
from grader.problem_set import VectorProblem
from reference.vector import Sizes
from tests.conftest import error_for, where, write

# The issue's cs231n example, with numbers in place of its ellipses: N = 2, T = 2, D = 3, H = 2.
EXAMPLE = """\
schema_version: 1
title: CS231n RNN
contract: cs231n
problems:
  - id: small-explicit
    points: 10
    model: {phi: tanh, loss: upstream}
    params: {Wx: [[0.1, 0.2], [0.3, -0.1], [0.0, 0.5]], Wh: [[0.5, -0.3], [0.2, 0.4]], b: [0.1, -0.1],
             h0: [[0.0, 0.1], [0.2, -0.2]]}
    data: {x: [[[1, 2, 3], [0.5, -1, 0.2]], [[-1, 0, 1], [0.3, 0.3, 0.3]]],
           dh: [[[1, 0], [0, 1]], [[0.5, 0.5], [-1, 1]]]}
    grade: {h: 2, dx: 2, dh0: 1, dWx: 2, dWh: 2, db: 1}
"""

# Line 6: model; line 7: params; line 9: data; line 11: grade.
RANDOM = """\
schema_version: 1
title: random
contract: CONTRACT
problems:
  - id: p
    points: 4
    sizes: {N: 3, T: 4, D: 5, H: 2, O: 3}
    model: {loss: LOSS}
    params: {random: {seed: 7, scale: 0.5}}
    data: {random: {seed: 9}}
    grade: GRADE
"""
GRADES = {"cs231n": "{h: 1, dx: 1, dWx: 1, dWh: 1}", "coursera": "{a: 1, dx: 1, dWax: 1, dWaa: 1}",
          "trace": "{dL_ds: 1, dL_dx: 1, dL_dWx: 1, dL_dWh: 1}"}


def random_set(contract="cs231n", loss="upstream", **replace) -> str:
    text = RANDOM.replace("CONTRACT", contract).replace("LOSS", loss).replace("GRADE", GRADES[contract])
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_the_issue_example_loads_with_sizes_from_its_arrays(tmp_path):
    problem_set = load(write(tmp_path, EXAMPLE))
    problem = problem_set.problems[0]
    assert problem_set.contract == "cs231n" and isinstance(problem, VectorProblem)
    assert (problem.contract, problem.kind, problem.phi, problem.theta, problem.loss) == (
        "cs231n", "sequence", "tanh", None, "upstream")
    assert (problem.sizes.N, problem.sizes.T, problem.sizes.D, problem.sizes.H, problem.sizes.O) == (2, 2, 3, 2, None)
    assert problem.params.Wh.tolist() == [[0.5, -0.3], [0.2, 0.4]]
    assert problem.target.tolist() == [[[1, 0], [0, 1]], [[0.5, 0.5], [-1, 1]]]
    assert list(problem.grade) == ["h", "dx", "dh0", "dWx", "dWh", "db"]


def test_arrays_are_read_only(tmp_path):
    problem = load(write(tmp_path, EXAMPLE)).problems[0]
    for array in (problem.x, problem.target, problem.params.Wx, problem.params.h0):
        assert not array.flags.writeable


def test_omitted_b_and_h0_are_zero_and_phi_is_tanh(tmp_path):
    text = EXAMPLE.replace(", b: [0.1, -0.1],\n             h0: [[0.0, 0.1], [0.2, -0.2]]}", "}")
    problem = load(write(tmp_path, text.replace("phi: tanh, ", ""))).problems[0]
    assert problem.phi == "tanh"
    assert problem.params.b.tolist() == [0.0, 0.0] and problem.params.h0.tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_random_params_are_drawn_in_the_documented_order(tmp_path):
    problem = load(write(tmp_path, random_set("coursera"))).problems[0]
    rng = np.random.default_rng(7)
    for name, shape in [("Wx", (5, 2)), ("Wh", (2, 2)), ("b", (2,)), ("h0", (3, 2)), ("Wy", (2, 3)), ("by", (3,))]:
        assert np.array_equal(getattr(problem.params, name), rng.normal(0, 0.5, shape)), name


def test_random_upstream_data_is_x_then_dh(tmp_path):
    problem = load(write(tmp_path, random_set())).problems[0]
    rng = np.random.default_rng(9)
    assert np.array_equal(problem.x, rng.normal(0, 1, (3, 4, 5)))
    assert np.array_equal(problem.target, rng.normal(0, 1, (3, 4, 2)))
    assert problem.params.Wy is None


def test_random_data_is_kept_as_its_seed_and_sizes_not_as_arrays(tmp_path):
    problem = load(write(tmp_path, random_set(loss="softmax_cross_entropy"))).problems[0]
    assert problem.data == Drawn(seed=9, shape=(3, 4, 5), target_shape=(3, 4, 3), theta="identity",
                                 loss="softmax_cross_entropy")


def test_a_loaded_random_problem_holds_less_memory_than_its_x(tmp_path):
    path = write(tmp_path, random_set(**{"N: 3, T: 4, D: 5": "N: 8, T: 500, D: 128"}))
    load(path)                                  # the schema and the caches, once
    tracemalloc.start()
    try:
        problem_set = load(path)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problem_set.problems[0].data.shape == (8, 500, 128)
    assert held < 8 * 500 * 128 * 8 // 4       # a quarter of x's 4,096,000 bytes


def test_drawn_vector_data_is_the_same_on_every_draw(tmp_path):
    problem = load(write(tmp_path, random_set())).problems[0]
    rng = np.random.default_rng(9)
    expected = rng.normal(0, 1, (3, 4, 5)), rng.normal(0, 1, (3, 4, 2))
    for x, dh in (problem.data.arrays(), problem.data.arrays(), (problem.x, problem.target)):
        assert np.array_equal(x, expected[0]) and np.array_equal(dh, expected[1])


def test_sizes_of_drawn_data_are_known_without_drawing(tmp_path, monkeypatch):
    problem = load(write(tmp_path, random_set(loss="softmax_cross_entropy"))).problems[0]
    monkeypatch.setattr(Drawn, "arrays", lambda self: pytest.fail("drew the data"))
    assert (problem.T, problem.sizes, problem.dimensions) == (
        4, Sizes(N=3, T=4, D=5, H=2, O=3), {"N": 3, "T": 4, "D": 5, "H": 2})


def test_random_targets_of_softmax_cross_entropy_are_one_hot(tmp_path):
    problem = load(write(tmp_path, random_set(loss="softmax_cross_entropy"))).problems[0]
    assert problem.target.shape == (3, 4, 3)
    assert set(problem.target.ravel()) == {0.0, 1.0} and (problem.target.sum(axis=-1) == 1).all()


def test_a_trace_set_holds_scalar_and_vector_problems(tmp_path):
    scalar = ("  - id: s\n    points: 1\n    model: {phi: tanh, theta: identity, loss: squared_error}\n"
              "    params: {w: 0.5, v: 1.0}\n    data: {x: [1.0], y: [0.0]}\n    grade: {dL_ds: 1}\n")
    problems = load(write(tmp_path, random_set("trace") + scalar)).problems
    assert [p.kind for p in problems] == ["sequence", "scalar"]


def test_a_step_problem_is_graded_by_the_step_call(tmp_path):
    text = random_set("cs231n", **{"T: 4": "T: 1", "    sizes": "    step: true\n    sizes",
                                   GRADES["cs231n"]: "{next_h: 1, dprev_h: 1, dWx: 1, dWh: 1}"})
    assert load(write(tmp_path, text)).problems[0].kind == "step"


@pytest.mark.parametrize("text, field, line, column, message", [
    pytest.param(random_set(**{"contract: cs231n": "contract: cs231"}), "contract", 3, 11,
                 f"'cs231' is not one of {list(CONTRACTS)}", id="unknown-contract"),
    pytest.param(random_set(**{"{h: 1,": "{dL_ds: 1,"}), "problems[0].grade", 11, 13,
                 "'dL_ds' is not an output of the cs231n contract for a vector problem: grade some of "
                 "['h', 'dx', 'dh0', 'dWx', 'dWh', 'db']", id="output-of-another-contract"),
    pytest.param(random_set(**{"contract: cs231n\n": "contract: cs231n\nentry_point: backward\n"}), "entry_point",
                 4, 14, "entry_point names the trace contract's function; cs231n submissions define "
                        "rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward", id="entry-point"),
    pytest.param(random_set(**{"    sizes: {N: 3, T: 4, D: 5, H: 2, O: 3}\n": ""}), "problems[0]", 5, 5,
                 "no size N: give sizes: {N, T, D, H} (needed to draw random params or data)", id="no-sizes"),
    pytest.param(random_set(**{"    sizes": "    step: true\n    sizes", GRADES["cs231n"]: "{next_h: 4}"}),
                 "problems[0].sizes.T", 8, 22,
                 "a step problem has one step, T = 1 (not 4)", id="step-of-four-steps"),
    pytest.param(random_set("trace", **{"    sizes": "    step: true\n    sizes"}), "problems[0].step", 7, 11,
                 "the trace contract has no single-step functions: leave out step (or use a contract that "
                 "has them, such as cs231n)", id="step-without-step-functions"),
    pytest.param(random_set(**{"{loss: upstream}": "{loss: upstream, theta: tanh}"}), "problems[0].model.theta",
                 8, 36, "the upstream loss scores h_t itself, so there is no output layer and no theta",
                 id="upstream-with-theta"),
    pytest.param(random_set(loss="binary_cross_entropy"), "problems[0].model.loss", 8, 19,
                 "binary_cross_entropy needs predictions in (0.0, 1.0), but theta 'identity' gives values in "
                 "(-inf, inf): use theta: sigmoid", id="default-theta-misfits-the-loss"),
])
def test_a_bad_vector_problem_is_reported_at_its_field(tmp_path, text, field, line, column, message):
    assert where(error_for(tmp_path, text)) == (field, line, column, message)


EXPLICIT = """\
schema_version: 1
title: explicit
contract: cs231n
problems:
  - id: p
    points: 2
    model: {loss: upstream}
    params: {Wx: [[1, 0], [0, 1], [1, 1]], Wh: [[0.5, 0], [0, 0.5]]}
    data: {x: [[[1, 2, 3]], [[4, 5, 6]]], dh: [[[1, 1]], [[1, 1]]]}
    grade: {h: 1, dWh: 1}
"""


@pytest.mark.parametrize("old, new, field, line, column, message", [
    pytest.param("[[1, 2, 3]], [[4, 5, 6]]", "[[1, 2, 3]], [[4, 5]]", "problems[0].data.x[1][0]", 9, 30,
                 "has 2 entries where x[0][0] has 3: an array must be rectangular", id="ragged"),
    pytest.param("Wh: [[0.5, 0], [0, 0.5]]", "Wh: [[0.5, 0, 1], [0, 0.5, 1]]", "problems[0].params.Wh", 8, 48,
                 "has shape (2, 3), not (H, H) = (2, 2): H = 2 from params.Wx", id="shape-against-another-array"),
    pytest.param("    model", "    sizes: {N: 2, T: 1, D: 3, H: 3}\n    model", "problems[0].params.Wx", 9, 18,
                 "has shape (3, 2), not (D, H) = (3, 3): H = 3 from sizes.H", id="shape-against-sizes"),
    pytest.param("dh: [[[1, 1]], [[1, 1]]]", "y: [[[1, 1]], [[1, 1]]]", "problems[0].data.y", 9, 46,
                 "y is not data for the upstream loss: give dh", id="y-for-upstream"),
    pytest.param("{loss: upstream}", "{loss: squared_error}", "problems[0].params", 8, 13,
                 "the output layer (ŷ_t = θ(h_t·Wy + by), or Coursera's y_pred) needs Wy (H, O)", id="no-Wy"),
    pytest.param("Wh: [[0.5, 0], [0, 0.5]]}", "Wh: [[0.5, 0], [0, 0.5]], Wy: [[1], [1]]}", "problems[0].params.Wy",
                 8, 74, "Wy belongs to an output layer, and this problem has none (the upstream loss, and a "
                        "contract that returns no y_pred)", id="unused-Wy"),
])
def test_explicit_arrays_must_fit(tmp_path, old, new, field, line, column, message):
    assert old in EXPLICIT
    assert where(error_for(tmp_path, EXPLICIT.replace(old, new))) == (field, line, column, message)


def test_softmax_targets_must_be_distributions(tmp_path):
    text = EXPLICIT.replace("{loss: upstream}", "{loss: softmax_cross_entropy}").replace(
        "Wh: [[0.5, 0], [0, 0.5]]}", "Wh: [[0.5, 0], [0, 0.5]], Wy: [[1, 0], [0, 1]]}").replace(
        "dh: [[[1, 1]], [[1, 1]]]", "y: [[[1, 0]], [[0.5, 0.6]]]")
    assert where(error_for(tmp_path, text)) == (
        "problems[0].data.y[1][0]", 9, 58, "is not a distribution over the 2 classes: softmax_cross_entropy needs "
                                           "one-hot rows or probabilities (≥ 0, summing to 1)")


def test_binary_labels_must_lie_in_the_label_range(tmp_path):
    text = EXPLICIT.replace("{loss: upstream}", "{loss: binary_cross_entropy, theta: sigmoid}").replace(
        "Wh: [[0.5, 0], [0, 0.5]]}", "Wh: [[0.5, 0], [0, 0.5]], Wy: [[1], [0]]}").replace(
        "dh: [[[1, 1]], [[1, 1]]]", "y: [[[1]], [[2]]]")
    assert where(error_for(tmp_path, text)) == (
        "problems[0].data.y[1][0][0]", 9, 56, "2 is not a label binary_cross_entropy accepts: labels lie in [0.0, 1.0]")


def test_output_layer_gradients_need_an_output_layer(tmp_path):
    text = random_set("trace", **{"{dL_ds: 1,": "{dL_dWy: 1,"})
    assert where(error_for(tmp_path, text)) == (
        "problems[0].grade", 11, 13, "dL_dWy is the output layer's, and the upstream loss has none")


def test_a_problem_too_large_to_hold_is_rejected(tmp_path):
    text = random_set(**{"N: 3, T: 4, D: 5, H: 2, O: 3": "N: 1000, T: 1000, D: 5, H: 2"})
    assert where(error_for(tmp_path, text)) == (
        "problems[0].sizes", 7, 12, "its arrays would hold 7,000,014 numbers, more than 5,000,000: "
                                    "make N, T, D, H or O smaller, or pass --max-numbers 7000014")


def test_a_scalar_problem_cannot_score_classes(tmp_path):
    text = ("schema_version: 1\ntitle: t\nproblems:\n  - id: s\n    points: 1\n"
            "    model: {phi: tanh, theta: identity, loss: softmax_cross_entropy}\n"
            "    params: {w: 0.5, v: 1.0}\n    data: {x: [1.0], y: [0.0]}\n    grade: {dL_ds: 1}\n")
    assert where(error_for(tmp_path, text)) == (
        "problems[0].model.loss", 6, 47,
        "softmax_cross_entropy scores O ≥ 2 classes per step, and the scalar "
        "model has one output: use it in a vector problem (with sizes: {N, T, D, H, O})")
