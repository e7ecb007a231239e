"""The vector RNN, batched over N sequences: forward pass and backpropagation through time.

    s_t = x_t·Wx + h_{t−1}·Wh + b,   h_t = φ(s_t),   t = 1..T

with x_t of shape (N, D), s_t and h_t (N, H), Wx (D, H), Wh (H, H), b (H,), h_0 (N, H).
The loss L is one of
- "upstream": L = Σ_t Σ_n ⟨dh_t, h_t⟩ for a given dh (N, T, H), what CS231n's gradient
  checks use; ∂L/∂h_t through the output is then dh_t itself;
- an output layer z_t = h_t·Wy + by (Wy (H, O), by (O,)), ŷ_t = θ(z_t), and a loss of the
  registry summed over the batch and the outputs: L = Σ_t weight_t Σ_n Σ_o term(ŷ, y)_{n,t,o}.

Arrays are 0-based and batch-first, t is 1-based: x[:, t-1] = x_t, s[:, t-1] = s_t, and h
has T+1 steps with h[:, 0] = h_0 and h[:, t] = h_t. With N = D = H = O = 1, b = by = 0 and
Wy = 1 this is the scalar model of reference.scalar, with Wh = w and Wx = v.
"""
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, Loss, softmax
from reference.step_product import StepProduct
from reference.step_sums import summed_products

UPSTREAM = "upstream"
BLOCK_ELEMENTS = 1 << 18    # of an (N, T, H) array worked on at a time where no whole temporary is made (2 MiB)


@dataclass(frozen=True)
class Sizes:
    N: int          # sequences in the batch
    T: int          # steps
    D: int          # input size
    H: int          # state size
    O: int | None = None    # output size, where there is an output layer


# Every gradient the reference computes, with its shape; dL_ds, dL_dh, dL_dx are per step (t on axis 1).
GRADIENT_SHAPES = {
    "dL_ds": lambda z: (z.N, z.T, z.H),    # dL_ds[:, t-1] = ∂L/∂s_t
    "dL_dh": lambda z: (z.N, z.T, z.H),    # ∂L/∂h_t, through the output and s_{t+1}
    "dL_dx": lambda z: (z.N, z.T, z.D),    # ∂L/∂x_t
    "dL_dWx": lambda z: (z.D, z.H),
    "dL_dWh": lambda z: (z.H, z.H),
    "dL_db": lambda z: (z.H,),
    "dL_dh0": lambda z: (z.N, z.H),
    "dL_dWy": lambda z: (z.H, z.O),        # output layer only
    "dL_dby": lambda z: (z.O,),
}
PER_STEP = ("dL_ds", "dL_dh", "dL_dx")
# The notation of each gradient and forward value, as reports show it.
SYMBOLS = {"dL_ds": "∂L/∂s_t", "dL_dh": "∂L/∂h_t", "dL_dx": "∂L/∂x_t", "dL_dWx": "∂L/∂Wx", "dL_dWh": "∂L/∂Wh",
           "dL_db": "∂L/∂b", "dL_dh0": "∂L/∂h_0", "dL_dWy": "∂L/∂Wy", "dL_dby": "∂L/∂by", "h_t": "h_t", "y_pred": "ŷ_t"}
OUTPUT_LAYER_GRADIENTS = ("dL_dWy", "dL_dby")


@dataclass(frozen=True)
class VectorRNN:
    """A model: φ, and either the upstream loss (theta = loss = None) or θ and a loss."""
    phi: Activation
    theta: Activation | None = None
    loss: Loss | None = None

    @classmethod
    def named(cls, phi: str, loss: str, theta: str = "identity") -> "VectorRNN":
        if loss == UPSTREAM:
            return cls(ACTIVATIONS[phi])
        return cls(ACTIVATIONS[phi], ACTIVATIONS[theta], LOSSES[loss])

    @property
    def upstream(self) -> bool:
        return self.loss is None

    @property
    def activations(self) -> tuple[Activation, ...]:
        return (self.phi,) if self.theta is None else (self.phi, self.theta)

    @property
    def complex_step(self) -> bool:
        """Whether φ and θ take complex input (see reference.activations)."""
        return all(a.complex_step for a in self.activations)


@dataclass(frozen=True)
class Params:
    """Wx (D, H), Wh (H, H), b (H,), h0 (N, H); Wy (H, O) and by (O,) where there is an
    output layer (with the upstream loss they may still be given: Coursera's y_pred)."""
    Wx: np.ndarray
    Wh: np.ndarray
    b: np.ndarray
    h0: np.ndarray
    Wy: np.ndarray | None = None
    by: np.ndarray | None = None


@dataclass(frozen=True)
class VectorForward:
    """One forward pass. `target` is dh (N, T, H) for the upstream loss, else y (N, T, O);
    z and y_hat (N, T, O) exist where Wy does."""
    params: Params
    x: np.ndarray
    target: np.ndarray
    s: np.ndarray
    h: np.ndarray           # (N, T+1, H)
    z: np.ndarray | None
    y_hat: np.ndarray | None
    L: float

    @property
    def sizes(self) -> Sizes:
        N, T, D = self.x.shape
        return Sizes(N, T, D, self.s.shape[2], None if self.z is None else self.z.shape[2])

    @property
    def y_pred(self) -> np.ndarray | None:
        """softmax(z_t) over the outputs, what Coursera's rnn_forward returns."""
        return None if self.z is None else softmax(self.z)


def loss_value(rnn: VectorRNN, h: np.ndarray, y_hat, target: np.ndarray) -> float:
    """L from the states h_1..h_T (N, T, H) or the predictions ŷ (N, T, O), a block of steps
    at a time (no temporary as large as them)."""
    N, T = target.shape[:2]
    step_terms = []
    for steps in step_blocks(target):
        terms = target[:, steps] * h[:, steps] if rnn.loss is None else rnn.loss.term(y_hat[:, steps], target[:, steps])
        step_terms.append(terms.reshape(N, terms.shape[1], -1).sum(axis=(0, 2)))
    return float(step_weights(rnn, T) @ np.concatenate(step_terms))


def step_blocks(array: np.ndarray) -> Iterator[slice]:
    """Consecutive slices of the steps (axis 1) of a batch-first (N, T, ·) array, each of at
    most BLOCK_ELEMENTS elements (at least one step): for work on it without whole temporaries."""
    T = array.shape[1]
    per_block = max(1, BLOCK_ELEMENTS // max(1, array[:, :1].size))
    return (slice(start, start + per_block) for start in range(0, T, per_block))


def step_weights(rnn: VectorRNN, T: int) -> np.ndarray:
    """(T,) weight of each step's loss term: ones for the upstream loss."""
    return np.ones(T) if rnn.loss is None else rnn.loss.weights(T)


def forward(rnn: VectorRNN, params: Params, x, target) -> VectorForward:
    x, target = np.asarray(x, dtype=np.float64), np.asarray(target, dtype=np.float64)
    N, T, _ = x.shape
    s = x @ params.Wx                              # x_t·Wx + b for every t at once, then + h_{t−1}·Wh in turn
    s += params.b
    h = np.empty((N, T + 1, params.Wh.shape[0]))
    h[:, 0] = params.h0
    for t in range(1, T + 1):
        s[:, t - 1] += h[:, t - 1] @ params.Wh
        h[:, t] = rnn.phi.value(s[:, t - 1])
    z = None if params.Wy is None else h[:, 1:] @ params.Wy + params.by
    y_hat = None if rnn.theta is None or z is None else rnn.theta.value(z)
    return VectorForward(params, x, target, s, h, z, y_hat, loss_value(rnn, h[:, 1:], y_hat, target))


def output_gradient(rnn: VectorRNN, f: VectorForward, dtheta: np.ndarray | None = None) -> np.ndarray:
    """∂L/∂z_t = weight_t·term'(ŷ_t, y_t)·θ'(z_t), (N, T, O), for a model with an output layer;
    `dtheta` in θ'(z_t)'s place if given."""
    assert rnn.loss is not None and rnn.theta is not None and f.z is not None and f.y_hat is not None
    weights = rnn.loss.weights(f.x.shape[1])[None, :, None]
    dtheta = rnn.theta.derivative(f.z) if dtheta is None else dtheta
    return weights * rnn.loss.term_derivative(f.y_hat, f.target) * dtheta


@dataclass(frozen=True)
class BPTT:
    """Backpropagation through time in named pieces, as reference.scalar.BPTT, so that a
    classic mistake (reference/vector_mistakes.py) is this with one piece replaced. The
    per-step pieces map (rnn, f) to (N, T, H) arrays (output_derivative: (N, T, O)); the
    sums map (f, ∂L/∂s) to a value (dL_dWh and dW_uses_gradient_for_state also get ∂L/∂h)."""
    output_derivative: Callable = lambda rnn, f: rnn.theta.derivative(f.z)   # θ'(z_t), output layer only
    direct: Callable = lambda rnn, f, dz: f.target if rnn.upstream else dz @ f.params.Wy.T   # ∂L/∂h_t|direct
    state_derivative: Callable = lambda rnn, f: rnn.phi.derivative(f.s)     # φ'(s_t)
    recurrent: Callable = lambda f: f.params.Wh.T       # ∂s_{t+1}/∂h_t, applied as ∂L/∂s_{t+1}·Whᵀ
    boundary: float = 0.0                               # ∂L/∂s_{T+1}, every element
    dL_dx: Callable = lambda f, ds: ds @ f.params.Wx.T                            # ∂L/∂s_t·Wxᵀ per step
    dL_dWx: Callable = lambda f, ds: summed_products(f.x, ds)                   # Σ_t x_tᵀ·∂L/∂s_t
    dL_dWh: Callable = lambda f, ds, dh: summed_products(f.h[:, :-1], ds)       # Σ_t h_{t−1}ᵀ·∂L/∂s_t
    dL_db: Callable = lambda f, ds: ds.sum(axis=(0, 1))                          # Σ_t Σ_n ∂L/∂s_t
    dL_dh0: Callable = lambda f, ds: ds[:, 0] @ f.params.Wh.T                    # ∂L/∂s_1·Whᵀ


CORRECT_BPTT = BPTT()
KEPT_PRODUCT_BPTT = BPTT(dL_dx=lambda f, ds: StepProduct(ds, f.params.Wx))     # ∂L/∂x_t not made whole


def direct_dh(rnn: VectorRNN, f: VectorForward) -> np.ndarray:
    """∂L/∂h_t through step t's own loss term only (h_{t+1} held fixed), (N, T, H): the
    upstream gradient CS231n's rnn_backward and Coursera's receive."""
    return CORRECT_BPTT.direct(rnn, f, None if rnn.upstream else output_gradient(rnn, f))


def backward(rnn: VectorRNN, f: VectorForward, bptt: BPTT = CORRECT_BPTT) -> dict[str, np.ndarray]:
    """BPTT, t = T down to 1, with ∂L/∂s_{T+1} = 0 (or `bptt`'s pieces instead of the correct ones):

        ∂L/∂h_t = ∂L/∂h_t|direct + ∂L/∂s_{t+1}·Whᵀ,   ∂L/∂s_t = ∂L/∂h_t ⊙ φ'(s_t)

    Returns every gradient of GRADIENT_SHAPES (the output layer's only with one)."""
    dz = None if rnn.upstream else output_gradient(rnn, f, bptt.output_derivative(rnn, f))
    ds, dh = through_time(bptt.direct(rnn, f, dz), bptt.state_derivative(rnn, f), bptt.recurrent(f), bptt.boundary)
    return gradients(f, bptt, ds, dh, dz)


def through_time(dh_direct: np.ndarray, dphi: np.ndarray, recurrent: np.ndarray,
                 boundary: float, in_place: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(∂L/∂s_t, ∂L/∂h_t), each (N, T, H), from ∂L/∂h_t|direct and φ'(s_t) (N, T, H), the
    recurrent matrix (H, H) and ∂L/∂s_{T+1} = boundary (every element). Its own function so
    that φ'(s_t) is freed before the sums: the largest problems' peak memory. `in_place`:
    ∂L/∂s_t is written over φ'(s_t) (each step reads it first) and ∂L/∂h_t is not kept (None)."""
    N, T, H = dphi.shape
    ds = dphi if in_place else np.empty((N, T, H))
    dh = None if in_place else np.empty((N, T, H))
    ds_next = np.full((N, H), boundary)                 # ∂L/∂s_{T+1}
    for t in range(T, 0, -1):
        dh_t = dh_direct[:, t - 1] + ds_next @ recurrent
        if dh is not None:
            dh[:, t - 1] = dh_t
        ds[:, t - 1] = dh_t * dphi[:, t - 1]
        ds_next = ds[:, t - 1]
    return ds, dh


def backward_over_states(rnn: VectorRNN, f: VectorForward) -> dict[str, np.ndarray]:
    """The correct BPTT's gradients but ∂L/∂h_t, and ∂L/∂h_t|direct ("dh_direct"), in less
    memory than `backward`: φ'(s_t), then ∂L/∂s_t, are written over f.s (a block of steps at
    a time), so that the only new (N, T, ·) arrays are ∂L/∂x_t and, with an output layer,
    ∂L/∂z_t and ∂L/∂h_t|direct; ∂L/∂x_t is kept as the product it is (a StepProduct of
    reference.step_product). It spends `f`: for a forward pass nothing else holds."""
    dz = None if rnn.upstream else output_gradient(rnn, f)
    dh_direct = CORRECT_BPTT.direct(rnn, f, dz)
    for steps in step_blocks(f.s):
        f.s[:, steps] = rnn.phi.derivative(f.s[:, steps])
    ds, _ = through_time(dh_direct, f.s, CORRECT_BPTT.recurrent(f), CORRECT_BPTT.boundary, in_place=True)
    result = gradients(f, KEPT_PRODUCT_BPTT, ds, None, dz)
    del result["dL_dh"]
    return {**result, "dh_direct": dh_direct}


def gradients(f: VectorForward, bptt: BPTT, ds: np.ndarray, dh: np.ndarray | None, dz: np.ndarray | None) -> dict:
    """Every gradient of GRADIENT_SHAPES from ∂L/∂s_t and ∂L/∂h_t (N, T, H; None where not
    kept, for sums that do not read it), and ∂L/∂z_t (N, T, O) or None without an output
    layer, by `bptt`'s sums."""
    result = {"dL_ds": ds, "dL_dh": dh, "dL_dx": bptt.dL_dx(f, ds), "dL_dWx": bptt.dL_dWx(f, ds),
              "dL_dWh": bptt.dL_dWh(f, ds, dh), "dL_db": bptt.dL_db(f, ds), "dL_dh0": bptt.dL_dh0(f, ds)}
    if dz is not None:
        result["dL_dWy"] = summed_products(f.h[:, 1:], dz)
        result["dL_dby"] = dz.sum(axis=(0, 1))
    return result
