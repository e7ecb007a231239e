"""A validated problem set, as frozen data. Built only by `grader.problem_set.load`."""
from dataclasses import dataclass

import numpy as np

from reference.scalar import Forward, ScalarRNN, forward

DEFAULT_RTOL = 1.0e-6
DEFAULT_ATOL = 1.0e-9
DEFAULT_TIMEOUT = 10.0      # seconds per call of the submission
DEFAULT_MEMORY_MB = 1024


@dataclass(frozen=True)
class Tolerance:
    """An element diverges when |got − expected| > atol + rtol·|expected|."""
    rtol: float = DEFAULT_RTOL
    atol: float = DEFAULT_ATOL


@dataclass(frozen=True)
class Limits:
    timeout: float = DEFAULT_TIMEOUT    # seconds of wall-clock time per call
    memory_mb: int = DEFAULT_MEMORY_MB  # address-space limit of the submission's process


@dataclass(frozen=True)
class Problem:
    id: str
    title: str
    points: float
    visibility: str                 # "visible" | "hidden"
    phi: str
    theta: str
    loss: str
    w: float
    v: float
    h0: float
    x: np.ndarray                   # shape (T,), read-only
    y: np.ndarray                   # shape (T,), read-only
    grade: dict[str, float]         # graded output name → points, in file order
    tolerance: Tolerance = Tolerance()
    limits: Limits = Limits()

    @property
    def T(self) -> int:
        return len(self.x)

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"

    @property
    def rnn(self) -> ScalarRNN:
        return ScalarRNN.named(self.phi, self.theta, self.loss)

    def forward(self) -> Forward:
        return forward(self.rnn, self.w, self.v, self.h0, self.x, self.y)


@dataclass(frozen=True)
class ProblemSet:
    path: str
    title: str
    entry_point: str
    problems: tuple[Problem, ...]
    schema_version: int = 1

    def selected(self, include_hidden: bool) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if include_hidden or not p.hidden)
