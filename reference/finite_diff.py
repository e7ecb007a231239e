"""Finite-difference gradients of the scalar RNN, independent of the BPTT backward.

∂L/∂s_t is found by perturbing s_t *inside* the forward pass: the pre-activation at step t
gets ±δ (or iδ) and steps t..T are re-run. ∂L/∂x_t and ∂L/∂h_t likewise perturb x_t and
h_t at step t; ∂L/∂w, ∂L/∂v, ∂L/∂h_0 perturb the parameter and re-run all of 1..T.

Every perturbed run of one check advances together as one numpy array, and a run that
starts at step t reuses the unperturbed prefix h_{t−1}: at step k only the runs that start
at or before k are active, so the work is triangular, not T full passes.

Methods
- "complex_step": L(q + iδ) with δ = 1e-20·max(1, |q|); ∂L/∂q = Im L / δ. No subtractive
  cancellation, so the only error is rounding; reported as 4·ε·√n·Σ_k |Im ℓ_k|/δ over the
  n steps a run covers. Needs φ and θ to take complex input, analytic away from their
  kinks (every registry entry does): the imaginary step never crosses a kink, so relu and
  leaky_relu get exact one-sided derivatives too.
- "central": (L(q+δ) − L(q−δ)) / 2δ with δ = ε^(1/3)·max(1, |q|); error estimate from the
  same difference at δ/2 plus rounding ε·Σ_k|ℓ_k|/δ.
- "richardson": central differences at δ and δ/2 (δ = ε^(1/5)·max(1, |q|)) combined as
  (4·D(δ/2) − D(δ))/3, truncation O(δ⁴); error estimate |D(δ/2) − D(δ)|/3 plus rounding.
- "auto": complex_step where φ and θ allow it, richardson otherwise.

Where a perturbed run crosses a kink of φ or θ (relu/leaky_relu at 0), or the unperturbed
value sits on one, the estimate is flagged `kink` instead of being trusted.
"""
from dataclasses import dataclass

import numpy as np

from reference.scalar import Forward, ScalarRNN

EPS = np.finfo(np.float64).eps
METHODS = ("auto", "complex_step", "central", "richardson")
# The quantities a check can perturb; "s", "x", "h" are per timestep, the rest scalars.
QUANTITIES = {"dL_ds": "s", "dL_dx": "x", "dL_dh": "h", "dL_dw": "w", "dL_dv": "v", "dL_dh0": "h0"}
DEFAULT_OUTPUTS = ("dL_ds", "dL_dw", "dL_dv", "dL_dh0")


@dataclass(frozen=True)
class Estimate:
    """A finite-difference gradient: value, estimated absolute error, and where a kink
    made the value unreliable. Arrays of shape (T,) indexed t-1, or 0-d for scalars."""
    value: np.ndarray
    error: np.ndarray
    kink: np.ndarray
    method: str


@dataclass(frozen=True)
class _Runs:
    """R perturbed forward runs, sorted by the 0-based step at which each starts.

    Each run adds its offsets to the unperturbed forward: to w and v throughout, and to
    h_{start}, s, x and h at its start step. Only the first `n_param_runs` runs perturb w
    or v, so the other runs share the real w and v (half the complex multiplications)."""
    start: np.ndarray      # (R,) int: first step re-run
    dw: np.ndarray         # (R,) offset added to w
    dv: np.ndarray         # (R,) offset added to v
    h_prev: np.ndarray     # (R,) offset added to h_{start} (h_0 runs)
    ds: np.ndarray         # (R,) offset added to s at the start step
    dx: np.ndarray         # (R,) offset added to x at the start step
    dh: np.ndarray         # (R,) offset added to h at the start step
    n_param_runs: int


OFFSETS = {"dw": "w", "dv": "v", "h_prev": "h0", "ds": "s", "dx": "x", "dh": "h"}


def _runs(f: Forward, perturbations) -> tuple[_Runs, list[np.ndarray]]:
    """One run per element of each perturbation (name, step), where step is complex or
    real, shaped like the quantity. Returns the runs and, per perturbation, the indices of
    the runs it owns (in start order)."""
    T = len(f.x)
    dtype = np.result_type(*(step for _, step in perturbations))
    starts, offsets = [], {key: [] for key in OFFSETS}
    for name, step in perturbations:
        q = QUANTITIES[name]
        n = T if q in ("s", "x", "h") else 1
        starts.append(np.arange(n))                       # parameter runs start at step 0
        for key, quantity in OFFSETS.items():
            offsets[key].append(np.broadcast_to(np.asarray(step, dtype=dtype), n)
                                if q == quantity else np.zeros(n, dtype=dtype))
    owners = np.concatenate([np.full(len(c), i) for i, c in enumerate(starts)])
    start = np.concatenate(starts)
    is_param = np.concatenate(offsets["dw"]) != 0
    is_param |= np.concatenate(offsets["dv"]) != 0
    order = np.lexsort((~is_param, start))                # by start; w, v runs first
    columns = {key: np.concatenate(v)[order] for key, v in offsets.items()}
    runs = _Runs(start=start[order], n_param_runs=int(is_param.sum()), **columns)
    positions = np.argsort(order)                         # positions[j]: where run j now sits
    return runs, [positions[owners == i] for i in range(len(perturbations))]


def _suffix_losses(rnn: ScalarRNN, f: Forward, runs: _Runs):
    """Run every perturbed forward from its start step to T.

    Returns per run: Σ_{k ≥ start} weight_k·ℓ_k; Σ_k c_k·|weight_k·ℓ_k| (of the imaginary
    parts for a complex step, with c_k the loss's conditioning at ŷ_k), for rounding
    estimates; the number of steps it ran; and
    whether it crossed a kink of φ or θ."""
    T = len(f.x)
    weights = rnn.loss.weights(T)
    R, m = len(runs.start), runs.n_param_runs
    dtype = np.result_type(runs.ds, float)
    injected = (f.v + runs.dv) * runs.dx + runs.ds       # added to s at each run's start
    perturbs_h = bool(runs.dh.any())
    h_prev = np.zeros(R, dtype=dtype)
    total = np.zeros(R, dtype=dtype)
    magnitude = np.zeros(R)
    conditioning = rnn.loss.conditioning(f.y_hat)
    kinked = np.zeros(R, dtype=bool)
    has_kinks = bool(rnn.phi.kinks or rnn.theta.kinks)
    active_until = np.searchsorted(runs.start, np.arange(T), side="right")
    first = 0
    for k in range(T):
        n = active_until[k]
        new = slice(first, n)                             # the runs that start at step k+1
        h_prev[new] = f.h[k] + runs.h_prev[new]
        s = f.w * h_prev[:n] + f.v * f.x[k]
        if m:
            s[:m] += runs.dw[:m] * h_prev[:m] + runs.dv[:m] * f.x[k]
        s[new] += injected[new]
        h = rnn.phi.value(s)
        if perturbs_h:
            h[new] += runs.dh[new]
        if weights[k]:
            term = weights[k] * rnn.loss.term(rnn.theta.value(h), f.y[k])
            total[:n] += term
            magnitude[:n] += conditioning[k] * np.abs(term.imag if np.iscomplexobj(term) else term)
        if has_kinks:
            kinked[:n] |= _crosses(rnn.phi, s, f.s[k]) | _crosses(rnn.theta, h, f.h[k + 1])
        h_prev[:n] = h
        first = n
    return total, magnitude, T - runs.start, kinked


def _crosses(activation, perturbed, base) -> np.ndarray:
    """True where a perturbed argument lies across (or the base value on) a kink."""
    crossed = np.zeros(np.shape(perturbed), dtype=bool)
    for kink in activation.kinks:
        crossed |= (np.sign(np.real(perturbed) - kink) != np.sign(base - kink)) | (base == kink)
    return crossed


def _base_values(f: Forward) -> dict[str, np.ndarray]:
    return {"s": f.s, "x": f.x, "h": f.h[1:], "w": np.array([f.w]), "v": np.array([f.v]),
            "h0": np.array([f.h0])}


def _scale(f: Forward, names) -> dict[str, np.ndarray]:
    base = _base_values(f)
    return {name: np.maximum(1.0, np.abs(base[QUANTITIES[name]])) for name in names}


def resolve_method(method: str, complex_step: bool) -> str:
    """The method to use for a model whose φ and θ take complex input (or not): "auto" made
    concrete; ValueError for an unknown method or a complex step the model cannot take."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if method == "auto":
        return "complex_step" if complex_step else "richardson"
    if method == "complex_step" and not complex_step:
        raise ValueError("the complex step needs φ and θ that take complex input; use central or richardson")
    return method


def finite_differences(rnn: ScalarRNN, f: Forward, outputs=DEFAULT_OUTPUTS,
                       method: str = "auto") -> dict[str, Estimate]:
    """Finite-difference estimates of the named gradients (keys of QUANTITIES) at the
    point of the forward pass `f`."""
    method = resolve_method(method, rnn.complex_step)
    scale = _scale(f, outputs)
    if method == "complex_step":
        return _complex_step(rnn, f, outputs, scale)
    base_step = EPS ** (1 / 3) if method == "central" else EPS ** (1 / 5)
    return _central(rnn, f, outputs, scale, base_step, richardson=method == "richardson")


def _complex_step(rnn, f, outputs, scale):
    deltas = {name: 1e-20 * scale[name] for name in outputs}
    runs, owned = _runs(f, [(name, 1j * deltas[name]) for name in outputs])
    total, magnitude, n_steps, kinked = _suffix_losses(rnn, f, runs)
    result = {}
    for name, idx in zip(outputs, owned):
        value = total[idx].imag / deltas[name]
        error = 4 * EPS * np.sqrt(n_steps[idx]) * magnitude[idx] / deltas[name]
        result[name] = _estimate(name, value, error, kinked[idx], "complex_step")
    return result


def _central(rnn, f, outputs, scale, base_step, richardson):
    """Central differences at δ and δ/2, all four directions in one batched pass."""
    fractions = (1.0, -1.0, 0.5, -0.5)
    perturbations = [(name, fraction * base_step * scale[name]) for name in outputs for fraction in fractions]
    runs, owned = _runs(f, perturbations)
    total, magnitude, _, kinked = _suffix_losses(rnn, f, runs)
    method = "richardson" if richardson else "central"
    result = {}
    for i, name in enumerate(outputs):
        plus, minus, plus_half, minus_half = owned[4 * i: 4 * i + 4]
        delta = base_step * scale[name]
        d_coarse = (total[plus] - total[minus]) / (2 * delta)
        d_fine = (total[plus_half] - total[minus_half]) / delta
        rounding = EPS * (magnitude[plus_half] + magnitude[minus_half]) / delta
        if richardson:   # error of D(δ/2) bounds that of the extrapolation
            value, truncation = (4 * d_fine - d_coarse) / 3, np.abs(d_fine - d_coarse) / 3
        else:            # D(δ) − D(δ/2) ≈ ¾·(truncation of D(δ))
            value, truncation = d_coarse, np.abs(d_fine - d_coarse) * 4 / 3
        kink = kinked[plus] | kinked[minus] | kinked[plus_half] | kinked[minus_half]
        result[name] = _estimate(name, value, truncation + rounding, kink, method)
    return result


def _estimate(name, value, error, kink, method) -> Estimate:
    per_step = QUANTITIES[name] in ("s", "x", "h")
    shape = (lambda a: a) if per_step else (lambda a: np.asarray(a).reshape(()))
    return Estimate(shape(value), shape(error), shape(kink), method)
