"""What grading found, as frozen data: one OutputResult per graded output, one
ProblemResult per problem, one Report per submission, and a Diagnosis wherever a catalogue
mistake (reference/mistakes.py, reference/vector_mistakes.py) reproduces a wrong output.
Report formats render these."""
from dataclasses import dataclass, field

import numpy as np

from grader.compare import Comparison


@dataclass(frozen=True)
class CallOutcome:
    """What one call returned: raw arrays by output name, or why there are none.

    `reason` is None on success; otherwise a sentence for the report."""
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)   # output name → why not numbers
    reason: str | None = None
    traceback: str = ""
    blocked_imports: tuple[str, ...] = ()
    output: str = ""             # what the submission printed meanwhile: stdout, then stderr


@dataclass(frozen=True)
class OutputResult:
    name: str                          # e.g. "dL_ds"
    points: float
    per_timestep: bool                 # shape (T,) indexed t-1, else a scalar
    comparison: Comparison | None      # None when the output was unusable
    problem: str | None = None         # why it was unusable ("missing", "NaN at t = 3")
    derived_from: str | None = None    # e.g. "dx": not returned but recovered from it (worth no points)
    localization: str | None = None    # for a derived output: "full" or "partial"
    note: str = ""                     # how it was derived, in a sentence

    @property
    def passed(self) -> bool:
        return self.comparison is not None and self.comparison.passed

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


@dataclass(frozen=True)
class Diagnosis:
    """Mistake `mistake` with `params` reproduces the submission's wrong `output`
    (grader/diagnosis.py); so do the mistakes in `indistinguishable_from`."""
    mistake: str
    output: str
    params: dict
    indistinguishable_from: tuple[str, ...] = ()
    # the catalogue's words for the mistake in the problem's model, and its paragraph for the
    # student: descriptions of `mistake`, not part of what a diagnosis is (so not compared)
    change: str = field(default="", compare=False)
    explanation: str = field(default="", compare=False)


@dataclass(frozen=True)
class AcrossProblems:
    """Mistake `mistake` with `params` reproduces every wrong output of every failing problem."""
    mistake: str
    params: dict
    problems: tuple[str, ...]
    change: str = field(default="", compare=False)


@dataclass(frozen=True)
class ProblemResult:
    id: str
    title: str
    visibility: str
    T: int
    status: str                        # "passed" | "failed" | "error"
    message: str
    max_score: float
    outputs: tuple[OutputResult, ...] = ()
    traceback: str = ""
    submission_output: str = ""        # the start of what the submission printed
    diagnosis: tuple[Diagnosis, ...] = ()

    @property
    def score(self) -> float:
        return sum(o.score for o in self.outputs)


@dataclass(frozen=True)
class Report:
    problem_set: str
    submission: str
    problems: tuple[ProblemResult, ...]
    metadata: dict = field(default_factory=dict)
    diagnosis_across_problems: tuple[AcrossProblems, ...] = ()

    @property
    def score(self) -> float:
        return sum(p.score for p in self.problems)

    @property
    def max_score(self) -> float:
        return sum(p.max_score for p in self.problems)

    @property
    def passed(self) -> bool:
        return all(p.status == "passed" for p in self.problems)
