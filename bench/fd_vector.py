"""FD reference check, vector RNN (tanh, upstream loss, as CS231n checks it): ∂L/∂s_t along
K = 3 random directions per step (reference.vector_finite_diff, "complex_step": complex
steps once per step, the runs' tangents in real arithmetic), against

- the same checker element by element (one batched run per element of every s_t, each
  carrying only its own sequence): what checking every element costs done well;
- the per-element loop (CS231n's eval_numerical_gradient style): two full batched forward
  passes per element, timed on a sample of elements and scaled to all N·T·H of them;
- the whole-forward complex step ("complex_step_full", the previous scheme), with its real
  GEMMs (`real_gemm`) and with numpy's complex products in their place.

A second figure is the whole check, every gradient (s, x, h, Wx, Wh, b, h0), directional,
against the per-element loop scaled to all their elements (each costs the same two passes).

A third checks what CS231n checks, ∂L/∂x, ∂L/∂h_0, ∂L/∂Wx, ∂L/∂Wh, ∂L/∂b, directional,
against CS231n's `eval_numerical_gradient_array` applied to rnn_forward (timed on a sample of
elements, scaled to all), and against `jax.test_util.check_grads` (order 1, reverse mode,
the forward jit-compiled, compilation untimed) where jax is installed. check_grads tests one
random direction (all five arguments at once), ours 3 per step of x and 3 per parameter, so
the like-for-like figure is the cost per direction: our whole check's time over its
directions against check_grads' time for its one.

The last compares the products alone: every step's GEMM of the ∂L/∂s_t check (the active
runs' tangents, R·N rows by H, times Wh) against numpy's complex product of complex states
of the same shape (zgemm, what the whole-forward complex step multiplies without `real_gemm`).
"""
import time
from unittest import mock

import numpy as np

from bench.table import Row, best_time
from reference import vector_finite_diff
from reference.vector import UPSTREAM, Params, VectorRNN, forward
from reference.vector_finite_diff import finite_differences

SIZES = {"N": 32, "T": 100, "D": 64, "H": 64}
SAMPLED_ELEMENTS = 40
DIRECTIONS = vector_finite_diff.DEFAULT_DIRECTIONS


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


CS231N_GRADIENTS = ("dL_dx", "dL_dh0", "dL_dWx", "dL_dWh", "dL_db")
JAX_RTOL = 1e-3


def rnn_forward(x, h0, Wx, Wh, b) -> np.ndarray:
    """CS231n's rnn_forward for tanh: every h_t, (N, T, H)."""
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return np.stack(states, axis=1)


def eval_numerical_gradient_array(f, x, df, h=1e-5, sample=None) -> np.ndarray:
    """CS231n's loop: for each element of x (or the `sample` of indices), f at x ± h and
    Σ (f(x+h) − f(x−h))·df / 2h."""
    grad = np.zeros_like(x)
    for ix in sample if sample is not None else np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        pos = f(x).copy()
        x[ix] = old - h
        neg = f(x).copy()
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def cs231n_loop_time(f, rng) -> float:
    """Seconds for eval_numerical_gradient_array over every element of x, h0, Wx, Wh and b,
    timed on SAMPLED_ELEMENTS of them and scaled: every element costs two full forwards."""
    p = f.params
    inputs = [f.x.copy(), p.h0.copy(), p.Wx.copy(), p.Wh.copy(), p.b.copy()]
    total = sum(a.size for a in inputs)
    position = 0

    def loop(i, mine):
        """CS231n's loop over the sampled elements `mine` of input i."""
        def forward_with(a):
            return rnn_forward(*inputs[:i], a, *inputs[i + 1:])
        return lambda: eval_numerical_gradient_array(forward_with, inputs[i], f.target, sample=mine)
    sample = rng.integers(0, total, SAMPLED_ELEMENTS)
    elapsed = 0.0
    for i, a in enumerate(inputs):
        mine = [np.unravel_index(j - position, a.shape) for j in sample if position <= j < position + a.size]
        position += a.size
        if mine:
            elapsed += best_time(loop(i, mine), repeat=1)
    return elapsed * total / SAMPLED_ELEMENTS


def jax_check_grads_time(f) -> float | None:
    """Seconds for jax.test_util.check_grads (order 1, reverse mode) of L = Σ ⟨dh, h⟩ in
    x, h0, Wx, Wh, b, the forward jit-compiled; None without jax. With JAX_RTOL: at the full
    size its default (1e-5) fails this correct gradient, its central differences (eps 1e-4)
    being off by 6e-5."""
    try:
        import jax
        import jax.numpy as jnp
        from jax.test_util import check_grads
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    dh = jnp.asarray(f.target)

    @jax.jit
    def loss(x, h0, Wx, Wh, b):
        def step(h, x_t):
            h = jnp.tanh(x_t @ Wx + h @ Wh + b)
            return h, h
        return jnp.sum(jnp.swapaxes(jax.lax.scan(step, h0, jnp.swapaxes(x, 0, 1))[1], 0, 1) * dh)

    p = f.params
    args = tuple(jnp.asarray(a) for a in (f.x, p.h0, p.Wx, p.Wh, p.b))
    check_grads(loss, args, order=1, modes=["rev"], rtol=JAX_RTOL)      # compile, untimed
    return best_time(lambda: check_grads(loss, args, order=1, modes=["rev"], rtol=JAX_RTOL), repeat=1)


def complex_products_time(rnn, f) -> float:
    """The directional ∂L/∂s_t check by the whole-forward complex step with numpy's complex
    products in place of `real_gemm`."""
    with mock.patch.object(vector_finite_diff, "real_gemm", np.matmul):
        return best_time(lambda: finite_differences(rnn, f, ("dL_ds",), "complex_step_full"), repeat=1)


def gemm_step_times(N: int, T: int, H: int, repeat: int = 3) -> tuple[float, float]:
    """Seconds for the GEMMs of the directional ∂L/∂s_t check (at step k the 3k active runs'
    N rows each, times Wh, into a buffer allocated once) in real tangents, and the same
    products of complex states by numpy (zgemm); best of `repeat`, taken in turn."""
    rng = np.random.default_rng(2)
    R = DIRECTIONS * T
    tangents, W = rng.normal(size=(R * N, H)), rng.normal(size=(H, H))
    states = tangents + 1j * rng.normal(size=(R * N, H))
    products, complex_products = np.empty((R * N, H)), np.empty((R * N, H), dtype=complex)

    def real_gemms():
        for k in range(1, T + 1):
            np.matmul(tangents[:DIRECTIONS * k * N], W, out=products[:DIRECTIONS * k * N])

    def complex_gemms():
        for k in range(1, T + 1):
            np.matmul(states[:DIRECTIONS * k * N], W, out=complex_products[:DIRECTIONS * k * N])
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, gemms in enumerate((real_gemms, complex_gemms)):
            started = time.perf_counter()
            gemms()
            best[i] = min(best[i], time.perf_counter() - started)
    return best[0], best[1]


def rows(N=SIZES["N"], T=SIZES["T"], D=SIZES["D"], H=SIZES["H"]) -> list[Row]:
    rnn, f = problem(N, T, D, H)
    size = f"N = {N}, T = {T}, D = H = {H}"
    directional = best_time(lambda: finite_differences(rnn, f, ("dL_ds",)), repeat=3)
    elementwise = best_time(lambda: finite_differences(rnn, f, ("dL_ds",), directions=None), repeat=1)
    whole_forward = best_time(lambda: finite_differences(rnn, f, ("dL_ds",), "complex_step_full"), repeat=1)
    rng = np.random.default_rng(1)
    sampled = [tuple(int(v) for v in rng.integers((T, N, H))) for _ in range(SAMPLED_ELEMENTS)]
    per_element = best_time(lambda: per_element_loop(rnn, f, sampled), repeat=1) / len(sampled)
    every = best_time(lambda: finite_differences(rnn, f), repeat=3)
    states, everything = N * T * H, N * T * (D + 2 * H) + H * (D + H + 1 + N)
    sample_note = f"loop timed on {len(sampled)} elements, scaled to"
    cs231n = best_time(lambda: finite_differences(rnn, f, CS231N_GRADIENTS), repeat=3)
    cs231n_elements = N * T * D + N * H + D * H + H * H + H
    cs231n_directions = DIRECTIONS * (T + len(CS231N_GRADIENTS) - 1)
    jax_time = jax_check_grads_time(f)
    real_gemms, complex_gemms = gemm_step_times(N, T, H)
    return [Row("FD check, vector, ∂L/∂s_t", size, directional, "element-wise, batched", elementwise, "",
                f"3 directions per step; {states:,} elements"),
            Row("FD check, vector, ∂L/∂s_t", size, directional, "per-element loop", per_element * states, "",
                f"{sample_note} {states:,}"),
            Row("FD check, vector, ∂L/∂s_t", size, directional, "whole-forward complex step", whole_forward, "",
                "complex_step_full, its products as real GEMMs (real_gemm)"),
            Row("FD check, vector, ∂L/∂s_t", size, directional, "whole-forward, numpy's complex products",
                complex_products_time(rnn, f), "", "complex_step_full, real_gemm → np.matmul"),
            Row("FD check, vector, every gradient", size, every, "per-element loop", per_element * everything, "",
                f"s, x, h, Wx, Wh, b, h0, 3 directions each; {sample_note} {everything:,}"),
            Row("FD check, vector, CS231n's x, h0, Wx, Wh, b", size, cs231n, "eval_numerical_gradient_array",
                cs231n_loop_time(f, rng), "", f"3 directions each; {sample_note} {cs231n_elements:,}"),
            Row("FD check, vector, CS231n's x, h0, Wx, Wh, b, per direction", size, cs231n / cs231n_directions,
                "jax check_grads (one direction)", jax_time, "> 1×",
                "jax not installed" if jax_time is None else
                f"ours: the whole check over its {cs231n_directions:,} directions; check_grads: order 1, "
                f"reverse mode, rtol {JAX_RTOL:g}"),
            Row("FD check, vector, CS231n's x, h0, Wx, Wh, b, whole check", size, cs231n,
                "jax check_grads (one direction)", jax_time, "",
                "jax not installed" if jax_time is None else f"{cs231n_directions:,} directions against one"),
            Row("FD check, vector, ∂L/∂s_t, its GEMMs", size, real_gemms, "numpy's complex product (zgemm)",
                complex_gemms, "≥ 1.6×", "the same shapes: real tangents against complex states, times real Wh")]


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
