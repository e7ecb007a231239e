"""The catalogue of classic BPTT mistakes: one registry entry each.

A mistake is a model's correct BPTT (reference.scalar.BPTT here; reference.vector.BPTT in
reference/vector_mistakes.py, the same `Mistake` type) with one piece replaced, plus a
paragraph for the student. Run on a problem's forward pass it gives its `Variants`: the
gradients it would return, one column per parameter value (`truncated_recursion` has one
per k; the others one, without parameters). The grader names a mistake when a variant
reproduces a submission's wrong output (grader/diagnosis.py) and audits which problems
catch which mistake (grader/audit.py).

Diagnosis runs every mistake on every failing problem, so none loops over t in Python: a
changed recursion is solved for all t at once (`backward_at_once`), a mistake in the sums
(∂L/∂w, ∂L/∂v, ∂L/∂h_0) reuses the correct ∂L/∂s_t, and the truncations are one sweep.
"""
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from reference.scalar import BPTT, CORRECT_BPTT, GRADIENT_SHAPES, Forward, ScalarRNN, gradients

EVERY_OUTPUT = tuple(GRADIENT_SHAPES)
SUMS = ("dL_dw", "dL_dv", "dL_dh0")     # the pieces that only add up ∂L/∂s_t
AUDITED_K = 3                   # the truncation the audit tries
SWEEP_ELEMENTS = 2 ** 15        # truncated_recursion tries k ≤ max(3, 2¹⁵/T): every k for T ≤ 181
ROUNDING = 1e-12                # a variant this close to the correct value (relative to its size) is it


@dataclass(frozen=True)
class Variants:
    """A mistake's gradients on one problem: `outputs[name][..., i]` is what `params[i]`
    gives, shape GRADIENT_SHAPES[name](T) + (len(params),)."""
    params: tuple[dict, ...]
    outputs: dict[str, np.ndarray]

    @classmethod
    def single(cls, gradients: dict) -> "Variants":
        """The one variant, without parameters, of a mistake that returns `gradients`."""
        return cls(({},), {name: np.asarray(value)[..., None] for name, value in gradients.items()})

    def of(self, params: dict) -> dict[str, np.ndarray] | None:
        """The gradients of the variant with these params; None if there is none."""
        if params not in self.params:
            return None
        i = self.params.index(params)
        return {name: values[..., i] for name, values in self.outputs.items()}


def same_up_to_rounding(variant, correct) -> bool:
    """Whether one output of a variant is the correct one, but for rounding."""
    variant, correct = np.asarray(variant), np.asarray(correct)
    return bool(np.all(np.abs(variant - correct) <= ROUNDING * np.abs(correct).max(initial=0.0)))


@dataclass(frozen=True)
class Mistake:
    """One classic mistake of one model: `variants(rnn, f, reference)` for that model's
    network, forward pass and correct gradients."""
    id: str
    change: str                     # the one change, in the model's notation
    outputs: tuple[str, ...]        # the reference gradients it can change
    variants: Callable[[Any, Any, dict], Variants]
    explanation: str                # a paragraph for the student
    # a known reason why it changes nothing on a problem (e.g. "φ = θ"), or None
    blind_spot: Callable[[Any, Any], str | None] = lambda rnn, f: None
    audit_params: dict = field(default_factory=dict)   # the variant the audit tries
    # a mistake in the output layer's backward: not one a contract makes where it passes the
    # submission the upstream gradient ∂L/∂h_t (grader.contracts.Call.upstream)
    in_output_layer: bool = False

    def run(self, rnn, f, reference: dict) -> Variants:
        """Its variants on forward pass `f`, where the correct BPTT gives `reference` (every
        gradient by name, and possibly more). A mistake may overflow where the correct BPTT
        does not (say v where w belongs, |v| > 1): that is an inf, not a warning."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.variants(rnn, f, reference)


MISTAKES: dict[str, Mistake] = {}


def register(mistake: Mistake) -> Mistake:
    MISTAKES[mistake.id] = mistake
    return mistake


def solve_backwards(a: np.ndarray, b: np.ndarray, last: float) -> np.ndarray:
    """x with x_t = b_t + a_t·x_{t+1} for t = T..1 and x_{T+1} = last; a, b of shape (T,),
    index t-1. All t at once by doubling: after the pass with span d, (a_t, b_t) maps
    x_{t+2d} (or x_{T+1}) to x_t, so log2(T) whole-array passes replace the loop over t."""
    a, b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    span = 1
    while span < len(b):
        b[:-span] += a[:-span] * b[span:]
        a[:-span] *= a[span:]
        span *= 2
    return b + a * last if last else b


def backward_at_once(rnn: ScalarRNN, f: Forward, bptt: BPTT) -> dict:
    """reference.scalar.backward(rnn, f, bptt), without its loop over t: every step is linear
    in (∂L/∂ŷ_t, ∂L/∂s_{t+1}), so ∂L/∂s_t = b_t + a_t·∂L/∂s_{t+1} with b_t the step from
    ∂L/∂s_{t+1} = 0 and a_t the step from ∂L/∂ŷ_t = 0, ∂L/∂s_{t+1} = 1."""
    dy, dtheta, dphi = bptt.loss_gradient(rnn, f), bptt.output_derivative(rnn, f), bptt.state_derivative(rnn, f)
    w = bptt.recurrent_weight(f)
    ds = solve_backwards(bptt.step(0.0, 0.0, 1.0, w, dphi), bptt.step(dy, dtheta, 0.0, w, dphi), bptt.boundary)
    return gradients(f, bptt, ds, dh=dy * dtheta + np.append(ds[1:], bptt.boundary) * w)


def one_change(**pieces) -> Callable[[ScalarRNN, Forward, dict], Variants]:
    """The variants of the correct BPTT with `pieces` replaced: a single one, no parameters."""
    bptt = replace(CORRECT_BPTT, **pieces)

    def variants(rnn: ScalarRNN, f: Forward, reference: dict) -> Variants:
        if set(pieces) <= set(SUMS):
            values = gradients(f, bptt, reference["dL_ds"], reference["dL_dh"])
        else:
            values = backward_at_once(rnn, f, bptt)
        return Variants.single(values)
    return variants


def truncated_recursions(rnn: ScalarRNN, f: Forward, reference: dict) -> Variants:
    """BPTT cut after k steps, for every k = 2..min(T−1, max(3, SWEEP_ELEMENTS/T)) at once
    (k = 1 is missing_recurrent_term, k ≥ T the correct BPTT itself): ∂L/∂s_t hears only the losses of
    steps t..t+k−1. The loss m steps later reaches s_t through m factors w·φ'(s_i):
    ∂ℓ_{t+m}/∂s_t = ∂L/∂ŷ_{t+m}·θ'(h_{t+m})·φ'(s_{t+m})·Π_{i=t}^{t+m−1} w·φ'(s_i),
    and ∂L/∂s_t^(k) = Σ_{m<k} ∂ℓ_{t+m}/∂s_t: one vectorised pass per m, a cumulative sum over m."""
    T = len(f.x)
    K = min(T - 1, max(AUDITED_K, SWEEP_ELEMENTS // T))
    local = CORRECT_BPTT.loss_gradient(rnn, f) * CORRECT_BPTT.output_derivative(rnn, f)     # ∂L/∂ŷ_t·θ'(h_t)
    dphi = CORRECT_BPTT.state_derivative(rnn, f)                                    # φ'(s_t)
    reach = np.zeros((max(K, 1), T))                # reach[m, t-1] = ∂ℓ_{t+m}/∂s_t, 0 past T
    reach[0] = local * dphi
    for m in range(1, K):
        reach[m, :T - m] = f.w * dphi[:T - m] * reach[m - 1, 1:T - m + 1]
    ds = np.cumsum(reach, axis=0)                   # ds[k-1, t-1] = ∂L/∂s_t^(k)
    ds_next = np.zeros_like(ds)                     # ∂L/∂s_{t+1}^(k−1): 0 at t = T and for k = 1
    ds_next[1:, :-1] = ds[:-1, 1:]
    dh = local + ds_next * f.w
    return Variants(tuple({"k": k} for k in range(2, K + 1)), gradients(f, CORRECT_BPTT, ds[1:].T, dh[1:].T))


def _only_last_step(dy: np.ndarray) -> np.ndarray:
    """∂L/∂ŷ_t kept at t = T, zero before; shape (T,)."""
    return np.where(np.arange(len(dy)) == len(dy) - 1, dy, 0.0)


def first_reason(*reasons: tuple[bool, str]) -> str | None:
    """The first reason that applies, or None: a blind spot's answer."""
    return next((reason for applies, reason in reasons if applies), None)


register(Mistake(
    "output_derivative_uses_phi", "φ'(h_t) where θ'(h_t) belongs", EVERY_OUTPUT,
    one_change(output_derivative=lambda rnn, f: rnn.phi.derivative(f.h[1:])),
    "The prediction is ŷ_t = θ(h_t), so the local term of ∂L/∂h_t is ∂L/∂ŷ_t·θ'(h_t): the "
    "derivative of the output activation θ. Your numbers match φ'(h_t) in its place (the seed "
    "question's own typo). φ' belongs to h_t = φ(s_t) only, and is evaluated at s_t.",
    blind_spot=lambda rnn, f: first_reason((rnn.phi.name == rnn.theta.name, "φ = θ"))))

register(Mistake(
    "missing_recurrent_term", "∂L/∂s_{t+1}·w dropped", EVERY_OUTPUT,
    one_change(recurrent_weight=lambda f: 0.0),
    "h_t feeds both the prediction ŷ_t and the next state s_{t+1} = w·h_t + v·x_{t+1}, so "
    "∂L/∂h_t = ∂L/∂ŷ_t·θ'(h_t) + ∂L/∂s_{t+1}·w, and the second term is what carries later losses "
    "back in time. Your numbers match the recursion without it: each ∂L/∂s_t sees only its own "
    "step's loss, right at t = T (where ∂L/∂s_{T+1} = 0) and wrong before.",
    blind_spot=lambda rnn, f: first_reason((len(f.x) == 1, "T = 1"), (f.w == 0, "w = 0"))))

register(Mistake(
    "activation_derivative_at_h", "φ'(h_t) instead of φ'(s_t)", EVERY_OUTPUT,
    one_change(state_derivative=lambda rnn, f: rnn.phi.derivative(f.h[1:])),
    "h_t = φ(s_t), so ∂h_t/∂s_t = φ'(s_t), the derivative at the pre-activation s_t. Your numbers "
    "match φ' applied to h_t instead. (For tanh, 1 − h_t² is φ'(s_t) written through h_t; "
    "1 − tanh²(h_t) is φ'(h_t), the mistake.)",
    blind_spot=lambda rnn, f: first_reason((rnn.phi.name in ("identity", "relu", "leaky_relu"),
                                      f"φ = {rnn.phi.name}, whose φ'(h_t) = φ'(s_t)"))))

register(Mistake(
    "nonzero_boundary", "∂L/∂s_{T+1} = 1 instead of 0", EVERY_OUTPUT,
    one_change(boundary=1.0),
    "BPTT starts at t = T with ∂L/∂s_{T+1} = 0: there is no step T+1, so only its own loss flows "
    "into s_T. Your numbers match a start of ∂L/∂s_{T+1} = 1 (∂L/∂L = 1 starts backpropagation "
    "through L itself, not this recursion), so they are wrong from t = T on.",
    blind_spot=lambda rnn, f: first_reason((f.w == 0, "w = 0"))))

register(Mistake(
    "activation_derivative_omitted", "no φ'(s_t): ∂L/∂s_t = ∂L/∂h_t", EVERY_OUTPUT,
    one_change(state_derivative=lambda rnn, f: np.ones_like(f.s)),
    "h_t = φ(s_t), so ∂L/∂s_t = ∂L/∂h_t·φ'(s_t). Your numbers match the recursion without the "
    "factor φ'(s_t): the gradient is passed through the activation as if φ were the identity.",
    blind_spot=lambda rnn, f: first_reason((rnn.phi.name == "identity", "φ = identity"))))

register(Mistake(
    "recurrent_term_skips_phi_prime", "φ'(s_t) on the local term only", EVERY_OUTPUT,
    one_change(step=lambda dy, dtheta, ds_next, w, dphi: dy * dtheta * dphi + ds_next * w),
    "Both terms of ∂L/∂h_t reach s_t through h_t = φ(s_t), so both are multiplied by φ'(s_t): "
    "∂L/∂s_t = (∂L/∂ŷ_t·θ'(h_t) + ∂L/∂s_{t+1}·w)·φ'(s_t). Your numbers match "
    "∂L/∂ŷ_t·θ'(h_t)·φ'(s_t) + ∂L/∂s_{t+1}·w: a missing pair of brackets.",
    blind_spot=lambda rnn, f: first_reason((len(f.x) == 1, "T = 1"), (f.w == 0, "w = 0"),
                                     (rnn.phi.name == "identity", "φ = identity"))))

register(Mistake(
    "recurrence_uses_v", "v where w belongs in the recursion", EVERY_OUTPUT,
    one_change(recurrent_weight=lambda f: f.v),
    "In s_{t+1} = w·h_t + v·x_{t+1}, h_t reaches s_{t+1} through w, so the recursion carries "
    "∂L/∂s_{t+1}·w. v multiplies the input x_{t+1}, not the state; your numbers match "
    "∂L/∂s_{t+1}·v.",
    blind_spot=lambda rnn, f: first_reason((len(f.x) == 1, "T = 1"), (f.v == f.w, "v = w"))))

register(Mistake(
    "loss_derivative_sign", "∂L/∂ŷ_t with the wrong sign", EVERY_OUTPUT,
    one_change(loss_gradient=lambda rnn, f: -CORRECT_BPTT.loss_gradient(rnn, f)),
    "Your numbers are the reference's with the opposite sign: ∂L/∂ŷ_t is negated (for squared "
    "error, y_t − ŷ_t instead of ŷ_t − y_t). Every gradient then points uphill, and gradient "
    "descent would increase the loss."))

register(Mistake(
    "missing_local_term", "only ∂L/∂ŷ_T flows back", EVERY_OUTPUT,
    one_change(loss_gradient=lambda rnn, f: _only_last_step(CORRECT_BPTT.loss_gradient(rnn, f))),
    "Every ∂L/∂s_t gets its own step's loss, ∂L/∂ŷ_t·θ'(h_t), besides what flows back from "
    "s_{t+1}. Your numbers match a recursion where only the last step's loss enters, at t = T, "
    "and earlier steps merely pass it on, as if L were ℓ(ŷ_T, y_T) alone.",
    blind_spot=lambda rnn, f: first_reason((len(f.x) == 1, "T = 1"),
                                     (rnn.loss.name == "last_step_squared_error",
                                      "only the last step's loss exists"))))

register(Mistake(
    "truncated_recursion", "the recursion cut after k steps", EVERY_OUTPUT,
    truncated_recursions,
    "Your numbers match BPTT cut after k steps: ∂L/∂s_t collects the losses of steps t..t+k−1 "
    "only, as truncated BPTT does on purpose. Full BPTT carries ∂L/∂s_{t+1}·w all the way from "
    "t = T down to t = 1, so that s_t hears every later loss.",
    blind_spot=lambda rnn, f: first_reason((len(f.x) <= AUDITED_K, f"T ≤ {AUDITED_K}")),
    audit_params={"k": AUDITED_K}))

register(Mistake(
    "dw_uses_h_t", "Σ_t ∂L/∂s_t·h_t for ∂L/∂w", ("dL_dw",),
    one_change(dL_dw=lambda f, ds: f.h[1:] @ ds),
    "In s_t = w·h_{t−1} + v·x_t, w multiplies h_{t−1}, so ∂L/∂w = Σ_t ∂L/∂s_t·h_{t−1}. Your ∂L/∂w "
    "matches the sum with h_t instead: an off-by-one in the state's index (h[t-1] holds h_{t−1})."))

register(Mistake(
    "dw_not_accumulated", "∂L/∂w = ∂L/∂s_1·h_0, one term", ("dL_dw",),
    one_change(dL_dw=lambda f, ds: f.h[0] * ds[0]),
    "w is shared by every step, so its gradient sums all of them: ∂L/∂w = Σ_t ∂L/∂s_t·h_{t−1}. "
    "Your ∂L/∂w matches one term, ∂L/∂s_1·h_0, the last one BPTT computes: it was assigned (=) "
    "in the loop instead of accumulated (+=).",
    blind_spot=lambda rnn, f: first_reason((len(f.x) == 1, "T = 1"))))

register(Mistake(
    "dv_uses_h", "Σ_t ∂L/∂s_t·h_{t−1} for ∂L/∂v", ("dL_dv",),
    one_change(dL_dv=lambda f, ds: f.h[:-1] @ ds),
    "In s_t = w·h_{t−1} + v·x_t, v multiplies x_t, so ∂L/∂v = Σ_t ∂L/∂s_t·x_t. Your ∂L/∂v "
    "matches the sum with h_{t−1} in place of x_t: the formula for ∂L/∂w."))

register(Mistake(
    "dv_not_accumulated", "∂L/∂v = ∂L/∂s_1·x_1, one term", ("dL_dv",),
    one_change(dL_dv=lambda f, ds: f.x[0] * ds[0]),
    "v is shared by every step, so its gradient sums all of them: ∂L/∂v = Σ_t ∂L/∂s_t·x_t. "
    "Your ∂L/∂v matches one term, ∂L/∂s_1·x_1, the last one BPTT computes: it was assigned (=) "
    "in the loop instead of accumulated (+=).",
    blind_spot=lambda rnn, f: first_reason((len(f.x) == 1, "T = 1"))))

register(Mistake(
    "dh0_missing_w", "∂L/∂h_0 = ∂L/∂s_1, without w", ("dL_dh0",),
    one_change(dL_dh0=lambda f, ds: ds[0]),
    "h_0 enters only through s_1 = w·h_0 + v·x_1, so ∂L/∂h_0 = ∂L/∂s_1·w. Your ∂L/∂h_0 matches "
    "∂L/∂s_1 without the factor w.",
    blind_spot=lambda rnn, f: first_reason((f.w == 1, "w = 1"))))
