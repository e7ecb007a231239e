"""Losses ℓ: one registry entry each.

A loss is L = Σ_t weight_t · term(ŷ_t, y_t) over t = 1..T, so that per-step pieces can be
evaluated on their own (the finite-difference checker needs that) and
∂L/∂ŷ_t = weight_t · term'(ŷ_t, y_t). `term` accepts complex ŷ for the complex step.
A term is element-wise, except for a loss over `classes`, whose term reduces the last axis
(the O outputs of one step) and so needs a vector model with O ≥ 2.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Loss:
    name: str
    term: Callable[[np.ndarray, np.ndarray], np.ndarray]
    term_derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]   # ∂term/∂ŷ
    weights: Callable[[int], np.ndarray]                               # T → shape (T,)
    prediction_range: tuple[float, float] | None = None   # θ's range must lie inside
    label_range: tuple[float, float] | None = None        # closed interval for y_t
    # How much rounding ŷ_t (relative error ε) can magnify the error of term'(ŷ_t, y_t):
    # ŷ → shape (T,). 1 where the term is well conditioned.
    conditioning: Callable[[np.ndarray], np.ndarray] = np.ones_like
    classes: bool = False     # term(ŷ, y) reduces the last axis: ŷ_t are logits over O classes


LOSSES: dict[str, Loss] = {}


def register(loss: Loss) -> Loss:
    LOSSES[loss.name] = loss
    return loss


def _every_step(T):
    return np.ones(T)


def _last_step(T):
    weights = np.zeros(T)
    weights[-1] = 1.0
    return weights


def _half_square(y_hat, y):
    return 0.5 * (y_hat - y) ** 2


def _difference(y_hat, y):
    return y_hat - y


register(Loss("squared_error", _half_square, _difference, _every_step))
register(Loss("mean_squared_error", lambda y_hat, y: (y_hat - y) ** 2,
              lambda y_hat, y: 2 * (y_hat - y), lambda T: np.full(T, 1.0 / T)))
register(Loss("binary_cross_entropy",
              lambda y_hat, y: -(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat)),
              lambda y_hat, y: (y_hat - y) / (y_hat * (1 - y_hat)),
              _every_step, prediction_range=(0.0, 1.0), label_range=(0.0, 1.0),
              # log(1 − ŷ) near ŷ = 1 (and log ŷ near 0) loses ε/(1 − ŷ) of relative precision
              conditioning=lambda y_hat: 1 / np.minimum(y_hat, 1 - y_hat)))
register(Loss("last_step_squared_error", _half_square, _difference, _last_step))


def _log_sum_exp(z):
    """log Σ_o exp(z_o) over the last axis, shifted by the largest real part (complex-safe)."""
    shift = np.max(np.real(z), axis=-1, keepdims=True)
    return shift[..., 0] + np.log(np.sum(np.exp(z - shift), axis=-1))


def softmax(z):
    """exp(z_o) / Σ_o' exp(z_o') over the last axis."""
    e = np.exp(z - np.max(np.real(z), axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


# −Σ_o y_o·log softmax(ŷ)_o = Σ_o y_o·(log Σ exp ŷ − ŷ_o); y_t is one-hot or a distribution.
register(Loss("softmax_cross_entropy",
              lambda y_hat, y: np.sum(y, axis=-1) * _log_sum_exp(y_hat) - np.sum(y * y_hat, axis=-1),
              lambda y_hat, y: softmax(y_hat) * np.sum(y, axis=-1, keepdims=True) - y,
              _every_step, classes=True))


def total(loss: Loss, y_hat, y):
    """L = Σ_t weight_t · term(ŷ_t, y_t); y_hat, y shape (T,)."""
    return np.sum(loss.weights(len(y)) * loss.term(y_hat, y))


def gradient(loss: Loss, y_hat, y):
    """∂L/∂ŷ_t for every t, shape (T,)."""
    return loss.weights(len(y)) * loss.term_derivative(y_hat, y)
