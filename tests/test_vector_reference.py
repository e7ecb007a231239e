"""The vector reference: its scalar special case, the maths by hand, and agreement with
the directional and element-wise finite differences for every activation and loss."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.reference_check import check_output
from reference import scalar
from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, softmax
from reference.vector import UPSTREAM, Params, VectorRNN, backward, forward
from reference.vector_finite_diff import QUANTITIES, checkable, finite_differences, real_gemm

SCALAR_LOSSES = [name for name, loss in LOSSES.items() if not loss.classes]


def targets(rnn: VectorRNN, rng, N, T, H, O) -> np.ndarray:
    """dh for the upstream loss, else labels the loss accepts."""
    if rnn.upstream:
        return rng.normal(size=(N, T, H))
    if rnn.loss.classes:
        return np.eye(O)[rng.integers(0, O, (N, T))]
    if rnn.loss.label_range:
        return rng.integers(0, 2, (N, T, O)).astype(float)
    return rng.normal(size=(N, T, O))


def theta_for(loss: str, theta: str) -> str:
    """θ itself, or sigmoid where the loss needs predictions in (0, 1)."""
    return "sigmoid" if loss != UPSTREAM and LOSSES[loss].prediction_range else theta


def instance(phi, loss, theta, N, T, D, H, O, seed, scale=0.6):
    rng = np.random.default_rng(seed)
    rnn = VectorRNN.named(phi, loss, theta_for(loss, theta))
    output = () if rnn.upstream else (rng.normal(0, scale, (H, O)), rng.normal(0, scale, O))
    params = Params(rng.normal(0, scale, (D, H)), rng.normal(0, scale, (H, H)), rng.normal(0, scale, H),
                    rng.normal(0, scale, (N, H)), *output)
    return rnn, forward(rnn, params, rng.normal(size=(N, T, D)), targets(rnn, rng, N, T, H, O))


def agrees_with_finite_differences(rnn, f, directions):
    ref = backward(rnn, f)
    estimates = finite_differences(rnn, f, directions=directions)
    projected = {name: estimate.along(ref[name]) for name, estimate in estimates.items()}
    scale = max(np.abs(value).max() for value in projected.values())
    return {name: check_output(name, projected[name], estimate, scale)
            for name, estimate in estimates.items()}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from(SCALAR_LOSSES),
       st.floats(-1.5, 1.5), st.floats(-1.5, 1.5), st.floats(-1, 1), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_the_scalar_model_is_the_vector_model_with_one_of_everything(phi, theta, loss, w, v, h0, T, seed):
    theta = theta_for(loss, theta)
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=T), (rng.integers(0, 2, T).astype(float) if LOSSES[loss].label_range else rng.normal(size=T))
    rnn, vector_rnn = scalar.ScalarRNN.named(phi, theta, loss), VectorRNN.named(phi, loss, theta)
    params = Params(np.array([[v]]), np.array([[w]]), np.zeros(1), np.array([[h0]]), np.ones((1, 1)), np.zeros(1))
    with np.errstate(divide="ignore", invalid="ignore"):    # a saturated θ: cross-entropy's 0/0 in both
        expected = scalar.backward(rnn, scalar.forward(rnn, w, v, h0, x, y))
        got = backward(vector_rnn, forward(vector_rnn, params, x.reshape(1, T, 1), y.reshape(1, T, 1)))
    # sums such as Σ_t ∂L/∂s_t·x_t may cancel to ~1e-16, where summation order decides the digits
    cancellation = 1e-15 * np.nansum(np.abs(expected["dL_ds"])) * max(1.0, np.abs(x).max(), abs(w), abs(v))
    for vector_name, scalar_name in [("dL_ds", "dL_ds"), ("dL_dh", "dL_dh"), ("dL_dx", "dL_dx"),
                                     ("dL_dWh", "dL_dw"), ("dL_dWx", "dL_dv"), ("dL_dh0", "dL_dh0")]:
        np.testing.assert_allclose(got[vector_name].ravel(), np.ravel(expected[scalar_name]), rtol=1e-13,
                                   atol=cancellation if np.isfinite(cancellation) else 1e-300)


def test_backward_matches_the_recursion_by_hand():
    rnn = VectorRNN.named("tanh", UPSTREAM)
    Wx, Wh, b, h0 = np.array([[0.5, -0.2]]), np.array([[0.3, 0.1], [-0.4, 0.2]]), np.array([0.1, 0.0]), np.zeros((1, 2))
    x, dh = np.array([[[1.0], [-2.0]]]), np.array([[[0.5, 1.0], [-1.0, 2.0]]])
    f = forward(rnn, Params(Wx, Wh, b, h0), x, dh)
    g = backward(rnn, f)
    s1 = x[0, 0] @ Wx + b
    s2 = x[0, 1] @ Wx + np.tanh(s1) @ Wh + b
    ds2 = dh[0, 1] * (1 - np.tanh(s2) ** 2)                          # ∂L/∂s_{T+1} = 0
    ds1 = (dh[0, 0] + ds2 @ Wh.T) * (1 - np.tanh(s1) ** 2)
    np.testing.assert_allclose(g["dL_ds"][0], [ds1, ds2], rtol=1e-15)
    np.testing.assert_allclose(g["dL_dWh"], np.outer(np.tanh(s1), ds2), rtol=1e-15)
    np.testing.assert_allclose(g["dL_dWx"], np.outer(x[0, 0], ds1) + np.outer(x[0, 1], ds2), rtol=1e-15)
    np.testing.assert_allclose(g["dL_db"], ds1 + ds2, rtol=1e-15)
    np.testing.assert_allclose(g["dL_dh0"][0], ds1 @ Wh.T, rtol=1e-15)
    assert pytest.approx(dh[0, 0] @ np.tanh(s1) + dh[0, 1] @ np.tanh(s2), rel=1e-15) == f.L


def test_softmax_cross_entropy_is_minus_the_log_probability_of_the_label():
    loss = LOSSES["softmax_cross_entropy"]
    z, y = np.array([[2.0, -1.0, 0.5]]), np.array([[0.0, 0.0, 1.0]])
    assert loss.term(z, y)[0] == pytest.approx(-np.log(softmax(z)[0, 2]), rel=1e-15)
    np.testing.assert_allclose(loss.term_derivative(z, y), softmax(z) - y, rtol=1e-15)
    assert loss.term(np.array([[1000.0, 0.0]]), np.array([[1.0, 0.0]]))[0] == 0.0    # no overflow


@pytest.mark.parametrize("phi", sorted(ACTIVATIONS))
@settings(max_examples=12, deadline=None)
@given(loss=st.sampled_from([UPSTREAM, *LOSSES]), theta=st.sampled_from(sorted(ACTIVATIONS)),
       sizes=st.tuples(*[st.integers(1, 4)] * 4, st.integers(2, 3)), seed=st.integers(0, 2**32 - 1))
def test_reference_agrees_with_directional_finite_differences(phi, loss, theta, sizes, seed):
    rnn, f = instance(phi, loss, theta, *sizes, seed)
    for name, check in agrees_with_finite_differences(rnn, f, directions=3).items():
        assert check.agrees, (name, check)


@pytest.mark.parametrize("loss", [UPSTREAM, *LOSSES])
def test_reference_agrees_with_elementwise_finite_differences(loss):
    rnn, f = instance("tanh", loss, "tanh", 3, 5, 4, 3, 3, seed=11)
    checks = agrees_with_finite_differences(rnn, f, directions=None)
    assert sorted(checks) == sorted(checkable(rnn))
    assert all(check.agrees and check.relative_error < 1e-12 for check in checks.values()), checks


def test_elementwise_estimates_are_the_gradient_itself():
    rnn, f = instance("sin", "squared_error", "tanh", 2, 4, 3, 3, 2, seed=5)
    ref = backward(rnn, f)
    estimates = finite_differences(rnn, f, ("dL_ds", "dL_dWh"), directions=None)
    np.testing.assert_allclose(estimates["dL_ds"].value, np.swapaxes(ref["dL_ds"], 0, 1).reshape(4, 6), rtol=1e-12)
    np.testing.assert_allclose(estimates["dL_dWh"].value, ref["dL_dWh"].ravel(), rtol=1e-12)


@pytest.mark.parametrize("t", [1, 4, 7])
def test_a_gradient_wrong_at_one_step_disagrees_at_exactly_that_step(t):
    rnn, f = instance("tanh", UPSTREAM, "identity", 3, 7, 4, 4, 1, seed=2)
    ds = backward(rnn, f)["dL_ds"]
    ds[1, t - 1, 2] += 1e-4
    estimate = finite_differences(rnn, f, ("dL_ds",))["dL_ds"]
    check = check_output("dL_ds", estimate.along(ds), estimate)
    assert (check.agrees, check.disagreeing_timesteps) == (False, [t])


def test_a_model_without_complex_input_falls_back_to_richardson():
    real_only = Activation("abs", np.abs, np.sign, complex_step=False, kinks=(0.0,))
    rnn, f = instance("tanh", UPSTREAM, "identity", 2, 3, 2, 2, 1, seed=3)
    rnn = VectorRNN(real_only)
    f = forward(rnn, f.params, f.x, f.target)
    assert finite_differences(rnn, f, ("dL_ds",))["dL_ds"].method == "richardson"
    with pytest.raises(ValueError, match="complex step needs φ and θ that take complex input"):
        finite_differences(rnn, f, method="complex_step")


@pytest.mark.parametrize("loss", ["mean_squared_error", "binary_cross_entropy"])
@pytest.mark.parametrize("method", ["central", "richardson"])
def test_real_step_methods_report_an_honest_error(method, loss):
    rnn, f = instance("sin", loss, "tanh", 2, 6, 3, 3, 2, seed=4)
    ref = backward(rnn, f)
    for name, estimate in finite_differences(rnn, f, method=method).items():
        assert estimate.method == method
        assert np.all(np.abs(estimate.value - estimate.along(ref[name])) <= estimate.error), name


@pytest.mark.parametrize("method", ["complex_step", "richardson"])
def test_a_state_on_the_relu_kink_is_flagged_not_compared(method):
    rnn = VectorRNN.named("relu", UPSTREAM)
    # s_1 = x_1·Wx = [0.5, 0]: its second element sits on relu's kink
    params = Params(np.array([[0.5, 0.0]]), np.eye(2), np.zeros(2), np.zeros((1, 2)))
    f = forward(rnn, params, np.array([[[1.0], [0.3], [0.2]]]), np.ones((1, 3, 2)))
    estimate = finite_differences(rnn, f, ("dL_ds",), method)["dL_ds"]
    assert estimate.method == method
    assert estimate.kink.any(axis=1).tolist() == [True, True, True]
    check = check_output("dL_ds", estimate.along(backward(rnn, f)["dL_ds"]), estimate)
    assert check.agrees and check.kink_timesteps == [3, 2, 1]


@pytest.mark.parametrize("method", ["complex_step", "complex_step_full"])
def test_an_elementwise_run_is_flagged_for_a_kink_of_its_own_sequence_only(method):
    rnn = VectorRNN.named("relu", UPSTREAM)
    # sequence 1's second state element stays on relu's kink (0) at every step, sequence 2's never
    params = Params(np.array([[0.5, 0.0]]), np.eye(2), np.zeros(2), np.array([[0.0, 0.0], [0.3, 0.2]]))
    f = forward(rnn, params, np.array([[[1.0], [0.3], [0.2]]] * 2), np.ones((2, 3, 2)))
    kink = finite_differences(rnn, f, ("dL_ds", "dL_dWh"), method, directions=None)
    assert kink["dL_ds"].kink.reshape(3, 2, 2).any(axis=2).tolist() == [[True, False]] * 3
    assert kink["dL_dWh"].kink.all()


def test_real_gemm_is_the_complex_product():
    rng = np.random.default_rng(0)
    complex_states = rng.normal(size=(3, 4, 5)) + 1j * rng.normal(size=(3, 4, 5))
    real_states, W = rng.normal(size=(1, 4, 5)), rng.normal(size=(5, 6))
    np.testing.assert_allclose(real_gemm(complex_states, W), complex_states @ W, rtol=1e-14)
    np.testing.assert_allclose(real_gemm(real_states, 1j * W), real_states @ (1j * W), rtol=1e-14)
    np.testing.assert_allclose(real_gemm(real_states, W), real_states @ W, rtol=1e-14)


@pytest.mark.parametrize("phi", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", [UPSTREAM, *LOSSES])
@pytest.mark.parametrize("directions", [3, None])
def test_the_tangent_complex_step_agrees_with_the_whole_forward_complex_step(phi, loss, directions):
    rnn, f = instance(phi, loss, "tanh", 2, 6, 3, 4, 3, seed=5)
    tangent = finite_differences(rnn, f, method="complex_step", directions=directions)
    full = finite_differences(rnn, f, method="complex_step_full", directions=directions)
    scale = max(np.abs(estimate.value).max() for estimate in full.values())
    for name, estimate in tangent.items():
        assert (estimate.method, full[name].method) == ("complex_step", "complex_step_full")
        assert np.abs(estimate.value - full[name].value).max() <= 1e-14 * scale, name
        assert np.array_equal(estimate.kink, full[name].kink), name
        # the same rounding bound, 4·ε·√n·Σ_k c_k·|∂(weight_k·ℓ_k)/∂q| per term
        np.testing.assert_allclose(estimate.error, full[name].error, rtol=1e-9, err_msg=name)


def test_every_gradient_has_a_quantity_to_perturb():
    rnn, f = instance("tanh", "squared_error", "identity", 1, 2, 1, 1, 1, seed=0)
    assert set(backward(rnn, f)) == set(QUANTITIES) == set(checkable(rnn))


@pytest.mark.parametrize("per_block_elements", [1 << 18, 7])
def test_summed_products_is_the_sum_over_batch_and_steps_of_each_steps_outer_product(monkeypatch, per_block_elements):
    """Σ_n Σ_t a[n, t]ᵀ·b[n, t] as the reference's einsum had it, up to rounding, from a strided
    view (h[:, :-1]) too, in one block or one sequence at a time (7 elements: every block one sequence)."""
    from reference import step_sums
    monkeypatch.setattr(step_sums, "PRODUCT_ELEMENTS", per_block_elements)
    rng = np.random.default_rng(5)
    h, ds = rng.standard_normal((5, 8, 3)), rng.standard_normal((5, 7, 4))
    got = step_sums.summed_products(h[:, :-1], ds)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, np.einsum("ntk,nth->kh", h[:, :-1], ds), rtol=1e-13, atol=1e-14)
    assert step_sums.summed_products(h[:, :1, :1], ds[:, :1, :1])[0, 0] == pytest.approx(h[:, 0, 0] @ ds[:, 0, 0])


@pytest.mark.parametrize("phi", sorted(ACTIVATIONS))
@pytest.mark.parametrize("loss", [UPSTREAM, "squared_error", "softmax_cross_entropy"])
@pytest.mark.parametrize("block_elements", [1 << 18, 5])
def test_graded_values_are_the_values_bit_for_bit_but_s_dL_dh_and_dL_dx_kept_as_a_product(
        monkeypatch, phi, loss, block_elements):
    """What an exercise of a large problem computes over the states (φ'(s_t), then ∂L/∂s_t, in
    place of s_t), in one block of steps or one step at a time (5 elements: N·H = 6 per step),
    is every value the whole reference gives, bit for bit, without s and ∂L/∂h_t; ∂L/∂x_t is
    its ∂L/∂s_t·Wxᵀ kept as that product, the same up to rounding."""
    from reference import vector
    from reference.models import VECTOR
    from reference.step_product import StepProduct
    monkeypatch.setattr(vector, "BLOCK_ELEMENTS", block_elements)
    rnn, f = instance(phi, loss, "tanh", N=2, T=6, D=4, H=3, O=5, seed=3)
    whole = VECTOR.values(rnn, f)
    _, spent = instance(phi, loss, "tanh", N=2, T=6, D=4, H=3, O=5, seed=3)
    graded = VECTOR.graded_values(rnn, spent)
    assert set(whole) - set(graded) == {"s", "dL_dh"} and set(graded) <= set(whole)
    dx = graded.pop("dL_dx")
    assert isinstance(dx, StepProduct) and dx.factor is graded["dL_ds"]
    np.testing.assert_allclose(np.asarray(dx), whole["dL_dx"], rtol=1e-14, atol=1e-15)
    for name, value in graded.items():
        same = np.array_equal(value, whole[name]) if isinstance(value, np.ndarray) else value == whole[name]
        assert same, name


@pytest.mark.parametrize("chunk_steps", [64, 3])
def test_a_step_product_reads_the_same_numbers_whatever_part_is_read(monkeypatch, chunk_steps):
    """Each element comes from its own chunk of steps, so a part read alone (a step, a block
    of steps across sequences, one element, from the end) is that part of the whole, bit for
    bit; the whole is ∂L/∂s_t·Wxᵀ up to rounding, and numpy's shape functions need no product."""
    from reference import step_product
    monkeypatch.setattr(step_product, "CHUNK_STEPS", chunk_steps)
    rng = np.random.default_rng(4)
    ds, Wx = rng.normal(size=(3, 70, 7)), rng.normal(size=(5, 7))
    product = step_product.StepProduct(ds, Wx)
    monkeypatch.setattr(step_product.StepProduct, "__array__", None)      # shape and size read no numbers
    assert (np.shape(product), np.size(product), np.ndim(product), product.nbytes) == ((3, 70, 5), 1050, 3, 8400)
    monkeypatch.undo()
    monkeypatch.setattr(step_product, "CHUNK_STEPS", chunk_steps)
    whole = np.asarray(product)
    np.testing.assert_allclose(whole, ds @ Wx.T, rtol=1e-14, atol=1e-14)
    for index in [(slice(None), slice(2, 69)), (1,), (2, 64), (0, 63, 4), (slice(1, 3), slice(60, 70), slice(1, 3)),
                  (-1, -1), (slice(None), slice(9, 9))]:
        assert product[index].shape == whole[index].shape and np.array_equal(product[index], whole[index]), index
    with pytest.raises(IndexError):
        product[:, ::2]
