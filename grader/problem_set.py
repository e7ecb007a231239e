"""A validated problem set, as frozen data. Built only by `grader.loader.load`."""
from dataclasses import dataclass

import numpy as np

from reference import vector
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

    @property
    def contract(self) -> str:
        return "trace"

    @property
    def kind(self) -> str:
        """Which of its contract's calls grades the problem (see grader.contracts)."""
        return "scalar"

    def forward(self) -> Forward:
        return forward(self.rnn, self.w, self.v, self.h0, self.x, self.y)


@dataclass(frozen=True)
class VectorProblem:
    """A problem on the batched vector RNN of reference.vector; arrays batch-first, read-only."""
    id: str
    title: str
    points: float
    visibility: str                 # "visible" | "hidden"
    contract: str                   # a name in grader.contracts.CONTRACTS
    step: bool                      # graded through the contract's single-step functions (T = 1)
    phi: str
    theta: str | None               # None with the upstream loss
    loss: str                       # "upstream" or a name in reference.losses.LOSSES
    params: vector.Params
    x: np.ndarray                   # (N, T, D)
    target: np.ndarray              # dh (N, T, H) for the upstream loss, else y (N, T, O)
    grade: dict[str, float]         # graded output (the contract's names) → points, in file order
    tolerance: Tolerance = Tolerance()
    limits: Limits = Limits()

    @property
    def T(self) -> int:
        return self.x.shape[1]

    @property
    def sizes(self) -> vector.Sizes:
        N, T, D = self.x.shape
        return vector.Sizes(N, T, D, self.params.Wh.shape[0],
                            None if self.params.Wy is None else self.params.Wy.shape[1])

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"

    @property
    def kind(self) -> str:
        return "step" if self.step else "sequence"

    @property
    def rnn(self) -> vector.VectorRNN:
        return vector.VectorRNN.named(self.phi, self.loss, self.theta or "identity")

    def forward(self) -> vector.VectorForward:
        return vector.forward(self.rnn, self.params, self.x, self.target)


@dataclass(frozen=True)
class ProblemSet:
    path: str
    title: str
    entry_point: str
    problems: tuple[Problem | VectorProblem, ...]
    schema_version: int = 1
    contract: str = "trace"         # how submissions are called: a name in grader.contracts.CONTRACTS

    def selected(self, include_hidden: bool) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if include_hidden or not p.hidden)
