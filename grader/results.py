"""What grading found, as frozen data: one OutputResult per graded output, one
ProblemResult per problem, one Report per submission. Report formats render these."""
from dataclasses import dataclass, field

from grader.compare import Comparison


@dataclass(frozen=True)
class OutputResult:
    name: str                          # e.g. "dL_ds"
    points: float
    per_timestep: bool                 # shape (T,) indexed t-1, else a scalar
    comparison: Comparison | None      # None when the output was unusable
    problem: str | None = None         # why it was unusable ("missing", "NaN at t = 3")

    @property
    def passed(self) -> bool:
        return self.comparison is not None and self.comparison.passed

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


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

    @property
    def score(self) -> float:
        return sum(o.score for o in self.outputs)


@dataclass(frozen=True)
class Report:
    problem_set: str
    submission: str
    problems: tuple[ProblemResult, ...]
    metadata: dict = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(p.score for p in self.problems)

    @property
    def max_score(self) -> float:
        return sum(p.max_score for p in self.problems)

    @property
    def passed(self) -> bool:
        return all(p.status == "passed" for p in self.problems)
