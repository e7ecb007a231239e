"""Activation functions φ and θ: one registry entry each, value and derivative.

Every value function also accepts complex input and is analytic away from its `kinks`,
so the finite-difference checker can use the complex step: an imaginary perturbation
never moves the real part across a kink. At a kink the derivative is a convention (the
one-sided value written in `derivative`, which the complex step reproduces); an entry
whose value cannot take complex input sets `complex_step=False`.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Activation:
    name: str
    value: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    complex_step: bool = True
    kinks: tuple[float, ...] = ()
    output_range: tuple[float, float] = (-np.inf, np.inf)   # open interval of values


ACTIVATIONS: dict[str, Activation] = {}


def register(activation: Activation) -> Activation:
    ACTIVATIONS[activation.name] = activation
    return activation


def _split_by_sign(z):
    """(z where Re z > 0 else 0, z where Re z ≤ 0 else 0, mask): lets a stable formula
    evaluate each branch only where it cannot overflow."""
    positive = np.real(z) > 0
    return np.where(positive, z, 0), np.where(positive, 0, z), positive


def _sigmoid(z):
    """1/(1 + e^−z) as e^z/(1 + e^z) where Re z ≤ 0: one exponential, never overflowing."""
    positive = np.real(z) > 0
    e = np.exp(np.where(positive, -z, z))
    return np.where(positive, 1, e) / (1 + e)


def _softplus(z):
    """log(1 + e^z) without overflow: z + log1p(e^−z) for Re z > 0."""
    zp, zn, positive = _split_by_sign(z)
    return np.where(positive, zp + np.log1p(np.exp(-zp)), np.log1p(np.exp(zn)))


def _tanh_derivative(s):
    """sech²(s) = 4e^{−2|s|}/(1 + e^{−2|s|})²: unlike 1 − tanh²(s), keeps its relative
    precision where tanh saturates."""
    e = np.exp(-2 * np.abs(s))
    return 4 * e / (1 + e) ** 2


def _sigmoid_derivative(s):
    """σ(s)·σ(−s): unlike σ(1 − σ), keeps its relative precision where σ saturates."""
    return _sigmoid(s) * _sigmoid(-s)


LEAKY_SLOPE = 0.01

register(Activation("identity", lambda s: 1 * s, np.ones_like))
register(Activation("tanh", np.tanh, _tanh_derivative, output_range=(-1.0, 1.0)))
register(Activation("sigmoid", _sigmoid, _sigmoid_derivative, output_range=(0.0, 1.0)))
register(Activation("relu", lambda s: np.where(np.real(s) > 0, s, 0 * s), lambda s: (s > 0) * 1.0,
                    kinks=(0.0,), output_range=(0.0, np.inf)))
register(Activation("leaky_relu", lambda s: np.where(np.real(s) > 0, s, LEAKY_SLOPE * s),
                    lambda s: np.where(s > 0, 1.0, LEAKY_SLOPE), kinks=(0.0,)))
register(Activation("softplus", _softplus, _sigmoid, output_range=(0.0, np.inf)))
register(Activation("sin", np.sin, np.cos, output_range=(-1.0, 1.0)))
