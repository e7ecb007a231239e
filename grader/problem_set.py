"""A validated problem set, as frozen data. Built only by `grader.loader.load`."""
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from grader.problem_data import ProblemData
from reference import scalar, vector
from reference.models import SCALAR, VECTOR, Model

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


Visibility = Literal["visible", "hidden"]
ShapePolicy = Literal["strict", "lenient"]      # whether right values in a shape off by length-1 axes earn points
Kind = Literal["scalar", "sequence", "step"]    # which call of its contract grades a problem


@dataclass(frozen=True, kw_only=True)
class Problem(ABC):
    """What every problem has: who sees it, what it is worth, what is graded and how
    closely, the limits of each call, and its model (reference.models), which gives its
    network, forward pass, gradients and the catalogue of mistakes it is diagnosed with.
    Its data is `Drawn` when the set gives a seed (scalar and vector problems alike; not
    min-char-rnn's, whose drawn characters the loader turns into one-hot rows), else
    `Given`: it keeps no array it can draw again."""
    id: str
    title: str
    points: float
    visibility: Visibility
    grade: dict[str, float]         # graded output (the contract's names) → points, in file order
    tolerance: Tolerance = Tolerance()
    limits: Limits = Limits()
    shape_policy: ShapePolicy = "strict"
    phi: str
    theta: str | None               # None with the vector model's upstream loss
    loss: str
    data: ProblemData               # x and target: Given, or Drawn from a seed when asked for

    model: ClassVar[Model]
    contract: str                   # a name in grader.contracts.CONTRACTS

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"

    @property
    def x(self) -> np.ndarray:
        """Read-only; (T,) scalar, (N, T, D) vector. Drawn data is drawn anew on each access
        (and target with it): use `data.arrays()` once for both."""
        return self.data.arrays()[0]

    @property
    def target(self) -> np.ndarray:
        """Read-only; y (T,) scalar; dh (N, T, H) or y (N, T, O) vector. Drawn anew on each
        access, as x."""
        return self.data.arrays()[1]

    @property
    @abstractmethod
    def T(self) -> int: ...

    @property
    @abstractmethod
    def kind(self) -> Kind: ...

    @property
    @abstractmethod
    def dimensions(self) -> dict[str, int]:
        """Its sizes by name, as a problem line shows them: {"T": 4}, or N, T, D, H."""

    @property
    def rnn(self):
        return self.model.network(self.phi, self.theta, self.loss)

    @abstractmethod
    def forward(self):
        """The forward pass of the model on the problem's parameters and data."""


@dataclass(frozen=True, kw_only=True)
class ScalarProblem(Problem):
    """A problem on the seed's scalar RNN (reference.scalar); arrays of shape (T,), t-1 indexed."""
    theta: str
    w: float
    v: float
    h0: float
    contract: str = "trace"
    model: ClassVar[Model] = SCALAR

    @property
    def y(self) -> np.ndarray:
        return self.target

    @property
    def T(self) -> int:
        return self.data.shape[0]

    @property
    def kind(self) -> Kind:
        return "scalar"

    @property
    def dimensions(self) -> dict[str, int]:
        return {"T": self.T}

    def forward(self) -> scalar.Forward:
        x, y = self.data.arrays()
        return self.model.forward(self.rnn, scalar.Params(self.w, self.v, self.h0), x, y)


@dataclass(frozen=True, kw_only=True)
class VectorProblem(Problem):
    """A problem on the batched vector RNN of reference.vector; arrays batch-first, read-only."""
    contract: str                   # a name in grader.contracts.CONTRACTS
    step: bool                      # graded through the contract's single-step functions (T = 1)
    params: vector.Params
    model: ClassVar[Model] = VECTOR

    @property
    def T(self) -> int:
        return self.data.shape[1]

    @property
    def sizes(self) -> vector.Sizes:
        N, T, D = self.data.shape
        return vector.Sizes(N, T, D, self.params.Wh.shape[0],
                            None if self.params.Wy is None else self.params.Wy.shape[1])

    @property
    def kind(self) -> Kind:
        return "step" if self.step else "sequence"

    @property
    def dimensions(self) -> dict[str, int]:
        z = self.sizes
        return {"N": z.N, "T": z.T, "D": z.D, "H": z.H}

    def forward(self) -> vector.VectorForward:
        x, target = self.data.arrays()
        return self.model.forward(self.rnn, self.params, x, target)


@dataclass(frozen=True)
class ProblemSet:
    path: str
    title: str
    entry_point: str
    problems: tuple[Problem, ...]
    contract: str = "trace"         # how submissions are called: a name in grader.contracts.CONTRACTS

    def selected(self, include_hidden: bool) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if include_hidden or not p.hidden)
