"""Accuracy of the finite differences against the exact reference backward, max over all
∂L/∂s_t, ∂L/∂w, ∂L/∂v, ∂L/∂h_0 of |fd − ref| / ‖ref‖∞ per output; baseline: plain central
differences with h = 1e-5, as a per-element loop would use. Smaller is better, so the ratio
is baseline error / our error."""
import numpy as np

from bench.table import Row
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
    return result


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
