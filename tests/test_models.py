"""The one model interface (reference.models): the vector model with N = D = H = O = 1
(Wx = v, Wh = w, b = 0, Wy = 1, by = 0) is the scalar model, through every method the
grader uses — forward, values, the mistakes both catalogues name alike, the finite-difference
check — for every activation × loss; and the pure scoring core imports no process code."""
import ast
import itertools
from pathlib import Path

import numpy as np
import pytest

from reference import scalar, vector
from reference.activations import ACTIVATIONS
from reference.losses import LOSSES
from reference.models import MODELS, SCALAR, VECTOR
from tests.test_vector_reference import SCALAR_LOSSES, theta_for

ROOT = Path(__file__).resolve().parents[1]
GRADIENTS = {"dL_ds": "dL_ds", "dL_dh": "dL_dh", "dL_dx": "dL_dx", "dL_dWh": "dL_dw", "dL_dWx": "dL_dv",
             "dL_dh0": "dL_dh0"}        # vector name → scalar name
W, V, H0, T = 0.8, -0.6, 0.3, 7
PROCESS_MODULES = {"grader.runner", "grader.sandbox", "grader.zygote", "grader.child", "grader.channel",
                   "grader.filesystem_view", "grader.grading", "grader.batch", "grader.submissions",
                   "subprocess", "multiprocessing", "socket"}


def both_models(phi: str, theta: str, loss: str):
    """(scalar network, its forward pass, vector network, its forward pass) on the same data."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=T)
    y = rng.integers(0, 2, T).astype(float) if LOSSES[loss].label_range else rng.normal(size=T)
    rnn_s = SCALAR.network(phi, theta, loss)
    rnn_v = VECTOR.network(phi, theta, loss)
    params = vector.Params(np.array([[V]]), np.array([[W]]), np.zeros(1), np.array([[H0]]), np.ones((1, 1)),
                           np.zeros(1))
    f_s = SCALAR.forward(rnn_s, scalar.Params(W, V, H0), x, y)
    f_v = VECTOR.forward(rnn_v, params, x.reshape(1, T, 1), y.reshape(1, T, 1))
    return rnn_s, f_s, rnn_v, f_v


CASES = [(phi, theta_for(loss, theta), loss)
         for phi, theta, loss in itertools.product(sorted(ACTIVATIONS), sorted(ACTIVATIONS), SCALAR_LOSSES)
         if theta == theta_for(loss, theta)]


def test_both_models_are_registered():
    assert list(MODELS) == ["scalar", "vector"] and MODELS["scalar"] is SCALAR and MODELS["vector"] is VECTOR


@pytest.mark.parametrize("phi, theta, loss", CASES)
def test_the_vector_model_with_one_of_everything_is_the_scalar_model(phi, theta, loss):
    rnn_s, f_s, rnn_v, f_v = both_models(phi, theta, loss)
    assert pytest.approx(f_s.L, rel=1e-14) == f_v.L
    values_s, values_v = SCALAR.values(rnn_s, f_s), VECTOR.values(rnn_v, f_v)
    for vector_name, scalar_name in GRADIENTS.items():
        np.testing.assert_allclose(values_v[vector_name].ravel(), np.ravel(values_s[scalar_name]),
                                   rtol=1e-12, atol=1e-15, err_msg=vector_name)
    for mistake in SCALAR.mistakes.keys() & VECTOR.mistakes.keys():
        params = SCALAR.mistakes[mistake].audit_params          # the vector form's too (truncated_recursion: k)
        assert VECTOR.mistakes[mistake].audit_params == params
        got_s = SCALAR.mistakes[mistake].run(rnn_s, f_s, values_s).of(params)
        got_v = VECTOR.mistakes[mistake].run(rnn_v, f_v, values_v).of(params)
        assert (got_s is None) == (got_v is None), mistake
        for vector_name, scalar_name in GRADIENTS.items():
            if got_v is not None and got_s is not None and vector_name in got_v and scalar_name in got_s:
                np.testing.assert_allclose(got_v[vector_name].ravel(), np.ravel(got_s[scalar_name]),
                                           rtol=1e-12, atol=1e-15, err_msg=f"{mistake}: {vector_name}")


@pytest.mark.parametrize("phi, theta, loss", CASES)
def test_both_models_check_the_same_gradients_alike(phi, theta, loss):
    rnn_s, f_s, rnn_v, f_v = both_models(phi, theta, loss)
    checked_s = SCALAR.gradient_check(rnn_s, f_s, "auto", SCALAR.directions(f_s, None))
    checked_v = VECTOR.gradient_check(rnn_v, f_v, "auto", VECTOR.directions(f_v, None))
    assert VECTOR.directions(f_v, None) is None       # one of everything: checked element by element
    for vector_name, scalar_name in GRADIENTS.items():
        estimate_s, estimate_v = checked_s[scalar_name].estimate, checked_v[vector_name].estimate
        np.testing.assert_allclose(np.ravel(checked_v[vector_name].reference),
                                   np.ravel(checked_s[scalar_name].reference), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.ravel(estimate_v.value), np.ravel(estimate_s.value), rtol=1e-9, atol=1e-12,
                                   err_msg=vector_name)
        assert estimate_s.per_step == estimate_v.per_step == (vector_name in vector.PER_STEP)


def imports_of(module: str) -> set[str]:
    """The modules `module` (a dotted name under ROOT) imports, by absolute name."""
    tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imported_closure(module: str) -> set[str]:
    """Every project module `module` imports, directly or not, and the outside modules they name."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [m for m in imports_of(name) if m.split(".")[0] in ("grader", "reference")
                 and (ROOT / (m.replace(".", "/") + ".py")).exists()]
        seen.update(m for m in imports_of(name) if m.split(".")[0] not in ("grader", "reference"))
    return seen


def test_scoring_imports_no_process_code():
    closure = imported_closure("grader.scoring") | imported_closure("grader.diagnosis")
    assert closure & PROCESS_MODULES == set()
    assert "grader.results" in closure and "grader.compare" in closure     # the walk itself works


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_each_models_term_sums_of_its_own_dL_ds_are_its_gradients(model_name):
    """The per-term check's sums (Model.term_sums) rebuild every gradient they name from the
    correct ∂L/∂s_t, in the gradient's shape; and the models agree term by term at N = D = H = 1."""
    rnn_s, f_s, rnn_v, f_v = both_models("tanh", "sigmoid", "squared_error")
    model, rnn, f = (SCALAR, rnn_s, f_s) if model_name == "scalar" else (VECTOR, rnn_v, f_v)
    values = model.values(rnn, f)
    sums = model.term_alternatives(f, values["dL_ds"])
    assert list(sums) == list(model.term_sums)
    for name, alternatives in sums.items():
        assert alternatives.value.shape == np.shape(values[name]), name
        np.testing.assert_allclose(alternatives.value, values[name], rtol=1e-12, atol=1e-15, err_msg=name)
    scalar_sums = SCALAR.term_alternatives(f_s, SCALAR.values(rnn_s, f_s)["dL_ds"])
    vector_sums = VECTOR.term_alternatives(f_v, VECTOR.values(rnn_v, f_v)["dL_ds"])
    for vector_name, scalar_name in GRADIENTS.items():
        if scalar_name in SCALAR.term_sums:
            assert list(scalar_sums[scalar_name].labels) == list(vector_sums[vector_name].labels)
            np.testing.assert_allclose(scalar_sums[scalar_name].alternatives.ravel(),
                                       vector_sums[vector_name].alternatives.ravel(), rtol=1e-12, atol=1e-15)
