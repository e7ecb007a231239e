"""What the scalar (reference.finite_diff) and the vector (reference.vector_finite_diff)
finite-difference checks share: the methods, their step sizes, how the losses of the
perturbed runs combine into a value and an error estimate, and the Estimate they return.

A check perturbs a quantity q by a step per run and re-runs the forward pass from there;
R runs of one quantity give totals, magnitudes and kink flags of shape (P, R), one row per
perturbation of `perturbations` (P = 1 for a complex step, 4 for central and Richardson).

Methods, with δ = base·max(1, |q|) (`step_size`):
- "complex_step" / "complex_step_full": L(q + iδ), base 1e-20; ∂L/∂q = Im L / δ. No
  subtractive cancellation, so the only error is rounding, estimated as 4·ε·√n·M/δ over the
  n steps a run covers, M = Σ_k c_k·|Im weight_k·ℓ_k| (c_k: the loss's conditioning at ŷ_k).
  "complex_step" takes the complex steps once per step, locally, and carries them in real
  arithmetic (reference.finite_diff chains them, reference.vector_finite_diff carries each
  run's tangent); "complex_step_full" is the whole-forward complex re-run, its cross-check.
- "central": (L(q+δ) − L(q−δ)) / 2δ, base ε^(1/3); error estimate from the same difference at
  δ/2 (D(δ) − D(δ/2) ≈ ¾ of D(δ)'s truncation) plus rounding ε·(M(δ/2) + M(−δ/2))/δ.
- "richardson": central differences at δ and δ/2, base ε^(1/5), combined as
  (4·D(δ/2) − D(δ))/3 (truncation O(δ⁴)); error estimate |D(δ/2) − D(δ)|/3 plus rounding.
- "auto": "complex_step" where φ and θ take complex input, "richardson" otherwise.

A run that crosses a kink of φ or θ (or whose unperturbed value sits on one) is flagged
`kink` instead of being trusted; an estimate is flagged where any of its runs is.
"""
from dataclasses import dataclass

import numpy as np

EPS = np.finfo(np.float64).eps
METHODS = ("auto", "complex_step", "complex_step_full", "central", "richardson")
COMPLEX_METHODS = ("complex_step", "complex_step_full")
COMPLEX_STEP = 1e-20
BASE_STEP = {"complex_step": COMPLEX_STEP, "complex_step_full": COMPLEX_STEP,
             "central": EPS ** (1 / 3), "richardson": EPS ** (1 / 5)}
CENTRAL_FRACTIONS = np.array([1.0, -1.0, 0.5, -0.5])   # δ, −δ, δ/2, −δ/2: both central differences at once


@dataclass(frozen=True)
class Estimate:
    """Finite-difference derivatives of L, their estimated absolute errors, and where a kink
    made them unreliable. Per step (`per_step`): (T,) for the scalar model, (T, K) for the
    vector one, row t-1 for step t; else 0-d (scalar parameter) or (K,) (vector parameter).

    Vector estimates are directional: K derivatives ⟨∂L/∂q, u_k⟩ along `directions` u,
    (T, K, N, dim) per step or (K, *shape); None for element-wise ones (the scalar model's
    always), whose K runs over the elements in C order ((n, i) for a step)."""
    value: np.ndarray
    error: np.ndarray
    kink: np.ndarray
    method: str
    per_step: bool
    directions: np.ndarray | None = None

    def along(self, gradient) -> np.ndarray:
        """The same derivatives from an analytic gradient, shaped like `value`. `gradient` has
        the quantity's shape: (T,) or a scalar for the scalar model; batch-first (N, T, dim)
        per step for the vector model, or the parameter's shape."""
        gradient = np.asarray(gradient)
        if self.directions is not None:
            if self.per_step:
                return np.einsum("ntd,tknd->tk", gradient, self.directions)
            return np.tensordot(self.directions, gradient, axes=gradient.ndim)
        if self.per_step and gradient.ndim == 3:
            return np.swapaxes(gradient, 0, 1).reshape(gradient.shape[1], -1)
        return gradient.reshape(np.shape(self.value))


def resolve_method(method: str, complex_step: bool) -> str:
    """The method to use for a model whose φ and θ take complex input (or not): "auto" made
    concrete; ValueError for an unknown method or a complex step the model cannot take."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if method == "auto":
        return "complex_step" if complex_step else "richardson"
    if method in COMPLEX_METHODS and not complex_step:
        raise ValueError("the complex step needs φ and θ that take complex input; use central or richardson")
    return method


def step_size(method: str, scale: np.ndarray) -> np.ndarray:
    """δ per run: the method's base step times the size max(1, |q|) of what the run moves."""
    return BASE_STEP[method] * scale


def perturbations(method: str, delta: np.ndarray) -> np.ndarray:
    """The steps added to q, (P, R): iδ for a complex step, δ, −δ, δ/2, −δ/2 otherwise."""
    if method in COMPLEX_METHODS:
        return 1j * delta[None]
    return CENTRAL_FRACTIONS[:, None] * delta


def complex_step_error(magnitude: np.ndarray, n_steps: np.ndarray | int) -> np.ndarray:
    """Rounding bound of a complex-step derivative: 4·ε·√n·M for a sum of n steps' terms
    whose imaginary parts, divided by δ, have magnitudes summing to M."""
    return 4 * EPS * np.sqrt(n_steps) * magnitude


def local_derivative(function, at: np.ndarray, direction: np.ndarray | float = 1.0) -> np.ndarray:
    """The derivative of `function` at `at` along `direction` (elementwise: ∂function/∂z at
    each element), by one complex step: Im function(at + iδ·direction)/δ."""
    return function(at + 1j * COMPLEX_STEP * direction).imag / COMPLEX_STEP


def combine(method: str, totals: np.ndarray, magnitudes: np.ndarray, n_steps: np.ndarray,
            kinked: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, error, kink) per run, (R,) each, from the perturbed runs' loss totals, rounding
    magnitudes and kink flags, (P, R) in the order of `perturbations`; n_steps (R,) steps each
    run covers, delta (R,)."""
    kink = np.asarray(kinked.any(axis=0))
    if method in COMPLEX_METHODS:
        return totals[0].imag / delta, complex_step_error(magnitudes[0] / delta, n_steps), kink
    plus, minus, plus_half, minus_half = totals
    d_coarse = (plus - minus) / (2 * delta)
    d_fine = (plus_half - minus_half) / delta
    rounding = EPS * (magnitudes[2] + magnitudes[3]) / delta
    if method == "richardson":   # error of D(δ/2) bounds that of the extrapolation
        value, truncation = (4 * d_fine - d_coarse) / 3, np.abs(d_fine - d_coarse) / 3
    else:                        # D(δ) − D(δ/2) ≈ ¾·(truncation of D(δ))
        value, truncation = d_coarse, np.abs(d_fine - d_coarse) * 4 / 3
    return value, truncation + rounding, kink
