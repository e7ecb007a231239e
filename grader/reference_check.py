"""Check the reference backward against the independent finite-difference checker.

An output agrees when, at every element not flagged as crossing a kink, either the
relative error max|ref − fd| / max(‖ref‖∞, ‖fd‖∞) ≤ RTOL, or |ref − fd| lies within
ERROR_MARGIN times the finite differences' own error estimate.
"""
from dataclasses import dataclass

import numpy as np

from grader.problems import Problem
from reference.finite_diff import QUANTITIES, finite_differences
from reference.scalar import backward

RTOL = 1.0e-7
ERROR_MARGIN = 4.0


@dataclass(frozen=True)
class OutputCheck:
    name: str
    method: str
    relative_error: float            # over the elements checked
    estimated_error: float           # largest FD error estimate, absolute
    disagreeing_timesteps: list[int] # 1-based, BPTT order; [] for scalars that agree
    kink_timesteps: list[int]        # 1-based, skipped: a perturbation crossed a kink
    agrees: bool


def check_output(name: str, ref, estimate) -> OutputCheck:
    ref, fd = np.atleast_1d(ref), np.atleast_1d(estimate.value)
    error, kink = np.atleast_1d(estimate.error), np.atleast_1d(estimate.kink)
    difference = np.where(kink, 0.0, np.abs(ref - fd))
    scale = max(np.abs(ref).max(initial=0.0), np.abs(fd).max(initial=0.0))
    relative = float(difference.max(initial=0.0) / scale) if scale > 0 else 0.0
    bad = (difference > ERROR_MARGIN * error) & (difference > RTOL * scale)
    steps = (lambda mask: [int(t) for t in np.flatnonzero(mask)[::-1] + 1])
    return OutputCheck(name, estimate.method, relative, float(error.max(initial=0.0)),
                       steps(bad), steps(kink), not bad.any())


def check_problem(problem: Problem, method: str = "auto") -> list[OutputCheck]:
    f = problem.forward()
    ref = backward(problem.rnn, f)
    estimates = finite_differences(problem.rnn, f, tuple(QUANTITIES), method)
    return [check_output(name, ref[name], estimates[name]) for name in QUANTITIES]
