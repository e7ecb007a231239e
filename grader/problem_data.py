"""A problem's data, its inputs x and their target: given in the problem set and kept, or
drawn from a seed each time they are asked for, so that a large problem keeps no arrays.

Shapes: x (T,) and y (T,) for the scalar model; x (N, T, D) and dh (N, T, H) or y (N, T, O)
for the vector model, batch-first. Arrays are float64 and read-only.
"""
import math
from dataclasses import dataclass

import numpy as np

from reference.activations import ACTIVATIONS, Activation
from reference.losses import LOSSES, Loss

Shape = tuple[int, ...]


def read_only(array: np.ndarray) -> np.ndarray:
    """`array`, made read-only."""
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Given:
    """x and target as the problem set gives them, kept (read-only views of the arrays passed)."""
    x: np.ndarray
    target: np.ndarray

    def __post_init__(self):
        for name in ("x", "target"):
            object.__setattr__(self, name, read_only(np.asarray(getattr(self, name), dtype=np.float64).view()))

    @property
    def shape(self) -> Shape:
        return self.x.shape

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, target)."""
        return self.x, self.target


@dataclass(frozen=True)
class Drawn:
    """x and target drawn anew from default_rng(seed) on each call of `arrays`, as the schema
    says: x standard normal of `shape`, then the target of `target_shape` to suit the loss —
    one-hot rows over the last axis for a loss over classes, 0/1 labels if it has a label
    range, else uniform over θ's range if that is bounded, else (and dh of the upstream
    loss, which has no θ) standard normal."""
    seed: int
    shape: Shape                # x's: (T,) or (N, T, D)
    target_shape: Shape         # (T,), or (N, T, H) for dh, (N, T, O) for y
    theta: str | None           # a name in ACTIVATIONS; None with the upstream loss
    loss: str                   # a name in LOSSES, or the upstream loss's (unused)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, target), drawn with one generator: x first."""
        rng = np.random.default_rng(self.seed)
        x = rng.normal(0, 1, self.shape)
        target = (rng.normal(0, 1, self.target_shape) if self.theta is None
                  else _targets(rng, self.target_shape, ACTIVATIONS[self.theta], LOSSES[self.loss]))
        return read_only(x), read_only(target)


def _targets(rng: np.random.Generator, shape: Shape, theta: Activation, loss: Loss) -> np.ndarray:
    """y of `shape` to suit the loss, as `Drawn` says."""
    if loss.classes:
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if loss.label_range:
        return rng.integers(0, 2, shape).astype(np.float64)
    low, high = theta.output_range
    if math.isfinite(low) and math.isfinite(high):
        return rng.uniform(low, high, shape)
    return rng.normal(0, 1, shape)


ProblemData = Given | Drawn
