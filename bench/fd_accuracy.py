"""Accuracy of the finite differences against the exact reference backward, max over all
∂L/∂s_t, ∂L/∂w, ∂L/∂v, ∂L/∂h_0 of |fd − ref| / ‖ref‖∞ per output; baseline: plain central
differences with h = 1e-5, as a per-element loop would use. Smaller is better, so the ratio
is baseline error / our error.

The vector model likewise, over every gradient along the check's 3 random directions per
step and per parameter (|fd − ⟨ref, u⟩| / max |⟨ref, u⟩| per output); baseline: the same
check by central differences (δ = ε^⅓·max(1, |q|))."""
import numpy as np

from bench.table import Row
from reference import vector, vector_finite_diff
from reference.finite_diff import DEFAULT_OUTPUTS, finite_differences
from reference.scalar import ScalarRNN, backward, forward

T = 50
# name → (φ, θ, loss, w, x scale); |w·φ'(s_t)| stays ≈ 2 over all 50 steps in the exploding ones
REGIMES = {
    "healthy, tanh": ("tanh", "sigmoid", "squared_error", 0.7, 1.0),
    "exploding, identity (|w·φ'| = 2)": ("identity", "identity", "squared_error", 2.0, 1.0),
    "exploding, sin (|w·φ'| ≈ 1.5–3)": ("sin", "identity", "squared_error", 3.0, 0.01),
    "exploding, leaky_relu (|w·φ'| = 2)": ("leaky_relu", "identity", "squared_error", 2.0, 1.0),
}


VECTOR_SIZES = {"N": 3, "T": 50, "D": 4, "H": 6, "O": 5}
# name → (φ, θ, loss, the spectral norm of Wh): Wh is that times an orthogonal matrix, so
# ∂L/∂h_t grows ≈ 2× per step back in the exploding one (2^50 ≈ 1e15 over the 50 steps)
VECTOR_REGIMES = {
    "vector, healthy, tanh, softmax cross-entropy": ("tanh", "identity", "softmax_cross_entropy", 0.9),
    "vector, exploding, identity (Wh = 2·orthogonal), squared error": ("identity", "identity", "squared_error", 2.0),
}


def vector_problem(phi: str, theta: str, loss: str, norm: float):
    N, T, D, H, O = VECTOR_SIZES.values()
    rng = np.random.default_rng(3)
    rnn = vector.VectorRNN.named(phi, loss, theta)
    params = vector.Params(rng.normal(0, 1 / np.sqrt(D), (D, H)), norm * np.linalg.qr(rng.normal(size=(H, H)))[0],
                           rng.normal(0, 0.1, H), rng.normal(0, 0.5, (N, H)), rng.normal(0, 1 / np.sqrt(H), (H, O)),
                           rng.normal(0, 0.1, O))
    target = np.eye(O)[rng.integers(0, O, (N, T))] if rnn.loss.classes else rng.normal(size=(N, T, O))
    return rnn, vector.forward(rnn, params, rng.normal(size=(N, T, D)), target)


def vector_relative_error(rnn, f, ref, method: str) -> tuple[float, float]:
    """The largest relative error of the directional check by `method` over every gradient,
    and the largest of its own error estimates on the same scale."""
    errors, bounds = [], []
    for name, estimate in vector_finite_diff.finite_differences(rnn, f, method=method).items():
        projected = estimate.along(ref[name])
        scale = np.abs(projected).max()
        errors.append(float(np.abs(estimate.value - projected).max() / scale))
        bounds.append(float(estimate.error.max() / scale))
    return max(errors), max(bounds)


def relative_error(estimates, ref) -> float:
    return max(float(np.abs(estimates[n] - ref[n]).max() / np.abs(ref[n]).max()) for n in DEFAULT_OUTPUTS)


def central(rnn, f, h=1e-5) -> dict:
    """Plain central differences, one perturbed element at a time (the per-element loop)."""
    def loss(w=f.w, v=f.v, h0=f.h0, x=f.x):
        return forward(rnn, w, v, h0, x, f.y).L
    result = {"dL_dw": (loss(w=f.w + h) - loss(w=f.w - h)) / (2 * h),
              "dL_dv": (loss(v=f.v + h) - loss(v=f.v - h)) / (2 * h),
              "dL_dh0": (loss(h0=f.h0 + h) - loss(h0=f.h0 - h)) / (2 * h)}
    ds = []
    for t in range(len(f.x)):      # s_t += h is x_t += h/v
        up, down = f.x.copy(), f.x.copy()
        up[t] += h / f.v
        down[t] -= h / f.v
        ds.append((loss(x=up) - loss(x=down)) / (2 * h))
    return {**result, "dL_ds": np.array(ds)}


def rows() -> list[Row]:
    result = []
    for regime, (phi, theta, loss, w, x_scale) in REGIMES.items():
        rnn = ScalarRNN.named(phi, theta, loss)
        rng = np.random.default_rng(1)
        x = x_scale * (np.abs(rng.normal(size=T)) if phi == "leaky_relu" else rng.normal(size=T))
        f = forward(rnn, w, 0.5, 0.1, x, rng.normal(size=T))
        ref = backward(rnn, f)
        estimates = finite_differences(rnn, f)
        ours = relative_error({n: e.value for n, e in estimates.items()}, ref)
        bound = max(float(np.max(e.error / np.abs(ref[n]).max())) for n, e in estimates.items())
        method = estimates["dL_ds"].method
        result.append(Row("FD accuracy (max rel. error)", regime, ours, "central, h = 1e-5",
                          relative_error(central(rnn, f), ref), "≤ 1e-13",
                          f"{method}; its own error estimate ≤ {bound:.1e}", unit=""))
    for regime, model in VECTOR_REGIMES.items():
        rnn, f = vector_problem(*model)
        ref = vector.backward(rnn, f)
        ours, bound = vector_relative_error(rnn, f, ref, "auto")
        size = ", ".join(f"{k} = {v}" for k, v in VECTOR_SIZES.items())
        result.append(Row("FD accuracy (max rel. error)", f"{regime}; {size}", ours, "central differences",
                          vector_relative_error(rnn, f, ref, "central")[0], "≤ 1e-13",
                          f"complex_step, 3 directions per step and parameter; its own error estimate ≤ {bound:.1e}",
                          unit=""))
    return result


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
