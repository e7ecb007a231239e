"""Check the reference backward against the independent finite-difference checker.

An output agrees when, at every element not flagged as crossing a kink, the difference
|ref − fd| is within RTOL of the output's size max(‖ref‖∞, ‖fd‖∞), or within ERROR_MARGIN
times the finite differences' own error estimate, or below FLOOR times the largest
gradient of the whole problem (an output that vanishes, say ∂L/∂w = 0 at w = 0, is
compared on the problem's scale, not its own). A value that is not finite on either
side (binary cross-entropy at ŷ = 1, say) disagrees.

A vector problem is checked element by element when that takes at most
reference.models.ELEMENTWISE_RUNS perturbed runs, else along DEFAULT_DIRECTIONS random
directions per step and per parameter (reference.vector_finite_diff): the values compared
are then ⟨gradient, u⟩.
"""
from dataclasses import dataclass

import numpy as np

from grader.problem_set import Problem
from reference.fd_methods import Estimate

RTOL = 1.0e-7
ERROR_MARGIN = 4.0
FLOOR = 1.0e-12


@dataclass(frozen=True)
class OutputCheck:
    name: str
    method: str
    relative_error: float            # over the elements checked
    estimated_error: float           # largest FD error estimate, absolute
    disagreeing_timesteps: list[int] # 1-based, BPTT order; [] for a parameter
    kink_timesteps: list[int]        # 1-based, skipped: a perturbation crossed a kink
    agrees: bool


def check_output(name: str, ref, estimate: Estimate, problem_scale: float = 0.0) -> OutputCheck:
    """`ref` and `estimate.value` alike: (T,) or (T, K) per step (`estimate.per_step`), with
    row t-1 for step t, else a parameter's values."""
    per_step = estimate.per_step
    ref, fd = np.atleast_1d(ref), np.atleast_1d(estimate.value)
    error, kink = np.atleast_1d(estimate.error), np.atleast_1d(estimate.kink)
    difference = np.where(kink, 0.0, np.abs(ref - fd))
    scale = max(np.abs(ref).max(initial=0.0), np.abs(fd).max(initial=0.0))
    relative = float(difference.max(initial=0.0) / scale) if scale > 0 else 0.0
    bad = ((difference > ERROR_MARGIN * error) & (difference > RTOL * scale)
           & (difference > FLOOR * problem_scale)) | ~(np.isfinite(ref) & np.isfinite(fd))

    def steps(mask):
        """1-based t of every step with a flagged value, in BPTT order."""
        if not per_step:
            return []
        return [int(t) for t in np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))[::-1] + 1]
    return OutputCheck(name, estimate.method, relative, float(error.max(initial=0.0)),
                       steps(bad), steps(kink), not bad.any())


def check_problem(problem: Problem, method: str = "auto", directions: int | None = None) -> list[OutputCheck]:
    """Every gradient of the problem against finite differences by `method`; for a vector
    problem along `directions` random directions (0: element-wise; None: as its model
    chooses, reference.models.Model.directions)."""
    with np.errstate(all="ignore"):     # a gradient that overflows is reported, not warned about
        f = problem.forward()
        checked = problem.model.gradient_check(problem.rnn, f, method, problem.model.directions(f, directions))
        scale = max(float(np.abs(c.reference).max()) for c in checked.values())
        return [check_output(name, c.reference, c.estimate, scale) for name, c in checked.items()]
