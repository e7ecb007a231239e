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
  n steps a run covers. Needs every function analytic (no relu-family).
- "central": (L(q+δ) − L(q−δ)) / 2δ with δ = ε^(1/3)·max(1, |q|); error estimate from the
  same difference at δ/2 plus rounding ε·Σ_k|ℓ_k|/δ.
- "richardson": central differences at δ and δ/2 (δ = ε^(1/5)·max(1, |q|)) combined as
  (4·D(δ/2) − D(δ))/3, truncation O(δ⁴); error estimate |D(δ/2) − D(δ)|/3 plus rounding.
- "auto": complex_step for analytic models, richardson otherwise.

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
    """R perturbed forward runs, sorted by the 0-based step at which each starts."""
    start: np.ndarray      # (R,) int: first step re-run
    w: np.ndarray          # (R,) the run's w
    v: np.ndarray          # (R,) the run's v
    h_prev: np.ndarray     # (R,) offset added to h_{start} (h_0 runs)
    ds: np.ndarray         # (R,) offset added to s at the start step
    dx: np.ndarray         # (R,) offset added to x at the start step
    dh: np.ndarray         # (R,) offset added to h at the start step


def _runs(f: Forward, names, steps: np.ndarray) -> tuple[_Runs, list[slice]]:
    """One run per element of each quantity, perturbed by steps[quantity] (complex or
    real). Returns the runs and, per quantity, the slice of runs (in start order) it owns."""
    T = len(f.x)
    cols = {k: [] for k in ("start", "w", "v", "h_prev", "ds", "dx", "dh")}
    dtype = np.result_type(*(steps[n] for n in names))
    for name in names:
        q = QUANTITIES[name]
        delta = np.asarray(steps[name], dtype=dtype)
        n = T if q in ("s", "x", "h") else 1
        zero = np.zeros(n, dtype=dtype)
        cols["start"].append(np.arange(T) if n == T else np.zeros(1, dtype=int))
        cols["w"].append(f.w + (delta if q == "w" else zero))
        cols["v"].append(f.v + (delta if q == "v" else zero))
        cols["h_prev"].append(delta if q == "h0" else zero)
        for key, quantity in (("ds", "s"), ("dx", "x"), ("dh", "h")):
            cols[key].append(delta if q == quantity else zero)
    owners = np.concatenate([np.full(len(c), i) for i, c in enumerate(cols["start"])])
    arrays = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.argsort(arrays["start"], kind="stable")
    runs = _Runs(**{k: v[order] for k, v in arrays.items()})
    positions = np.argsort(order)   # positions[j]: where original run j now sits
    return runs, [positions[owners == i] for i in range(len(names))]


def _suffix_losses(rnn: ScalarRNN, f: Forward, runs: _Runs):
    """Run every perturbed forward from its start step to T.

    Returns per run: Σ_{k ≥ start} weight_k·ℓ_k, Σ_k |weight_k·ℓ_k| (of the imaginary
    parts for a complex step: for rounding estimates), the number of steps run, and whether a kink of φ or θ was crossed."""
    T = len(f.x)
    weights = rnn.loss.weights(T)
    R = len(runs.start)
    dtype = np.result_type(runs.w, runs.ds, float)
    h_prev = np.zeros(R, dtype=dtype)
    total = np.zeros(R, dtype=dtype)
    magnitude = np.zeros(R)
    kinked = np.zeros(R, dtype=bool)
    active_until = np.searchsorted(runs.start, np.arange(T), side="right")
    first = 0
    for k in range(T):
        n = active_until[k]
        h_prev[first:n] = f.h[k] + runs.h_prev[first:n]   # runs starting at step k+1
        new = slice(first, n)
        s = runs.w[:n] * h_prev[:n] + runs.v[:n] * f.x[k]
        s[new] += runs.v[new] * runs.dx[new] + runs.ds[new]
        h = rnn.phi.value(s)
        h[new] += runs.dh[new]
        term = weights[k] * rnn.loss.term(rnn.theta.value(h), f.y[k])
        total[:n] += term
        magnitude[:n] += np.abs(term.imag if np.iscomplexobj(term) else term)
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


def finite_differences(rnn: ScalarRNN, f: Forward, outputs=DEFAULT_OUTPUTS,
                       method: str = "auto") -> dict[str, Estimate]:
    """Finite-difference estimates of the named gradients (keys of QUANTITIES) at the
    point of the forward pass `f`."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if method == "auto":
        method = "complex_step" if rnn.analytic else "richardson"
    if method == "complex_step" and not rnn.analytic:
        raise ValueError("the complex step needs analytic φ and θ; use central or richardson")
    scale = _scale(f, outputs)
    if method == "complex_step":
        return _complex_step(rnn, f, outputs, scale)
    base_step = EPS ** (1 / 3) if method == "central" else EPS ** (1 / 5)
    return _central(rnn, f, outputs, scale, base_step, richardson=method == "richardson")


def _complex_step(rnn, f, outputs, scale):
    deltas = {name: 1e-20 * scale[name] for name in outputs}
    runs, owned = _runs(f, outputs, {name: 1j * d for name, d in deltas.items()})
    total, magnitude, n_steps, kinked = _suffix_losses(rnn, f, runs)
    result = {}
    for name, idx in zip(outputs, owned):
        value = total[idx].imag / deltas[name]
        error = 4 * EPS * np.sqrt(n_steps[idx]) * magnitude[idx] / deltas[name]
        result[name] = _estimate(name, value, error, kinked[idx], "complex_step")
    return result


def _central_quotient(rnn, f, outputs, deltas):
    """Per name: (L(q+δ) − L(q−δ))/2δ, its rounding error, and the kink flags."""
    (plus, m_plus, _, k_plus), owned = _run(rnn, f, outputs, deltas)
    (minus, m_minus, _, k_minus), _ = _run(rnn, f, outputs, {n: -d for n, d in deltas.items()})
    return {name: ((plus[i] - minus[i]) / (2 * deltas[name]),
                   EPS * (m_plus[i] + m_minus[i]) / (2 * deltas[name]),
                   k_plus[i] | k_minus[i])
            for name, i in zip(outputs, owned)}


def _run(rnn, f, outputs, steps):
    runs, owned = _runs(f, outputs, steps)
    return _suffix_losses(rnn, f, runs), owned


def _central(rnn, f, outputs, scale, base_step, richardson):
    coarse = _central_quotient(rnn, f, outputs, {n: base_step * scale[n] for n in outputs})
    fine = _central_quotient(rnn, f, outputs, {n: base_step * scale[n] / 2 for n in outputs})
    method = "richardson" if richardson else "central"
    result = {}
    for name in outputs:
        (d_coarse, _, k_coarse), (d_fine, rounding, k_fine) = coarse[name], fine[name]
        if richardson:   # error of D(δ/2) bounds that of the extrapolation
            value, truncation = (4 * d_fine - d_coarse) / 3, np.abs(d_fine - d_coarse) / 3
        else:            # D(δ) − D(δ/2) ≈ ¾·(truncation of D(δ))
            value, truncation = d_coarse, np.abs(d_fine - d_coarse) * 4 / 3
        result[name] = _estimate(name, value, truncation + rounding, k_coarse | k_fine, method)
    return result


def _estimate(name, value, error, kink, method) -> Estimate:
    per_step = QUANTITIES[name] in ("s", "x", "h")
    shape = (lambda a: a) if per_step else (lambda a: np.asarray(a).reshape(()))
    return Estimate(shape(value), shape(error), shape(kink), method)
