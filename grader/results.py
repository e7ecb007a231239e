"""What grading found, as frozen data: one OutputResult per graded output, one
ProblemResult per problem, one Report per submission, and a Diagnosis wherever a catalogue
mistake (reference/mistakes.py, reference/vector_mistakes.py) reproduces a wrong output.
Report formats render these."""
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from grader.compare import Comparison
from grader.problem_set import Visibility

FAILED_TO_GRADE: Final = "failed_to_grade"     # a fault of the grader or host: no verdict, graded again by `batch`


@dataclass(frozen=True)
class CallOutcome:
    """What one call returned: raw arrays by output name, or why there are none.

    `reason` is None on success; otherwise a sentence for the report. `fault`: the reason is
    a fault of the grader or the host (a sandbox that could not start), not the submission's."""
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    unusable: dict[str, str] = field(default_factory=dict)   # output name → why not numbers
    reason: str | None = None
    traceback: str = ""
    blocked_imports: tuple[str, ...] = ()
    output: str = ""             # what the submission printed meanwhile: stdout, then stderr
    fault: bool = False
    cache_changed: bool = False          # the backward changed its cache (grader/submission_calls.py)
    second_call: str | None = None       # what backward then did called again on that cache, when not
                                         # what it did first: "raised IndexError: pop from empty list"
    probe: "CallOutcome | None" = None   # the probing call's outcome, where one was made (grader/term_check.py)


Status = Literal["passed", "failed", "error", "failed_to_grade"]    # FAILED_TO_GRADE: a grader or host fault
Localization = Literal["full", "partial"]


@dataclass(frozen=True)
class Unusable:
    """Why a returned output could not be compared: "is missing", "is NaN at t = 3"."""
    reason: str


# how a submission's ∂L/∂s_t was obtained: returned by it, recovered from its dx (Wx of rank H),
# or from its probing call's widened dx′ (grader.contracts.Probe)
DLdsMethod = Literal["returned", "from_dx", "probing"]


@dataclass(frozen=True)
class Derivation:
    """An output the submission did not return but that was recovered from one it did
    (∂L/∂s_t from dx): worth no points, and "partial" where only part of it shows (`method`
    None: neither dx nor a probing call showed all of it)."""
    source: str                        # e.g. "dx"
    note: str                          # how it was derived, in a sentence
    method: DLdsMethod | None          # how all of it was recovered (from_dx, probing); None where partial

    @property
    def localization(self) -> Localization:
        return "partial" if self.method is None else "full"

    @property
    def described(self) -> str:
        """"derived from dx", "derived from dx, partial" or "derived from dx by a probing call"."""
        how = ", partial" if self.method is None else " by a probing call" if self.method == "probing" else ""
        return f"derived from {self.source}{how}"


@dataclass(frozen=True)
class ShapeOnly:
    """A returned output whose values are right once length-1 axes are removed or added
    (db of shape (1, H) for (H,)): its shape, the expected one, and whether its points are
    granted anyway (the problem set's `shape_policy: lenient`)."""
    got: tuple[int, ...]
    expected: tuple[int, ...]
    granted: bool

    def note(self, name: str) -> str:
        return f"{name} has shape {self.got}, expected {self.expected}: the values are right"


@dataclass(frozen=True)
class TermCheck:
    """A parameter gradient against the sums of the submission's own ∂L/∂s_t (`used`: how
    that was obtained, in a phrase; `method`: as a DLdsMethod): whether it is consistent with
    them, or the one term (t, what it uses, what belongs there) whose change explains it.
    consistent and method are None where ∂L/∂s_t could not be recovered (`used` says why)."""
    used: str
    consistent: bool | None
    wrong_term: tuple[int, str, str] | None = None
    method: DLdsMethod | None = None


@dataclass(frozen=True)
class OutputResult:
    name: str                          # e.g. "dL_ds", or the contract's name ("dWh")
    symbol: str                        # its notation: "∂L/∂s_t"
    points: float
    per_timestep: bool                 # t runs along an axis (index t-1), else a parameter
    found: Comparison | Unusable       # the comparison, or why there is none
    derived: Derivation | None = None
    shape_only: ShapeOnly | None = None     # compared after reshaping: only length-1 axes differed
    terms: TermCheck | None = None          # a failing parameter gradient against the submission's ∂L/∂s_t

    @property
    def comparison(self) -> Comparison | None:
        return self.found if isinstance(self.found, Comparison) else None

    @property
    def unusable(self) -> str | None:
        """Why the output could not be compared, if it could not."""
        return self.found.reason if isinstance(self.found, Unusable) else None

    @property
    def derived_from(self) -> str | None:
        return self.derived.source if self.derived else None

    @property
    def localization(self) -> Localization | None:
        return self.derived.localization if self.derived else None

    @property
    def passed(self) -> bool:
        return (isinstance(self.found, Comparison) and self.found.passed
                and (self.shape_only is None or self.shape_only.granted))

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
    visibility: Visibility
    T: int
    status: Status
    message: str
    max_score: float
    outputs: tuple[OutputResult, ...] = ()
    traceback: str = ""
    submission_output: str = ""        # the start of what the submission printed
    diagnosis: tuple[Diagnosis, ...] = ()
    local_term: str = ""               # what enters ∂L/∂s_T besides the boundary, in the contract's notation
    sizes: dict[str, int] = field(default_factory=dict)     # Problem.dimensions: {"T": 4}, or N, T, D, H

    @property
    def ran(self) -> bool:
        """Whether the call returned (whatever it returned): no crash, timeout or import error."""
        return bool(self.outputs)

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

    @property
    def failed_to_grade(self) -> bool:
        return any(p.status == FAILED_TO_GRADE for p in self.problems)
