"""Compare a submission's gradient with the reference's, element by element.

An element diverges when |got − expected| > atol + rtol·|expected|. Per-timestep outputs
are arrays of shape (T,) with index t-1 holding step t; BPTT computes them from t = T down
to 1, so the *first* divergence is the largest diverging t.
"""
from dataclasses import dataclass

import numpy as np

from grader.problems import Tolerance


@dataclass(frozen=True)
class Comparison:
    expected: np.ndarray
    got: np.ndarray
    abs_error: np.ndarray
    diverging: np.ndarray          # bool, same shape as expected

    @property
    def passed(self) -> bool:
        return not self.diverging.any()

    @property
    def max_abs_error(self) -> float:
        return float(self.abs_error.max(initial=0.0))

    @property
    def diverging_timesteps(self) -> list[int]:
        """1-based t of every diverging element, in BPTT order (t = T first)."""
        return [int(t) for t in np.flatnonzero(self.diverging)[::-1] + 1]

    @property
    def first_divergence(self) -> int | None:
        return first_divergence(self.diverging)


def first_divergence(diverging: np.ndarray) -> int | None:
    """The largest 1-based t with diverging[t-1], i.e. the first in BPTT order; None if none."""
    where = np.flatnonzero(diverging)
    return int(where[-1]) + 1 if where.size else None


def compare(expected, got, tolerance: Tolerance) -> Comparison:
    expected, got = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    abs_error = np.abs(got - expected)
    diverging = ~(abs_error <= tolerance.atol + tolerance.rtol * np.abs(expected))   # NaN diverges
    return Comparison(expected, got, abs_error, diverging)
