"""The seed's scalar RNN: forward pass and backpropagation through time.

    s_t = w·h_{t−1} + v·x_t,   h_t = φ(s_t),   ŷ_t = θ(h_t),   L = Σ_t ℓ(ŷ_t, y_t)

Arrays are 0-based and t is 1-based: `s[t-1]` = s_t, `x[t-1]` = x_t, and `h` has T+1
entries with `h[0]` = h_0 and `h[t]` = h_t.
"""
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from reference import losses
from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, Loss

# Every gradient the reference computes, with its shape for a sequence of length T.
GRADIENT_SHAPES = {
    "dL_ds": lambda T: (T,),    # dL_ds[t-1] = ∂L/∂s_t
    "dL_dh": lambda T: (T,),    # dL_dh[t-1] = ∂L/∂h_t (through ŷ_t and s_{t+1})
    "dL_dx": lambda T: (T,),    # dL_dx[t-1] = ∂L/∂x_t
    "dL_dw": lambda T: (),
    "dL_dv": lambda T: (),
    "dL_dh0": lambda T: (),
}
# The notation of each gradient, as reports show it.
SYMBOLS = {"dL_ds": "∂L/∂s_t", "dL_dh": "∂L/∂h_t", "dL_dx": "∂L/∂x_t", "dL_dw": "∂L/∂w", "dL_dv": "∂L/∂v",
           "dL_dh0": "∂L/∂h_0"}


@dataclass(frozen=True)
class ScalarRNN:
    """A model: the two activations and the loss."""
    phi: Activation
    theta: Activation
    loss: Loss

    @classmethod
    def named(cls, phi: str, theta: str, loss: str) -> "ScalarRNN":
        return cls(ACTIVATIONS[phi], ACTIVATIONS[theta], LOSSES[loss])

    @property
    def complex_step(self) -> bool:
        """Whether φ and θ take complex input (see reference.activations)."""
        return self.phi.complex_step and self.theta.complex_step


@dataclass(frozen=True)
class Params:
    w: float
    v: float
    h0: float


@dataclass(frozen=True)
class Forward:
    """One forward pass: the inputs and every intermediate value (shapes above)."""
    w: float
    v: float
    h0: float
    x: np.ndarray
    y: np.ndarray
    s: np.ndarray
    h: np.ndarray
    y_hat: np.ndarray
    L: float


def forward(rnn: ScalarRNN, w: float, v: float, h0: float, x, y) -> Forward:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    T = len(x)
    s, h = np.empty(T), np.empty(T + 1)
    h[0] = h0
    for t in range(1, T + 1):
        s[t - 1] = w * h[t - 1] + v * x[t - 1]
        h[t] = rnn.phi.value(s[t - 1])
    y_hat = rnn.theta.value(h[1:])
    return Forward(w, v, h0, x, y, s, h, y_hat, float(losses.total(rnn.loss, y_hat, y)))


def bptt_step(dy, dtheta, ds_next, w, dphi):
    """∂L/∂s_t = (∂L/∂ŷ_t·θ'(h_t) + ∂L/∂s_{t+1}·w)·φ'(s_t), elementwise."""
    return (dy * dtheta + ds_next * w) * dphi


@dataclass(frozen=True)
class BPTT:
    """Backpropagation through time in named pieces, so that a classic mistake
    (reference/mistakes.py) is this with one piece replaced. The per-step pieces map
    (rnn, f) to arrays of shape (T,) indexed t-1; the sums map (f, ∂L/∂s) to a value."""
    loss_gradient: Callable = lambda rnn, f: losses.gradient(rnn.loss, f.y_hat, f.y)  # ∂L/∂ŷ_t
    output_derivative: Callable = lambda rnn, f: rnn.theta.derivative(f.h[1:])         # θ'(h_t)
    state_derivative: Callable = lambda rnn, f: rnn.phi.derivative(f.s)                # φ'(s_t)
    recurrent_weight: Callable = lambda f: f.w              # ∂s_{t+1}/∂h_t
    boundary: float = 0.0                                   # ∂L/∂s_{T+1}
    step: Callable = bptt_step                              # ∂L/∂s_t from ∂L/∂s_{t+1}
    dL_dw: Callable = lambda f, ds: f.h[:-1] @ ds           # Σ_t ∂L/∂s_t·h_{t−1}
    dL_dv: Callable = lambda f, ds: f.x @ ds                # Σ_t ∂L/∂s_t·x_t
    dL_dh0: Callable = lambda f, ds: f.w * ds[0]            # w·∂L/∂s_1


CORRECT_BPTT = BPTT()


def backward(rnn: ScalarRNN, f: Forward, bptt: BPTT = CORRECT_BPTT) -> dict[str, np.ndarray | float]:
    """BPTT, t = T down to 1, with ∂L/∂s_{T+1} = 0 (or `bptt`'s pieces instead of the
    correct ones). Returns every gradient in GRADIENT_SHAPES: arrays of shape (T,) indexed t-1,
    and floats."""
    T = len(f.x)
    dy = bptt.loss_gradient(rnn, f)                       # ∂L/∂ŷ_t
    dtheta = bptt.output_derivative(rnn, f)               # θ'(h_t)
    dphi = bptt.state_derivative(rnn, f)                  # φ'(s_t)
    w = bptt.recurrent_weight(f)
    ds = np.empty(T)
    ds_next = bptt.boundary                               # ∂L/∂s_{T+1}
    for t in range(T, 0, -1):
        ds[t - 1] = bptt.step(dy[t - 1], dtheta[t - 1], ds_next, w, dphi[t - 1])
        ds_next = ds[t - 1]
    dh = dy * dtheta + np.append(ds[1:], bptt.boundary) * w     # ∂L/∂ŷ_t·θ'(h_t) + ∂L/∂s_{t+1}·w
    return gradients(f, bptt, ds, dh)


def gradients(f: Forward, bptt: BPTT, ds: np.ndarray, dh: np.ndarray) -> dict:
    """Every gradient from ∂L/∂s_t and ∂L/∂h_t, shape (T,) each, or (T, K) for K variants
    side by side (then each output gains a trailing axis of K)."""
    return {"dL_ds": ds, "dL_dh": dh, "dL_dx": f.v * ds,
            "dL_dw": bptt.dL_dw(f, ds), "dL_dv": bptt.dL_dv(f, ds), "dL_dh0": bptt.dL_dh0(f, ds)}
