"""The seed's scalar RNN: forward pass and backpropagation through time.

    s_t = w·h_{t−1} + v·x_t,   h_t = φ(s_t),   ŷ_t = θ(h_t),   L = Σ_t ℓ(ŷ_t, y_t)

Arrays are 0-based and t is 1-based: `s[t-1]` = s_t, `x[t-1]` = x_t, and `h` has T+1
entries with `h[0]` = h_0 and `h[t]` = h_t.
"""
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


def backward(rnn: ScalarRNN, f: Forward) -> dict[str, np.ndarray | float]:
    """BPTT, t = T down to 1, with ∂L/∂s_{T+1} = 0. Returns every gradient in
    GRADIENT_SHAPES: arrays of shape (T,) indexed t-1, and floats."""
    T = len(f.x)
    dy = losses.gradient(rnn.loss, f.y_hat, f.y)          # ∂L/∂ŷ_t
    dtheta = rnn.theta.derivative(f.h[1:])                # θ'(h_t)
    dphi = rnn.phi.derivative(f.s)                        # φ'(s_t)
    ds, dh = np.empty(T), np.empty(T)
    ds_next = 0.0                                         # ∂L/∂s_{T+1}
    for t in range(T, 0, -1):
        dh[t - 1] = dy[t - 1] * dtheta[t - 1] + ds_next * f.w
        ds[t - 1] = dh[t - 1] * dphi[t - 1]
        ds_next = ds[t - 1]
    return {
        "dL_ds": ds,
        "dL_dh": dh,
        "dL_dx": f.v * ds,
        "dL_dw": float(ds @ f.h[:-1]),
        "dL_dv": float(ds @ f.x),
        "dL_dh0": float(f.w * ds[0]),
    }
