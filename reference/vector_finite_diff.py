"""Finite-difference gradients of the vector RNN (reference.vector), independent of its
BPTT backward, without a Jacobian.

Directional (the default): for each step t, K random directions u_{t,k} in s_t's space
(N, H); perturbing s_t by δ·u_{t,k} *inside* the forward pass and re-running steps t..T
estimates ⟨∂L/∂s_t, u_{t,k}⟩. x_t and h_t likewise, and each parameter (Wx, Wh, b, h0, Wy,
by) along K random directions of its own shape, re-running steps 1..T. A direction has
max |u| = 1 and δ scales with max(1, max |q|) over the elements it moves.

Element-wise (`directions=None`, for small problems): the directions are the unit vectors,
one run per element. The N sequences of a batch are independent, so the run for element
(n, i) of s_t, x_t or h_t carries sequence n alone.

All runs of one quantity advance together as one numpy array of R runs × M sequences × H;
a run that starts at step t starts from the unperturbed h_{t−1}, and at step k only the runs
that start at or before k are active: the work is triangular, not T full passes.

Methods, step sizes, error estimates, kink flags and the Estimate type are those of
reference.fd_methods: "complex_step" (the default where φ and θ take complex input; here the
whole-forward re-run, so "complex_step_full" is the same), "richardson", "central". A
complex state times a real matrix is one real GEMM over its real and imaginary parts stacked
(`real_gemm`), not a complex one.
"""
from dataclasses import dataclass

import numpy as np

from reference.fd_methods import Estimate, combine, perturbations, resolve_method, step_size
from reference.vector import VectorForward, VectorRNN, step_weights

# Gradient name → the quantity perturbed; "s", "x", "h" are per step.
QUANTITIES = {"dL_ds": "s", "dL_dx": "x", "dL_dh": "h", "dL_dWx": "Wx", "dL_dWh": "Wh", "dL_db": "b",
              "dL_dh0": "h0", "dL_dWy": "Wy", "dL_dby": "by"}
PER_STEP = ("s", "x", "h")
DEFAULT_DIRECTIONS = 3


@dataclass(frozen=True)
class _Runs:
    """R perturbed runs of one quantity, sorted by start step: run r adds offset[r] to the
    quantity (at step start[r] for a per-step one) and carries sequences samples[r] (all N
    when samples is None)."""
    start: np.ndarray                # (R,) int, 0-based step
    samples: np.ndarray | None       # (R, M) int
    offset: np.ndarray               # (R, M, dim) per step, (R, *shape) for a parameter


def _base(f: VectorForward, quantity: str) -> np.ndarray:
    p = f.params
    base = {"s": f.s, "x": f.x, "h": f.h[:, 1:], "Wx": p.Wx, "Wh": p.Wh, "b": p.b, "h0": p.h0,
            "Wy": p.Wy, "by": p.by}[quantity]
    assert base is not None, f"{quantity} belongs to an output layer the model does not have"
    return base


def _unit_runs(f: VectorForward, quantity: str, directions: int | None, rng):
    """(start, samples, u, scale) for unit-size directions: u (R, ...) with max |u| = 1, and
    per run the size max(1, max |q|) of what it moves. Also the directions to report."""
    base = _base(f, quantity)
    if quantity not in PER_STEP:
        if directions is None:
            u = np.eye(base.size).reshape(base.size, *base.shape)
            scale = np.maximum(1.0, np.abs(base)).ravel()
        else:
            u = rng.normal(size=(directions, *base.shape))
            u /= np.abs(u).reshape(directions, -1).max(axis=1).reshape(-1, *(1,) * base.ndim)
            scale = np.full(directions, max(1.0, np.abs(base).max()))
        return np.zeros(len(u), dtype=int), None, u, scale, None if directions is None else u
    N, T, dim = base.shape
    if directions is None:                            # run (t, n, i): sequence n, unit vector e_i
        t, n, i = (a.ravel() for a in np.meshgrid(np.arange(T), np.arange(N), np.arange(dim), indexing="ij"))
        u = np.zeros((len(t), 1, dim))
        u[np.arange(len(t)), 0, i] = 1.0
        return t, n[:, None], u, np.maximum(1.0, np.abs(base[n, t, i])), None
    reported = rng.normal(size=(T, directions, N, dim))
    reported /= np.abs(reported).max(axis=(2, 3), keepdims=True)
    scale = np.repeat(np.maximum(1.0, np.abs(base).max(axis=(0, 2))), directions)
    return np.repeat(np.arange(T), directions), None, reported.reshape(T * directions, N, dim), scale, reported


def real_gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b with at most one of them complex, as one real GEMM: a complex b (..., H, O) read
    as real (..., H, 2·O), its real and imaginary parts interleaved (a view); a complex a
    (..., H), with b (H, O), as its real and imaginary parts stacked into 2× the rows. Half the
    real multiplications of numpy's complex product, which first turns the real operand complex."""
    if np.iscomplexobj(b):
        return (a @ np.ascontiguousarray(b).view(np.float64)).view(np.complex128)
    if not np.iscomplexobj(a):
        return a @ b
    rows = a.reshape(-1, a.shape[-1])
    both = np.concatenate([rows.real, rows.imag]) @ b
    product = np.empty((len(rows), b.shape[-1]), dtype=complex)
    product.real, product.imag = both[:len(rows)], both[len(rows):]
    return product.reshape(*a.shape[:-1], b.shape[-1])


def _crossed(activation, perturbed, base) -> np.ndarray:
    """Per run (axis 0): some perturbed argument lies across a kink, or its base value on one."""
    crossed = np.zeros(perturbed.shape[0], dtype=bool)
    for kink in activation.kinks:
        across = (np.sign(np.real(perturbed) - kink) != np.sign(base - kink)) | (base == kink)
        crossed |= across.reshape(len(across), -1).any(axis=1)
    return crossed


def _suffix_losses(rnn: VectorRNN, f: VectorForward, quantity: str, runs: _Runs):
    """Run every perturbed forward from its start step to T.

    Returns per run: Σ_{k ≥ start} weight_k·ℓ_k (ℓ_k summed over the run's sequences);
    Σ_k c_k·|weight_k·ℓ_k| element by element (imaginary parts for a complex step, c_k the
    loss's conditioning at ŷ_k, as reference.finite_diff), for rounding estimates; the
    number of steps run; and whether a kink of φ or θ was crossed."""
    p, (N, T, H) = f.params, f.s.shape
    weights = step_weights(rnn, T)
    R = len(runs.start)
    M = N if runs.samples is None else runs.samples.shape[1]
    samples = runs.samples

    def pick(a: np.ndarray) -> np.ndarray:
        """The rows of the n active runs: every sequence, or each run's sampled ones."""
        return a[None] if samples is None else a[samples[:n]]
    n = 0
    dtype = np.result_type(runs.offset, float)
    xw = f.x @ p.Wx + p.b
    h_prev = np.zeros((R, M, H), dtype=dtype)
    total, magnitude, kinked = np.zeros(R, dtype=dtype), np.zeros(R), np.zeros(R, dtype=bool)
    check_kinks = any(a.kinks for a in rnn.activations)
    active_until = np.searchsorted(runs.start, np.arange(T), side="right")
    first = 0
    for k in range(T):
        n = active_until[k]
        new, offset = slice(first, n), runs.offset[:n]
        h_prev[new] = f.h[:, k][None] if runs.samples is None else f.h[runs.samples[new], k]
        if quantity == "h0" and k == 0:
            h_prev[new] += runs.offset[new]
        s = pick(xw[:, k]) + real_gemm(h_prev[:n], p.Wh)          # one GEMM for all runs
        if quantity == "Wx":
            s += real_gemm(f.x[None, :, k], offset)
        elif quantity == "Wh":
            s += h_prev[:n] @ offset
        elif quantity == "b":
            s += offset[:, None]
        elif quantity == "x":
            s[new] += real_gemm(runs.offset[new], p.Wx)
        elif quantity == "s":
            s[new] += runs.offset[new]
        h = rnn.phi.value(s)
        if quantity == "h":
            h[new] += runs.offset[new]
        if check_kinks:
            kinked[:n] |= _crossed(rnn.phi, s, pick(f.s[:, k]))
        if weights[k]:
            conditioning: float | np.ndarray = 1.0
            if rnn.loss is None:
                terms = pick(f.target[:, k]) * h
            else:
                assert rnn.theta is not None and p.Wy is not None and f.y_hat is not None and f.z is not None
                z = real_gemm(h, p.Wy) + p.by
                if quantity == "Wy":
                    z += h @ offset
                elif quantity == "by":
                    z += offset[:, None]
                terms = rnn.loss.term(rnn.theta.value(z), pick(f.target[:, k]))
                conditioning = rnn.loss.conditioning(pick(f.y_hat[:, k]))
                if rnn.loss.classes:               # one term per row of O classes
                    conditioning = np.max(conditioning, axis=-1)
                if check_kinks:
                    kinked[:n] |= _crossed(rnn.theta, z, pick(f.z[:, k]))
            parts = weights[k] * terms.reshape(n, -1)           # per sequence (and output)
            total[:n] += parts.sum(axis=1)
            size = np.abs(parts.imag if np.iscomplexobj(parts) else parts)
            magnitude[:n] += (size * np.broadcast_to(conditioning, terms.shape).reshape(n, -1)).sum(axis=1)
        h_prev[:n] = h
        first = n
    return total, magnitude, T - runs.start, kinked


def checkable(rnn: VectorRNN) -> tuple[str, ...]:
    """The gradients a model has: all of QUANTITIES but the output layer's for the upstream loss."""
    return tuple(name for name in QUANTITIES if not (rnn.upstream and name in ("dL_dWy", "dL_dby")))


def finite_differences(rnn: VectorRNN, f: VectorForward, outputs=None, method: str = "auto",
                       directions: int | None = DEFAULT_DIRECTIONS, seed: int = 0) -> dict[str, Estimate]:
    """Directional finite-difference estimates of the named gradients (default: every one
    the model has) at the point of the forward pass `f`: `directions` random ones per step
    (or per parameter) drawn from default_rng(seed), or every element when directions is None."""
    method = resolve_method(method, rnn.complex_step)
    rng = np.random.default_rng(seed)
    return {name: _estimate(rnn, f, QUANTITIES[name], method, directions, rng)
            for name in (checkable(rnn) if outputs is None else outputs)}


def _estimate(rnn, f, quantity, method, directions, rng) -> Estimate:
    """One Estimate: every run of every perturbation of fd_methods' `perturbations` in one pass."""
    start, samples, u, scale, reported = _unit_runs(f, quantity, directions, rng)
    delta = step_size(method, scale)
    steps = perturbations(method, delta)                      # (P, R)
    P, R = steps.shape
    order = np.argsort(np.tile(start, P), kind="stable")      # runs sorted by start step
    offsets = steps.reshape((P * R,) + (1,) * (u.ndim - 1)) * np.tile(u, (P,) + (1,) * (u.ndim - 1))
    runs = _Runs(np.tile(start, P)[order], None if samples is None else np.tile(samples, (P, 1))[order],
                 offsets[order])
    total, magnitude, n_steps, kinked = _suffix_losses(rnn, f, quantity, runs)
    back = np.argsort(order)
    value, error, kink = combine(method, total[back].reshape(P, R), magnitude[back].reshape(P, R), n_steps[back][:R],
                                 kinked[back].reshape(P, R), delta)
    shape = (f.s.shape[1], -1) if quantity in PER_STEP else (-1,)
    return Estimate(value.reshape(shape), error.reshape(shape), kink.reshape(shape), method,
                    quantity in PER_STEP, reported)
