"""The vector forms of the classic BPTT mistakes (reference/mistakes.py): one registry entry
each, the vector reference's BPTT (reference.vector.BPTT) with one piece replaced, and a
paragraph for the student in the vector model's notation. Entries keep the scalar
catalogue's id where the mistake is the same (missing_recurrent_term), and name the vector
parameter where the scalar one is w (dw_uses_h_t becomes dWh_uses_h_t).

The grader names a mistake when it reproduces a wrong output of a vector problem, in the
contract's layout (grader/diagnosis.py), and audits which vector problems catch which
(grader/audit.py). Each is a reference.mistakes.Mistake with one variant, without parameters,
but truncated_recursion (one per k) and recurrence_uses_Wx (none where D ≠ H: it raises there).
"""
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from reference.mistakes import AUDITED_K, SWEEP_ELEMENTS, Mistake, Variants, first_reason
from reference.step_sums import summed_products
from reference.vector import (
    CORRECT_BPTT,
    GRADIENT_SHAPES,
    VectorForward,
    VectorRNN,
    backward,
    gradients,
    output_gradient,
)

EVERY_OUTPUT = tuple(GRADIENT_SHAPES)
SUMS = ("dL_dx", "dL_dWx", "dL_dWh", "dL_db", "dL_dh0")     # the pieces of BPTT that sum ∂L/∂s_t after the recursion

VECTOR_MISTAKES: dict[str, Mistake] = {}


def register(mistake: Mistake) -> Mistake:
    VECTOR_MISTAKES[mistake.id] = mistake
    return mistake


def one_change(**pieces) -> Callable[[VectorRNN, VectorForward, dict], Variants]:
    """The variant of reference.vector's BPTT with `pieces` (of reference.vector.BPTT) replaced;
    where they are sums only, taken of the correct ∂L/∂s_t and ∂L/∂h_t, beside the correct
    other sums (`reference`'s): neither the recursion nor an unchanged sum is computed again."""
    bptt = replace(CORRECT_BPTT, **pieces)

    def sums_changed(rnn: VectorRNN, f: VectorForward, reference: dict) -> Variants:
        correct: dict[str, Any] = {name: (lambda *_, value=reference[name]: value)
                                   for name in SUMS if name not in pieces}
        dz = None if rnn.upstream else output_gradient(rnn, f)
        return Variants.single(gradients(f, replace(bptt, **correct), reference["dL_ds"], reference["dL_dh"], dz))

    if set(pieces) <= set(SUMS):
        return sums_changed
    return lambda rnn, f, reference: Variants.single(backward(rnn, f, bptt))


def _where_D_is_H(**pieces) -> Callable[[VectorRNN, VectorForward, dict], Variants]:
    """one_change(**pieces) where D = H; no variant elsewhere (the pieces do not fit)."""
    changed = one_change(**pieces)
    return lambda rnn, f, reference: changed(rnn, f, reference) if f.sizes.D == f.sizes.H else Variants((), {})


def _at_last_step(f: VectorForward, dh: np.ndarray | float) -> np.ndarray:
    """(N, T, H) zero but at t = T, where it is `dh` (N, H, or a number for every element)."""
    kept = np.zeros_like(f.s)
    kept[:, -1] = dh
    return kept


def _direct(rnn: VectorRNN, f: VectorForward, dz) -> np.ndarray:
    return CORRECT_BPTT.direct(rnn, f, dz)


def _one_step(f: VectorForward) -> str | None:
    return "T = 1" if f.x.shape[1] == 1 else None


def truncated_recursions(rnn: VectorRNN, f: VectorForward, reference: dict) -> Variants:
    """BPTT cut after k steps, for every k = 2..min(T−1, max(3, SWEEP_ELEMENTS/(N·T·H))) (k = 1
    is missing_recurrent_term, k ≥ T the correct BPTT): ∂L/∂s_t hears only the losses of steps
    t..t+k−1, ∂L/∂s_t^(k) = (∂L/∂h_t|direct + ∂L/∂s_{t+1}^(k−1)·Whᵀ) ⊙ φ'(s_t) with
    ∂L/∂s^(0) = 0 and ∂L/∂s_{T+1} = 0: one whole-sequence pass per k."""
    N, T, H = f.s.shape
    K = min(T - 1, max(AUDITED_K, SWEEP_ELEMENTS // (N * T * H)))
    dz = None if rnn.upstream else output_gradient(rnn, f)
    direct, dphi = _direct(rnn, f, dz), CORRECT_BPTT.state_derivative(rnn, f)
    ds, outputs = np.zeros_like(direct), dict[str, np.ndarray]()
    for k in range(1, K + 1):
        dh = direct.copy()
        dh[:, :-1] += ds[:, 1:] @ f.params.Wh.T
        ds = dh * dphi
        for name, value in (gradients(f, CORRECT_BPTT, ds, dh, dz) if k >= 2 else {}).items():
            # each k's gradients written into their column as they come: never a second copy of them all
            outputs.setdefault(name, np.empty((*np.shape(value), K - 1)))[..., k - 2] = value
    return Variants(tuple({"k": k} for k in range(2, K + 1)), outputs)


register(Mistake(
    "missing_recurrent_term", "∂L/∂s_{t+1}·Whᵀ dropped", EVERY_OUTPUT,
    one_change(recurrent=lambda f: np.zeros_like(f.params.Wh)),
    "h_t feeds both step t's own output and the next state s_{t+1} = x_{t+1}·Wx + h_t·Wh + b, "
    "so ∂L/∂h_t = dh_t + ∂L/∂s_{t+1}·Whᵀ, and the second term is what carries later losses back "
    "in time (CS231n's dprev_h, Coursera's da_prevt). Your numbers match the recursion without it: "
    "each step sees only its own upstream gradient, right at t = T and wrong before.",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "activation_derivative_at_h", "φ'(h_t) instead of φ'(s_t)", EVERY_OUTPUT,
    one_change(state_derivative=lambda rnn, f: rnn.phi.derivative(f.h[:, 1:])),
    "h_t = φ(s_t), so ∂h_t/∂s_t = φ'(s_t), the derivative at the pre-activation. Your numbers "
    "match φ' applied to h_t instead: for tanh, 1 − tanh²(h_t) where 1 − h_t² belongs (h_t is "
    "already tanh(s_t)).",
    blind_spot=lambda rnn, f: (f"φ = {rnn.phi.name}, whose φ'(h_t) = φ'(s_t)"
                               if rnn.phi.name in ("identity", "relu", "leaky_relu") else None)))

register(Mistake(
    "missing_local_term", "only dh_T enters; dh_t for t < T dropped", EVERY_OUTPUT,
    one_change(direct=lambda rnn, f, dz: _at_last_step(f, _direct(rnn, f, dz)[:, -1])),
    "Every ∂L/∂h_t gets its own step's upstream gradient dh_t (∂L/∂h_t through step t's output) "
    "besides what flows back from s_{t+1}. Your numbers match a recursion where only dh_T enters, "
    "at t = T, and earlier steps merely pass the gradient on: add dh[:, t] to the carried gradient "
    "at every step.",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "nonzero_boundary", "∂L/∂s_{T+1} = 1 instead of 0", EVERY_OUTPUT, one_change(boundary=1.0),
    "BPTT starts at t = T with ∂L/∂s_{T+1} = 0 (CS231n's dprev_h and Coursera's da_prevt start "
    "as zeros): there is no step T+1. Your numbers match a start of ones, so they are wrong from "
    "t = T on."))

register(Mistake(
    "dWh_uses_h_t", "Σ_t h_tᵀ·∂L/∂s_t for ∂L/∂Wh", ("dL_dWh",),
    one_change(dL_dWh=lambda f, ds, dh: summed_products(f.h[:, 1:], ds)),
    "In s_t = x_t·Wx + h_{t−1}·Wh + b, Wh multiplies h_{t−1}, so ∂L/∂Wh = Σ_t h_{t−1}ᵀ·∂L/∂s_t. "
    "Your ∂L/∂Wh matches the sum with h_t instead: the state is off by one step (the cache of "
    "step t holds prev_h = h_{t−1}, not next_h)."))

register(Mistake(
    "dWh_not_accumulated", "∂L/∂Wh = h_0ᵀ·∂L/∂s_1, one term", ("dL_dWh",),
    one_change(dL_dWh=lambda f, ds, dh: f.h[:, 0].T @ ds[:, 0]),
    "Wh is shared by every step, so its gradient sums all of them: ∂L/∂Wh = Σ_t h_{t−1}ᵀ·∂L/∂s_t. "
    "Your ∂L/∂Wh matches one term, h_0ᵀ·∂L/∂s_1, the last one BPTT computes: it was assigned (=) "
    "in the loop instead of accumulated (+=).",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "dh0_from_wrong_step", "∂L/∂h_0 = ∂L/∂s_T·Whᵀ, the gradient of h_{T−1}", ("dL_dh0",),
    one_change(dL_dh0=lambda f, ds: ds[:, -1] @ f.params.Wh.T),
    "h_0 enters only through s_1 = x_1·Wx + h_0·Wh + b, so ∂L/∂h_0 = ∂L/∂s_1·Whᵀ: the gradient "
    "carried back after the last step of the backward loop (t = 1). Your ∂L/∂h_0 matches "
    "∂L/∂s_T·Whᵀ, the gradient of h_{T−1}, taken in the loop's first step.",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "output_derivative_uses_phi", "φ'(z_t) where θ'(z_t) belongs", EVERY_OUTPUT,
    one_change(output_derivative=lambda rnn, f: rnn.phi.derivative(f.z)),
    "The prediction is ŷ_t = θ(z_t) with z_t = h_t·Wy + by, so ∂L/∂z_t = ∂L/∂ŷ_t·θ'(z_t): the "
    "derivative of the output activation θ. Your numbers match φ'(z_t) in its place (the seed "
    "question's own typo). φ' belongs to h_t = φ(s_t) only, and is evaluated at s_t.",
    blind_spot=lambda rnn, f: first_reason((rnn.upstream, "no output layer"),
                                           (not rnn.upstream and rnn.phi.name == rnn.theta.name, "φ = θ")),
    in_output_layer=True))

register(Mistake(
    "activation_derivative_omitted", "no φ'(s_t): ∂L/∂s_t = ∂L/∂h_t", EVERY_OUTPUT,
    one_change(state_derivative=lambda rnn, f: np.ones_like(f.s)),
    "h_t = φ(s_t), so ∂L/∂s_t = ∂L/∂h_t ⊙ φ'(s_t) (for tanh, (1 − h_t²) ⊙ ∂L/∂h_t). Your numbers "
    "match the recursion without the factor φ'(s_t): the gradient passes through the activation "
    "as if φ were the identity.",
    blind_spot=lambda rnn, f: first_reason((rnn.phi.name == "identity", "φ = identity"))))

register(Mistake(
    "recurrence_uses_Wx", "∂L/∂s_{t+1}·Wxᵀ where ∂L/∂s_{t+1}·Whᵀ belongs", EVERY_OUTPUT,
    _where_D_is_H(recurrent=lambda f: f.params.Wx.T),
    "In s_{t+1} = x_{t+1}·Wx + h_t·Wh + b, h_t reaches s_{t+1} through Wh, so the recursion "
    "carries ∂L/∂s_{t+1}·Whᵀ. Wx multiplies the input x_{t+1}, not the state: your numbers match "
    "∂L/∂s_{t+1}·Wxᵀ (which fits only where D = H, and raises elsewhere).",
    blind_spot=lambda rnn, f: first_reason((f.sizes.D != f.sizes.H, "D ≠ H: Wxᵀ does not fit there"),
                                           (f.sizes.T == 1, "T = 1"))))

register(Mistake(
    "recurrent_weight_not_transposed", "∂L/∂s_{t+1}·Wh where ∂L/∂s_{t+1}·Whᵀ belongs", EVERY_OUTPUT,
    one_change(recurrent=lambda f: f.params.Wh),
    "s_{t+1} = x_{t+1}·Wx + h_t·Wh + b, so ∂L/∂h_t gets ∂L/∂s_{t+1}·Whᵀ: the transpose. Wh is "
    "square, so the product without the transpose runs, and gives other numbers: yours match it.",
    blind_spot=lambda rnn, f: first_reason((_one_step(f) is not None, "T = 1"),
                                           (np.array_equal(f.params.Wh, f.params.Wh.T), "Wh is symmetric"))))

register(Mistake(
    "truncated_recursion", "the recursion cut after k steps", EVERY_OUTPUT, truncated_recursions,
    "Your numbers match BPTT cut after k steps: ∂L/∂s_t collects the upstream gradients of steps "
    "t..t+k−1 only, as truncated BPTT does on purpose. Full BPTT carries ∂L/∂s_{t+1}·Whᵀ all the "
    "way from t = T down to t = 1, so that s_t hears every later step.",
    blind_spot=lambda rnn, f: first_reason((f.sizes.T <= AUDITED_K, f"T ≤ {AUDITED_K}")),
    audit_params={"k": AUDITED_K}))

register(Mistake(
    "upstream_ignored", "ones at t = T in place of the upstream dh_t", EVERY_OUTPUT,
    one_change(direct=lambda rnn, f, dz: _at_last_step(f, 1.0)),
    "Every step's upstream gradient dh_t = ∂L/∂h_t|direct enters BPTT at step t. Your numbers "
    "match a recursion that ignores it: a matrix of ones seeded at t = T (as for a loss L = Σ h_T), "
    "nothing added before. Add dh[:, t] to the carried gradient at every step."))

register(Mistake(
    "upstream_summed_at_T", "Σ_t dh_t added once, at t = T", EVERY_OUTPUT,
    one_change(direct=lambda rnn, f, dz: _at_last_step(f, _direct(rnn, f, dz).sum(axis=1))),
    "Step t's upstream gradient dh_t enters BPTT at step t, and from there reaches s_t, s_{t−1}, … "
    "only. Your numbers match every dh_t added once at t = T (the upstream array summed over t): "
    "later steps' gradients then reach states they do not depend on.",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "dx_added_to_every_step", "Σ_t ∂L/∂s_t·Wxᵀ in every time slice of ∂L/∂x", ("dL_dx",),
    one_change(dL_dx=lambda f, ds: np.broadcast_to((ds @ f.params.Wx.T).sum(axis=1, keepdims=True),
                                                   f.x.shape).copy()),
    "x_t enters only s_t, so ∂L/∂x_t = ∂L/∂s_t·Wxᵀ goes into time slice t of dx alone. Your dx "
    "holds the sum over every step in each slice: each step's dx_t was added into the whole array "
    "(dx += …) instead of its own slice (dx[:, t] = …).",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "db_batch_mean", "∂L/∂b averaged over the batch", ("dL_db",),
    one_change(dL_db=lambda f, ds: ds.sum(axis=(0, 1)) / f.sizes.N),
    "The loss sums over the N sequences of the batch, and b is added to every one of them, so "
    "∂L/∂b = Σ_t Σ_n ∂L/∂s_t[n]: a sum over the batch. Your ∂L/∂b matches the batch mean "
    "(N times too small).",
    blind_spot=lambda rnn, f: first_reason((f.sizes.N == 1, "N = 1"))))

register(Mistake(
    "dWx_not_accumulated", "∂L/∂Wx = x_1ᵀ·∂L/∂s_1, one term", ("dL_dWx",),
    one_change(dL_dWx=lambda f, ds: f.x[:, 0].T @ ds[:, 0]),
    "Wx is shared by every step, so its gradient sums all of them: ∂L/∂Wx = Σ_t x_tᵀ·∂L/∂s_t. "
    "Your ∂L/∂Wx matches one term, x_1ᵀ·∂L/∂s_1, the last one BPTT computes: it was assigned (=) "
    "in the loop instead of accumulated (+=).",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "db_not_accumulated", "∂L/∂b = Σ_n ∂L/∂s_1, one term", ("dL_db",),
    one_change(dL_db=lambda f, ds: ds[:, 0].sum(axis=0)),
    "b is shared by every step, so its gradient sums all of them: ∂L/∂b = Σ_t Σ_n ∂L/∂s_t. Your "
    "∂L/∂b matches one term, that of t = 1, the last one BPTT computes: it was assigned (=) in the "
    "loop instead of accumulated (+=).",
    blind_spot=lambda rnn, f: _one_step(f)))

register(Mistake(
    "accumulator_added_to_itself", "∂L/∂Wx, ∂L/∂Wh, ∂L/∂b left at zero (dW += dW)",
    ("dL_dWx", "dL_dWh", "dL_db"),
    one_change(dL_dWx=lambda f, ds: np.zeros_like(f.params.Wx), dL_dWh=lambda f, ds, dh: np.zeros_like(f.params.Wh),
               dL_db=lambda f, ds: np.zeros_like(f.params.b)),
    "Your parameter gradient is exactly zero: it starts at zero and the loop adds the accumulator "
    "to itself (dW += dW) instead of each step's term (dW += its product with ∂L/∂s_t), so it "
    "stays zero."))

register(Mistake(
    "dW_uses_gradient_for_state", "Σ_t (∂L/∂h_t)ᵀ·∂L/∂s_t for ∂L/∂Wh", ("dL_dWh",),
    one_change(dL_dWh=lambda f, ds, dh: summed_products(dh, ds)),
    "In s_t = x_t·Wx + h_{t−1}·Wh + b, Wh multiplies the state h_{t−1}, so ∂L/∂Wh = "
    "Σ_t h_{t−1}ᵀ·∂L/∂s_t. Your ∂L/∂Wh matches the sum with the gradient ∂L/∂h_t (the step's "
    "incoming gradient) where the previous state h_{t−1} belongs."))

register(Mistake(
    "dh0_missing_Wh", "∂L/∂h_0 = ∂L/∂s_1, without Whᵀ", ("dL_dh0",),
    one_change(dL_dh0=lambda f, ds: ds[:, 0].copy()),
    "h_0 enters only through s_1 = x_1·Wx + h_0·Wh + b, so ∂L/∂h_0 = ∂L/∂s_1·Whᵀ. Your ∂L/∂h_0 "
    "matches ∂L/∂s_1 without the factor Whᵀ.",
    blind_spot=lambda rnn, f: first_reason((np.array_equal(f.params.Wh, np.eye(len(f.params.Wh))), "Wh = I"))))
