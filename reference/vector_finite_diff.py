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
reference.fd_methods: "complex_step" (the default where φ and θ take complex input),
"complex_step_full", "richardson", "central".

"complex_step": complex steps once per step, the runs in real arithmetic (forward mode).
1. Local derivatives, each an elementwise complex step Im F(z + iδ)/δ (δ = 1e-20) of a
   registry *value* function at the unperturbed forward pass, for all n and t at once
   (`_LocalSlopes`): a_t = φ'(s_t) (N, T, H) from φ; g_t = ∂(weight_t·term(θ(z_t), y_t))/∂z_t
   (N, T, O) from θ and the loss composed (one complex step per class o for a loss over
   classes, whose term couples a row); for the upstream loss L = Σ ⟨dh_t, h_t⟩, g_t = dh_t,
   the given upstream gradient. The registry's derivative functions (φ', θ', term'), which
   the reference backward uses, are never called.
2. Each run carries the tangent of its perturbation forward, as the whole-forward complex
   step carries Im/δ: ṡ_t = u (x_t·Wx, h_{t−1}·Wh, b's offsets likewise), ḣ_k = a_k ⊙ ṡ_k,
   ṡ_{k+1} = ḣ_k·Wh, ż_k = ḣ_k·Wy, and the loss moves by Σ_k ⟨g_k, ż_k⟩ (⟨dh_k, ḣ_k⟩
   upstream). ḣ_k of every active run is one real GEMM by [Wh | Wy] per step, R·M rows
   (active runs × sequences) by H, into a buffer allocated once. In exact arithmetic this is
   Im L(q + iδu)/δ of "complex_step_full" (to O(δ²)), at a quarter of the multiplications of
   its complex-by-real products and without a complex φ, θ or loss inside the triangle.
   It shares with the reference backward only the forward pass f it checks (s, h, z, ŷ and
   the parameters) and the registry's value functions: no code, no intermediate value, no
   derivative function, and no transposed weight — every product is one the forward pass
   itself makes (x·Wx, h·Wh, h·Wy), where the backward multiplies by Whᵀ and Wyᵀ.
3. Error estimate: as for the whole-forward run, 4·ε·√n·M over the n = T − start + 1 steps
   a run covers, with M = Σ_k c_k·|g_k ⊙ ż_k| per term (a row of classes is one term; c_k
   the loss's conditioning at ŷ_k, 1 upstream): the same sum the whole-forward run takes of
   |Im weight_k·ℓ_k|/δ.
4. Kink flags: an imaginary step never moves a real part, so a run is flagged exactly where
   the unperturbed value of one of its sequences sits on a kink — s_k on φ's or z_k on θ's
   — at a step k ≥ start (every step for a parameter).

"complex_step_full", "central", "richardson": perturbed whole-forward re-runs, each complex
state times a real matrix one real GEMM over its real and imaginary parts stacked
(`real_gemm`), not a complex one. They share with the reference nothing but the forward
pass and the registry's value functions, and "complex_step_full" cross-checks "complex_step".
"""
from dataclasses import dataclass

import numpy as np

from reference.fd_methods import (
    Estimate,
    combine,
    complex_step_error,
    local_derivative,
    perturbations,
    resolve_method,
    step_size,
)
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

    def rows(self, a: np.ndarray, n: int) -> np.ndarray:
        """a's rows (one per sequence, axis 0) for the first n runs: every sequence, broadcast
        (1, N, ...), or each run's sampled ones (n, M, ...)."""
        return a[None] if self.samples is None else a[self.samples[:n]]


def _base(f: VectorForward, quantity: str) -> np.ndarray:
    p = f.params
    base = {"s": f.s, "x": f.x, "h": f.h[:, 1:], "Wx": p.Wx, "Wh": p.Wh, "b": p.b, "h0": p.h0,
            "Wy": p.Wy, "by": p.by}[quantity]
    assert base is not None, f"{quantity} belongs to an output layer the model does not have"
    return base


def _unit_runs(f: VectorForward, quantity: str, directions: int | None, rng):
    """(start, samples, u, scale) for unit-size directions, the runs in order of start step:
    u (R, ...) with max |u| = 1, and per run the size max(1, max |q|) of what it moves. Also
    the directions to report."""
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
    loss's conditioning at ŷ_k, as reference.finite_diff), for rounding estimates; and
    whether a kink of φ or θ was crossed."""
    p, (N, T, H) = f.params, f.s.shape
    weights = step_weights(rnn, T)
    R = len(runs.start)
    M = N if runs.samples is None else runs.samples.shape[1]
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
        s = runs.rows(xw[:, k], n) + real_gemm(h_prev[:n], p.Wh)          # one GEMM for all runs
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
            kinked[:n] |= _crossed(rnn.phi, s, runs.rows(f.s[:, k], n))
        if weights[k]:
            conditioning: float | np.ndarray = 1.0
            if rnn.loss is None:
                terms = runs.rows(f.target[:, k], n) * h
            else:
                assert rnn.theta is not None and p.Wy is not None and f.y_hat is not None and f.z is not None
                z = real_gemm(h, p.Wy) + p.by
                if quantity == "Wy":
                    z += h @ offset
                elif quantity == "by":
                    z += offset[:, None]
                terms = rnn.loss.term(rnn.theta.value(z), runs.rows(f.target[:, k], n))
                conditioning = rnn.loss.conditioning(runs.rows(f.y_hat[:, k], n))
                if rnn.loss.classes:               # one term per row of O classes
                    conditioning = np.max(conditioning, axis=-1)
                if check_kinks:
                    kinked[:n] |= _crossed(rnn.theta, z, runs.rows(f.z[:, k], n))
            parts = weights[k] * terms.reshape(n, -1)           # per sequence (and output)
            total[:n] += parts.sum(axis=1)
            size = np.abs(parts.imag if np.iscomplexobj(parts) else parts)
            magnitude[:n] += (size * np.broadcast_to(conditioning, terms.shape).reshape(n, -1)).sum(axis=1)
        h_prev[:n] = h
        first = n
    return total, magnitude, kinked


@dataclass(frozen=True)
class _LocalSlopes:
    """Local derivatives at the unperturbed forward pass, by complex steps of value functions
    (see the module docstring), and per sequence whether a kink lies ahead."""
    phi: np.ndarray                 # (N, T, H) φ'(s_t)
    loss: np.ndarray | None         # (N, T, O) g_t in z_t, dh (N, T, H) upstream; None over classes
    rounding: np.ndarray            # c_t·|g_t| like loss; c_t (N, T) per row over classes
    kink_ahead: np.ndarray          # (N, T) bool: some s_k or z_k of sequence n, k ≥ t, on a kink


def _local_slopes(rnn: VectorRNN, f: VectorForward) -> _LocalSlopes:
    on_kink = np.asarray(np.isin(f.s, rnn.phi.kinks).any(axis=2))
    loss: np.ndarray | None
    if rnn.loss is None:
        loss, rounding = f.target, np.abs(f.target)
    else:
        assert rnn.theta is not None and f.z is not None and f.y_hat is not None
        theta, term = rnn.theta, rnn.loss.term
        on_kink |= np.isin(f.z, theta.kinks).any(axis=2)
        conditioning = rnn.loss.conditioning(f.y_hat)
        if rnn.loss.classes:        # its slope would take O complex steps: stepped along each run's ż instead
            loss, rounding = None, np.max(conditioning, axis=2)
        else:
            loss = rnn.loss.weights(f.s.shape[1])[:, None] * local_derivative(
                lambda z: term(theta.value(z), f.target), f.z)
            rounding = conditioning * np.abs(loss)
    kink_ahead = np.logical_or.accumulate(on_kink[:, ::-1], axis=1)[:, ::-1]
    return _LocalSlopes(local_derivative(rnn.phi.value, f.s), loss, rounding, kink_ahead)


def _per_run_sums(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ a ⊙ b over all axes but the first, per run: a (n, M, ...), b (1, M, ...) shared by
    every run (one GEMV) or (n, M, ...)."""
    if len(b) == 1:
        return a.reshape(len(a), -1) @ b.ravel()
    return np.einsum("ri,ri->r", a.reshape(len(a), -1), b.reshape(len(b), -1))


def _tangent_losses(rnn: VectorRNN, f: VectorForward, quantity: str, runs: _Runs, slopes: _LocalSlopes):
    """Carry every run's tangent forward from its start step to T, in real arithmetic.

    Returns per run: the directional derivative Σ_k ⟨g_k, ż_k⟩ along its offset (the unit
    direction u); the rounding magnitude Σ_k c_k·|g_k ⊙ ż_k| (per term); and whether a
    kink lies ahead of it (see the module docstring)."""
    p, (N, T, H) = f.params, f.s.shape
    R = len(runs.start)
    M = N if runs.samples is None else runs.samples.shape[1]
    weights = step_weights(rnn, T)
    upstream = rnn.loss is None
    forward_weights = p.Wh if p.Wy is None or upstream else np.hstack([p.Wh, p.Wy])   # ḣ_k·[Wh | Wy] = [ṡ_{k+1}, ż_k]
    propagated = np.zeros((R * M, forward_weights.shape[1]))           # rows of runs not yet started stay 0
    if quantity == "h0":
        propagated[:, :H] = runs.offset.reshape(R * M, H) @ p.Wh       # ṡ_1 = ḣ_0·Wh, ḣ_0 = u
    h_dot = np.empty((R, M, H))
    total, magnitude = np.zeros(R), np.zeros(R)
    active_until = np.searchsorted(runs.start, np.arange(T), side="right")
    first = 0
    for k in range(T):
        n = active_until[k]
        new, offset = slice(first, n), runs.offset[:n]
        s_dot = propagated[:n * M, :H].reshape(n, M, H)
        if quantity == "s":
            s_dot[new] += runs.offset[new]
        elif quantity == "x":
            s_dot[new] += runs.offset[new] @ p.Wx
        elif quantity == "Wx":
            s_dot += f.x[None, :, k] @ offset
        elif quantity == "Wh":
            s_dot += f.h[None, :, k] @ offset
        elif quantity == "b":
            s_dot += offset[:, None]
        np.multiply(s_dot, runs.rows(slopes.phi[:, k], n), out=h_dot[:n])
        if quantity == "h":
            h_dot[new] += runs.offset[new]
        np.matmul(h_dot[:n].reshape(n * M, H), forward_weights, out=propagated[:n * M])
        if weights[k]:
            read = h_dot[:n] if upstream else _output_tangent(f, quantity, propagated[:n * M, H:], offset, k)
            value, size = _loss_tangent(rnn, f, slopes, runs, n, k, read)
            total[:n] += value
            magnitude[:n] += size
        first = n
    if runs.samples is None:
        kinked = slopes.kink_ahead[:, runs.start].any(axis=0)
    else:
        kinked = slopes.kink_ahead[runs.samples, runs.start[:, None]].any(axis=1)
    return total, magnitude, kinked


def _loss_tangent(rnn: VectorRNN, f: VectorForward, slopes: _LocalSlopes, runs: _Runs, n: int, k: int,
                  read: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How step k's loss moves along each of the n active runs, Σ g_k ⊙ ż_k (read: ż_k
    (n, M, O), or ḣ_k upstream), and its rounding magnitude Σ c_k·|g_k ⊙ ż_k| per term."""
    if slopes.loss is not None:
        return (_per_run_sums(read, runs.rows(slopes.loss[:, k], n)),
                _per_run_sums(np.abs(read), runs.rows(slopes.rounding[:, k], n)))
    assert rnn.loss is not None and rnn.theta is not None and f.z is not None
    theta, term, target = rnn.theta, rnn.loss.term, runs.rows(f.target[:, k], n)
    weight = rnn.loss.weights(f.s.shape[1])[k]
    rows = weight * local_derivative(lambda z: term(theta.value(z), target), runs.rows(f.z[:, k], n), read)
    return rows.sum(axis=1), _per_run_sums(np.abs(rows), runs.rows(slopes.rounding[:, k], n))


def _output_tangent(f: VectorForward, quantity: str, propagated: np.ndarray, offset: np.ndarray, k: int):
    """ż_k (n, M, O) of the n active runs: ḣ_k·Wy as propagated (n·M, O), plus Wy's or by's offset."""
    z_dot = propagated.reshape(len(offset), -1, propagated.shape[1])
    if quantity == "Wy":
        z_dot += f.h[None, :, k + 1] @ offset
    elif quantity == "by":
        z_dot += offset[:, None]
    return z_dot


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
    slopes = _local_slopes(rnn, f) if method == "complex_step" else None
    return {name: _estimate(rnn, f, QUANTITIES[name], method, directions, rng, slopes)
            for name in (checkable(rnn) if outputs is None else outputs)}


def _estimate(rnn, f, quantity, method, directions, rng, slopes: _LocalSlopes | None) -> Estimate:
    """One Estimate: every run in one pass, of its tangent ("complex_step", given `slopes`)
    or of every perturbation of fd_methods' `perturbations`."""
    start, samples, u, scale, reported = _unit_runs(f, quantity, directions, rng)
    n_steps = f.s.shape[1] - start
    if slopes is not None:                                    # _unit_runs' runs are sorted by start
        value, magnitude, kink = _tangent_losses(rnn, f, quantity, _Runs(start, samples, u), slopes)
        error = complex_step_error(magnitude, n_steps)
    else:
        delta = step_size(method, scale)
        steps = perturbations(method, delta)                  # (P, R)
        P, R = steps.shape
        order = np.argsort(np.tile(start, P), kind="stable")  # runs sorted by start step
        offsets = steps.reshape((P * R,) + (1,) * (u.ndim - 1)) * np.tile(u, (P,) + (1,) * (u.ndim - 1))
        runs = _Runs(np.tile(start, P)[order], None if samples is None else np.tile(samples, (P, 1))[order],
                     offsets[order])
        total, magnitude, kinked = _suffix_losses(rnn, f, quantity, runs)
        back = np.argsort(order)
        value, error, kink = combine(method, total[back].reshape(P, R), magnitude[back].reshape(P, R), n_steps,
                                     kinked[back].reshape(P, R), delta)
    shape = (f.s.shape[1], -1) if quantity in PER_STEP else (-1,)
    return Estimate(value.reshape(shape), error.reshape(shape), kink.reshape(shape), method,
                    quantity in PER_STEP, reported)
