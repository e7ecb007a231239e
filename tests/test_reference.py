"""The reference BPTT against its definitions and the independent finite differences."""
import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from grader.reference_check import check_output
from reference import losses
from reference.activations import ACTIVATIONS, Activation
from reference.finite_diff import QUANTITIES, finite_differences, path_sums
from reference.losses import LOSSES
from reference.scalar import ScalarRNN, backward, forward

SMOOTH = [name for name, a in ACTIVATIONS.items() if not a.kinks]


def compatible(theta: str, loss: str) -> bool:
    """θ's range fits the loss, which scores one output per step (the scalar model's one)."""
    if LOSSES[loss].classes:
        return False
    wanted = LOSSES[loss].prediction_range
    got = ACTIVATIONS[theta].output_range
    return wanted is None or (wanted[0] <= got[0] and got[1] <= wanted[1])


def labels(loss: str, T: int, rng) -> np.ndarray:
    return rng.integers(0, 2, T).astype(float) if LOSSES[loss].label_range else rng.normal(size=T)


models = st.tuples(st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from(sorted(ACTIVATIONS)),
                   st.sampled_from(sorted(LOSSES))).filter(lambda m: compatible(m[1], m[2]))
# 0 or of moderate size: δ = 1e-20 times a subnormal parameter underflows
params = st.one_of(st.just(0.0), st.floats(1e-6, 1.5), st.floats(-1.5, -1e-6))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivative_matches_its_value(name):
    a = ACTIVATIONS[name]
    s = np.array([-2.3, -0.7, 0.4, 1.9])        # away from any kink
    numeric = (a.value(s + 1e-6) - a.value(s - 1e-6)) / 2e-6
    np.testing.assert_allclose(a.derivative(s), numeric, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_complex_step_of_every_activation_is_its_derivative(name):
    a = ACTIVATIONS[name]
    s = np.array([-30.0, -1.2, 0.3, 2.5, 30.0])     # away from any kink
    np.testing.assert_allclose(a.value(s + 1e-20j).imag / 1e-20, a.derivative(s), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name, s, exact", [
    ("tanh", 20.0, 4 * np.exp(-40.0) / (1 + np.exp(-40.0)) ** 2),
    ("sigmoid", -40.0, np.exp(-40.0) / (1 + np.exp(-40.0)) ** 2),
])
def test_saturated_derivatives_keep_their_relative_precision(name, s, exact):
    assert ACTIVATIONS[name].derivative(np.array([s, -s])) == pytest.approx([exact, exact], rel=1e-14)


def test_softplus_and_sigmoid_do_not_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert ACTIVATIONS["softplus"].value(np.array([1000.0]))[0] == 1000.0
        assert ACTIVATIONS["sigmoid"].value(np.array([-1000.0]))[0] == 0.0


def test_losses_are_the_documented_sums():
    y_hat, y = np.array([0.2, 0.7, 0.4]), np.array([0.0, 1.0, 1.0])
    assert losses.total(LOSSES["squared_error"], y_hat, y) == pytest.approx(0.5 * (0.04 + 0.09 + 0.36))
    assert losses.total(LOSSES["mean_squared_error"], y_hat, y) == pytest.approx((0.04 + 0.09 + 0.36) / 3)
    assert losses.total(LOSSES["last_step_squared_error"], y_hat, y) == pytest.approx(0.5 * 0.36)
    assert losses.total(LOSSES["binary_cross_entropy"], y_hat, y) == pytest.approx(
        -(np.log(0.8) + np.log(0.7) + np.log(0.4)))


def test_backward_matches_the_seed_recursion_by_hand():
    rnn = ScalarRNN.named("tanh", "identity", "squared_error")
    f = forward(rnn, 0.8, -0.5, 0.1, [0.5, -1.0], [0.1, 0.2])
    g = backward(rnn, f)
    ds2 = (f.y_hat[1] - 0.2) * 1.0 * (1 - np.tanh(f.s[1]) ** 2)            # ∂L/∂s_{T+1} = 0
    ds1 = ((f.y_hat[0] - 0.1) * 1.0 + ds2 * 0.8) * (1 - np.tanh(f.s[0]) ** 2)
    np.testing.assert_allclose(g["dL_ds"], [ds1, ds2], rtol=1e-15)
    assert g["dL_dw"] == pytest.approx(ds1 * 0.1 + ds2 * f.h[1], rel=1e-15)
    assert g["dL_dv"] == pytest.approx(ds1 * 0.5 - ds2, rel=1e-15)
    assert g["dL_dh0"] == pytest.approx(0.8 * ds1, rel=1e-15)


@settings(max_examples=60, deadline=None)
@given(models, params, params, params, st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_reference_agrees_with_finite_differences(model, w, v, h0, T, seed):
    rng = np.random.default_rng(seed)
    loss = model[2]
    rnn = ScalarRNN.named(*model)
    f = forward(rnn, w, v, h0, rng.normal(size=T), labels(loss, T, rng))
    ref = backward(rnn, f)
    assume(all(np.all(np.isfinite(value)) for value in ref.values()))   # ŷ rounded to 0 or 1
    estimates = finite_differences(rnn, f, tuple(QUANTITIES))
    scale = max(np.abs(value).max() for value in ref.values())
    for name, estimate in estimates.items():
        check = check_output(name, ref[name], estimate, scale)
        assert check.agrees, (name, check)
        if rnn.complex_step and np.all(rnn.loss.conditioning(f.y_hat) < 1e6):   # not saturated
            assert np.abs(estimate.value - ref[name]).max() <= 1e-7 * max(np.abs(ref[name]).max(), scale * 1e-5)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from(sorted(ACTIVATIONS)), params, params,
       st.integers(1, 30),
       st.integers(0, 2**32 - 1))
def test_complex_step_is_exact_to_rounding(phi, theta, w, v, T, seed):
    rng = np.random.default_rng(seed)
    rnn = ScalarRNN.named(phi, theta, "squared_error")
    f = forward(rnn, w, v, 0.3, rng.normal(size=T), rng.normal(size=T))
    ref = backward(rnn, f)["dL_ds"]
    estimate = finite_differences(rnn, f, ("dL_ds",))["dL_ds"]
    assert estimate.method == "complex_step"
    scale = np.abs(ref).max()
    assert np.abs(estimate.value - ref).max() <= 1e-12 * scale + 1e-300


def test_exploding_regime_stays_accurate():
    rnn = ScalarRNN.named("tanh", "identity", "squared_error")
    rng = np.random.default_rng(0)
    f = forward(rnn, 2.8, 0.1, 0.0, 0.05 * rng.normal(size=50), rng.normal(size=50))
    ref = backward(rnn, f)["dL_ds"]
    estimate = finite_differences(rnn, f, ("dL_ds",))["dL_ds"]
    assert np.abs(estimate.value - ref).max() / np.abs(ref).max() < 1e-12


@pytest.mark.parametrize("method", ["central", "richardson"])
def test_real_step_methods_report_an_honest_error(method):
    rnn = ScalarRNN.named("sin", "tanh", "mean_squared_error")
    rng = np.random.default_rng(4)
    f = forward(rnn, 0.9, -0.6, 0.2, rng.normal(size=15), rng.normal(size=15))
    ref = backward(rnn, f)
    for name, estimate in finite_differences(rnn, f, tuple(QUANTITIES), method).items():
        assert estimate.method == method
        assert np.all(np.abs(estimate.value - ref[name]) <= estimate.error), name


@pytest.mark.parametrize("phi, theta, loss", [m for m in itertools.product(ACTIVATIONS, ACTIVATIONS, LOSSES)
                                              if compatible(m[1], m[2])])
def test_chained_complex_steps_agree_with_the_whole_forward_complex_step(phi, theta, loss):
    rng = np.random.default_rng(7)
    rnn = ScalarRNN.named(phi, theta, loss)
    f = forward(rnn, 0.9, -0.7, 0.3, rng.normal(size=40), labels(loss, 40, rng))
    chained = finite_differences(rnn, f, tuple(QUANTITIES), "complex_step")
    full = finite_differences(rnn, f, tuple(QUANTITIES), "complex_step_full")
    scale = max(np.abs(estimate.value).max() for estimate in full.values())
    for name in QUANTITIES:
        assert (chained[name].method, full[name].method) == ("complex_step", "complex_step_full")
        assert np.abs(chained[name].value - full[name].value).max() <= 1e-13 * scale, name
        assert np.array_equal(chained[name].kink, full[name].kink), name
        if chained[name].per_step:      # the same rounding bound, 4·ε·√n·Σ_k c_k·|∂(weight_k·ℓ_k)/∂q|
            np.testing.assert_allclose(chained[name].error, full[name].error, rtol=1e-6)
        else:                           # its triangle-inequality bound
            assert chained[name].error >= full[name].error * (1 - 1e-6), name


@pytest.mark.parametrize("T", [1, 7, 8, 9, 70, 600])
def test_path_sums_are_the_sums_of_products_written_out(T):
    rng = np.random.default_rng(T)
    m, g = rng.normal(size=(T, 2)), rng.normal(size=(T, 2))
    expected = [[sum(g[k, i] * np.prod(m[t + 1:k + 1, i]) for k in range(t, T)) for i in range(2)] for t in range(T)]
    np.testing.assert_allclose(path_sums(m, g), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["complex_step", "complex_step_full", "richardson"])
def test_a_run_through_a_relu_kink_is_flagged_not_compared(method):
    rnn = ScalarRNN.named("relu", "identity", "squared_error")
    # s_1 = 0.5, so s_2 = w·h_1 + v·x_2 = 0.5 − 0.5 = 0: exactly on relu's kink
    f = forward(rnn, 1.0, 1.0, 0.0, [0.5, -0.5, 0.4], [0.0, 1.0, 0.0])
    assert f.s[1] == 0.0
    estimate = finite_differences(rnn, f, ("dL_ds",), method)["dL_ds"]
    assert estimate.method == method
    assert estimate.kink.tolist() == [True, True, False]
    check = check_output("dL_ds", backward(rnn, f)["dL_ds"], estimate)
    assert check.agrees and check.kink_timesteps == [2, 1]


@pytest.mark.parametrize("method", ["complex_step", "complex_step_full"])
def test_an_output_on_thetas_kink_is_flagged(method):
    rnn = ScalarRNN.named("identity", "relu", "squared_error")
    f = forward(rnn, 1.0, 1.0, 0.0, [0.5, -0.5, 0.4], [0.0, 1.0, 0.0])   # h_2 = 0: relu's kink
    estimates = finite_differences(rnn, f, ("dL_ds", "dL_dw"), method)
    assert estimates["dL_ds"].kink.tolist() == [True, True, False]
    assert estimates["dL_dw"].kink.tolist() is True


def test_a_real_step_that_crosses_a_kink_is_flagged():
    rnn = ScalarRNN.named("relu", "identity", "squared_error")
    # s_2 = 1e-5: a central difference with δ ≈ 7e-4 crosses relu's kink, the complex step does not
    f = forward(rnn, 1.0, 1.0, 0.0, [0.5, -0.5 + 1e-5, 0.4], [0.0, 1.0, 0.0])
    assert finite_differences(rnn, f, ("dL_ds",), "richardson")["dL_ds"].kink.tolist() == [True, True, False]
    assert finite_differences(rnn, f, ("dL_ds",), "complex_step")["dL_ds"].kink.tolist() == [False, False, False]


def test_unknown_method_is_refused():
    rnn = ScalarRNN.named("tanh", "identity", "squared_error")
    f = forward(rnn, 0.5, 0.5, 0.0, [1.0], [0.0])
    with pytest.raises(ValueError, match="unknown method 'forward'"):
        finite_differences(rnn, f, method="forward")


def test_an_activation_without_complex_input_falls_back_to_richardson():
    real_only = Activation("abs", np.abs, np.sign, complex_step=False, kinks=(0.0,))
    rnn = ScalarRNN(real_only, ACTIVATIONS["identity"], LOSSES["squared_error"])
    f = forward(rnn, 0.5, 0.5, 0.0, [1.0, 2.0], [0.0, 0.0])
    assert finite_differences(rnn, f)["dL_ds"].method == "richardson"
    with pytest.raises(ValueError, match="complex step needs φ and θ that take complex input"):
        finite_differences(rnn, f, method="complex_step")


def test_a_gradient_that_is_not_finite_disagrees():
    rnn = ScalarRNN.named("identity", "sigmoid", "binary_cross_entropy")
    with np.errstate(all="ignore"):
        f = forward(rnn, 1.0, 1.0, 0.0, [40.0], [0.0])        # ŷ_1 = σ(40) rounds to 1
        ref = backward(rnn, f)
        check = check_output("dL_ds", ref["dL_ds"], finite_differences(rnn, f, ("dL_ds",))["dL_ds"])
    assert not np.isfinite(ref["dL_ds"][0])
    assert (check.agrees, check.disagreeing_timesteps) == (False, [1])
