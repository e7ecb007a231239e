"""FD reference check, vector RNN (tanh, upstream loss, as CS231n checks it): ∂L/∂s_t along
K = 3 random directions per step (reference.vector_finite_diff, complex step), against

- the same checker element by element (one batched run per element of every s_t, each
  carrying only its own sequence): what checking every element costs done well;
- the per-element loop (CS231n's eval_numerical_gradient style): two full batched forward
  passes per element, timed on a sample of elements and scaled to all N·T·H of them.

A second figure is the whole check, every gradient (s, x, h, Wx, Wh, b, h0), directional,
against the per-element loop scaled to all their elements (each costs the same two passes).
"""
import numpy as np

from bench.table import Row, best_time
from reference.vector import UPSTREAM, Params, VectorRNN, forward
from reference.vector_finite_diff import finite_differences

SIZES = {"N": 32, "T": 100, "D": 64, "H": 64}
SAMPLED_ELEMENTS = 40


def problem(N: int, T: int, D: int, H: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    rnn = VectorRNN.named("tanh", UPSTREAM)
    params = Params(rng.normal(0, 1 / np.sqrt(D), (D, H)), rng.normal(0, 1 / np.sqrt(H), (H, H)),
                    rng.normal(0, 0.1, H), rng.normal(0, 0.5, (N, H)))
    return rnn, forward(rnn, params, rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H)))


def loss_with_ds(rnn, f, t: int, n: int, i: int, ds: float) -> float:
    """L of a full batched forward pass with ds added to element (n, i) of s_t (t 0-based)."""
    p = f.params
    h, total = p.h0, 0.0
    for k in range(f.x.shape[1]):
        s = f.x[:, k] @ p.Wx + h @ p.Wh + p.b
        if k == t:
            s[n, i] += ds
        h = rnn.phi.value(s)
        total += float(np.sum(f.target[:, k] * h))
    return total


def per_element_loop(rnn, f, elements, step=1e-5) -> list[float]:
    return [(loss_with_ds(rnn, f, *e, step) - loss_with_ds(rnn, f, *e, -step)) / (2 * step) for e in elements]


def rows(N=SIZES["N"], T=SIZES["T"], D=SIZES["D"], H=SIZES["H"]) -> list[Row]:
    rnn, f = problem(N, T, D, H)
    size = f"N = {N}, T = {T}, D = H = {H}"
    directional = best_time(lambda: finite_differences(rnn, f, ("dL_ds",)), repeat=1)
    elementwise = best_time(lambda: finite_differences(rnn, f, ("dL_ds",), directions=None), repeat=1)
    rng = np.random.default_rng(1)
    sampled = [tuple(int(v) for v in rng.integers((T, N, H))) for _ in range(SAMPLED_ELEMENTS)]
    per_element = best_time(lambda: per_element_loop(rnn, f, sampled), repeat=1) / len(sampled)
    every = best_time(lambda: finite_differences(rnn, f), repeat=1)
    states, everything = N * T * H, N * T * (D + 2 * H) + H * (D + H + 1 + N)
    sample_note = f"loop timed on {len(sampled)} elements, scaled to"
    return [Row("FD check, vector, ∂L/∂s_t", size, directional, "element-wise, batched", elementwise, "",
                f"3 directions per step; {states:,} elements"),
            Row("FD check, vector, ∂L/∂s_t", size, directional, "per-element loop", per_element * states, "",
                f"{sample_note} {states:,}"),
            Row("FD check, vector, every gradient", size, every, "per-element loop", per_element * everything, "",
                f"s, x, h, Wx, Wh, b, h0, 3 directions each; {sample_note} {everything:,}")]


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
