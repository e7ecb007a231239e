"""The catalogue of classic mistakes: each entry changes what it says, and only that."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.activations import ACTIVATIONS
from reference.mistakes import (
    AUDITED_K,
    MISTAKES,
    SWEEP_ELEMENTS,
    backward_at_once,
    same_up_to_rounding,
    solve_backwards,
)
from reference.scalar import CORRECT_BPTT, ScalarRNN, backward, bptt_step, forward
from tests.conftest import ROOT

ISSUE_IDS = ["output_derivative_uses_phi", "missing_recurrent_term", "activation_derivative_at_h",
             "nonzero_boundary", "recurrent_term_skips_phi_prime", "recurrence_uses_v",
             "loss_derivative_sign", "missing_local_term", "truncated_recursion", "dw_uses_h_t",
             "dw_not_accumulated", "dv_uses_h"]


def generic_problem(T: int = 7):
    """φ ≠ θ, neither identity nor relu-like, w ∉ {0, 1}, v ≠ w, every step's loss counts."""
    rng = np.random.default_rng(1)
    rnn = ScalarRNN.named("tanh", "sigmoid", "squared_error")
    return rnn, forward(rnn, 0.9, -0.6, 0.3, rng.normal(size=T), rng.uniform(size=T))


def test_the_catalogue_has_every_id_the_issue_names():
    assert set(ISSUE_IDS) <= set(MISTAKES)


def test_the_readme_tables_every_catalogue_mistake():
    rows = [line.split("`")[1] for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("| `") and line.split("`")[1] in MISTAKES]
    assert rows == list(MISTAKES)


@pytest.mark.parametrize("mistake", MISTAKES.values(), ids=list(MISTAKES))
def test_a_mistake_changes_exactly_the_outputs_it_declares(mistake):
    rnn, f = generic_problem()
    reference = backward(rnn, f)
    variant = mistake.run(rnn, f, reference).of(mistake.audit_params)
    changed = [name for name in reference if not np.allclose(variant[name], reference[name], rtol=1e-9, atol=0)]
    assert changed == list(mistake.outputs)


def test_solve_backwards_runs_the_affine_recursion_from_the_boundary():
    # x_3 = 1 + 4·5 = 21, x_2 = 1 + 3·21 = 64, x_1 = 1 + 2·64 = 129
    assert solve_backwards(np.array([2.0, 3.0, 4.0]), np.ones(3), 5.0).tolist() == [129.0, 64.0, 21.0]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from(["identity", "tanh", "sin"]),
       st.floats(-1.5, 1.5), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_the_recursion_solved_at_once_is_the_reference_loop(phi, theta, w, T, seed):
    rng = np.random.default_rng(seed)
    rnn = ScalarRNN.named(phi, theta, "squared_error")
    f = forward(rnn, w, 0.8, 0.3, rng.normal(size=T), rng.normal(size=T))
    reference, at_once = backward(rnn, f), backward_at_once(rnn, f, CORRECT_BPTT)
    assert all(same_up_to_rounding(at_once[name], reference[name]) for name in reference)


def test_truncated_recursion_is_the_seed_step_with_the_recursion_one_level_shorter():
    rnn, f = generic_problem(T=9)
    dy, dtheta = CORRECT_BPTT.loss_gradient(rnn, f), CORRECT_BPTT.output_derivative(rnn, f)
    dphi = CORRECT_BPTT.state_derivative(rnn, f)
    variants = MISTAKES["truncated_recursion"].run(rnn, f, backward(rnn, f))
    assert variants.params == tuple({"k": k} for k in range(2, 9))
    level = np.zeros(9)                                       # ∂L/∂s^(0) = 0
    for k in range(1, 10):
        level = bptt_step(dy, dtheta, np.append(level[1:], 0.0), f.w, dphi)   # ∂L/∂s^(k)
        if 2 <= k <= 8:
            np.testing.assert_allclose(variants.of({"k": k})["dL_ds"], level, rtol=1e-13)
    np.testing.assert_allclose(level, backward(rnn, f)["dL_ds"], rtol=1e-13)   # k = T: the seed itself


@pytest.mark.parametrize("T, k_max", [(181, 180), (1024, 32), (SWEEP_ELEMENTS, AUDITED_K)])
def test_truncated_recursion_sweeps_k_up_to_its_element_budget_and_always_the_audited_k(T, k_max):
    rnn, f = generic_problem(T)
    assert MISTAKES["truncated_recursion"].run(rnn, f, backward(rnn, f)).params[-1] == {"k": k_max}


def test_an_overflowing_mistake_gives_inf_without_a_warning():
    rnn = ScalarRNN.named("identity", "identity", "squared_error")
    f = forward(rnn, 0.5, 1e200, 1.0, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])    # ∂L/∂s_{t+1}·v explodes
    with np.errstate(all="raise"):
        variant = MISTAKES["recurrence_uses_v"].run(rnn, f, backward(rnn, f)).of({})
    assert np.isinf(variant["dL_ds"][0])


# Problems drawn from few values, so that blind spots (φ = θ, T = 1, w = 0, v = w, …) occur often
blind_spot_problems = st.tuples(
    st.sampled_from(["identity", "tanh", "relu", "leaky_relu", "sin"]),
    st.sampled_from(["identity", "tanh", "sin"]),
    st.sampled_from(["squared_error", "last_step_squared_error"]),
    st.sampled_from([0.0, 1.0, 0.7]), st.sampled_from([0.7, -0.4]), st.integers(1, 5), st.integers(0, 2**32 - 1))


@settings(max_examples=120, deadline=None)
@given(blind_spot_problems)
def test_where_a_blind_spot_applies_the_mistake_changes_nothing(problem):
    phi, theta, loss, w, v, T, seed = problem
    rng = np.random.default_rng(seed)
    rnn = ScalarRNN.named(phi, theta, loss)
    f = forward(rnn, w, v, 0.4, rng.normal(size=T), rng.normal(size=T))
    reference = backward(rnn, f)
    for mistake in MISTAKES.values():
        if mistake.blind_spot(rnn, f):
            variant = mistake.run(rnn, f, reference).of(mistake.audit_params)
            unchanged = variant is None or all(same_up_to_rounding(variant[n], reference[n]) for n in reference)
            assert unchanged, mistake.id


@pytest.mark.parametrize("T, reason", [(AUDITED_K, f"T ≤ {AUDITED_K}"), (AUDITED_K + 1, None)])
def test_truncation_is_audited_at_k_3_which_needs_more_than_3_steps(T, reason):
    rnn, f = generic_problem(T)
    mistake = MISTAKES["truncated_recursion"]
    assert mistake.audit_params == {"k": 3}
    assert mistake.blind_spot(rnn, f) == reason
    assert (mistake.run(rnn, f, backward(rnn, f)).of(mistake.audit_params) is None) == (reason is not None)
