"""The vector forms of the classic BPTT mistakes (reference/mistakes.py): one registry entry
each, the vector reference's BPTT (reference.vector.BPTT) with one piece replaced, and a
paragraph for the student in the vector model's notation. Entries keep the scalar
catalogue's id where the mistake is the same (missing_recurrent_term), and name the vector
parameter where the scalar one is w (dw_uses_h_t becomes dWh_uses_h_t).

The grader names a mistake when it reproduces a wrong output of a vector problem, in the
contract's layout (grader/diagnosis.py), and audits which vector problems catch which
(grader/audit.py). Each is a reference.mistakes.Mistake with one variant, without parameters.
"""
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from reference.mistakes import Mistake, Variants
from reference.vector import CORRECT_BPTT, GRADIENT_SHAPES, VectorForward, VectorRNN, backward, direct_dh

EVERY_OUTPUT = tuple(GRADIENT_SHAPES)

VECTOR_MISTAKES: dict[str, Mistake] = {}


def register(mistake: Mistake) -> Mistake:
    VECTOR_MISTAKES[mistake.id] = mistake
    return mistake


def one_change(**pieces) -> Callable[[VectorRNN, VectorForward, dict], Variants]:
    """The variant of reference.vector's BPTT with `pieces` (of reference.vector.BPTT) replaced."""
    bptt = replace(CORRECT_BPTT, **pieces)
    return lambda rnn, f, reference: Variants.single(backward(rnn, f, bptt))


def _only_last_step(dh: np.ndarray) -> np.ndarray:
    """dh_t kept at t = T, zero before; (N, T, H)."""
    kept = np.zeros_like(dh)
    kept[:, -1] = dh[:, -1]
    return kept


def _one_step(f: VectorForward) -> str | None:
    return "T = 1" if f.x.shape[1] == 1 else None


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
    one_change(direct=lambda rnn, f: _only_last_step(direct_dh(rnn, f))),
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
    one_change(dL_dWh=lambda f, ds: np.einsum("ntk,nth->kh", f.h[:, 1:], ds)),
    "In s_t = x_t·Wx + h_{t−1}·Wh + b, Wh multiplies h_{t−1}, so ∂L/∂Wh = Σ_t h_{t−1}ᵀ·∂L/∂s_t. "
    "Your ∂L/∂Wh matches the sum with h_t instead: the state is off by one step (the cache of "
    "step t holds prev_h = h_{t−1}, not next_h)."))

register(Mistake(
    "dWh_not_accumulated", "∂L/∂Wh = h_0ᵀ·∂L/∂s_1, one term", ("dL_dWh",),
    one_change(dL_dWh=lambda f, ds: f.h[:, 0].T @ ds[:, 0]),
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
