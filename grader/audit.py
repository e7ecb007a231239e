"""Audit a problem set: which mistake of its model's catalogue (reference.models) each
problem catches.

A problem detects a mistake when the mistake's gradients, returned as a submission would
return them (in its contract's layout), fail the problem: scored exactly as grading scores a
submission (grader.scoring), the first divergence being that of ∂L/∂s_t where it is derived.
A mistake with parameters is tried with its `audit_params` (truncated_recursion: k = 3).
Where a problem does not detect a mistake, the audit says why: the outputs it changes are
not graded there, a known blind spot ("φ = θ"), it changes nothing there, or its change
stays within the tolerance. The set's catalogue is the mistakes of the models its problems use.

For a set with vector sequence problems the audit also reports their `coverage` of the edge
sizes real files crash on (T = 1, N = 1, D < H, D > H, and sizes all distinct and none 3, so
that a hard-coded size fails somewhere), with a warning for each one no problem has.
"""
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grader.contracts import Exercise, exercise, mistakes_of
from grader.problem_set import Problem, ProblemSet, VectorProblem
from grader.results import CallOutcome
from grader.scoring import localized, score_outputs
from reference.mistakes import Mistake, same_up_to_rounding


@dataclass(frozen=True)
class Detection:
    detects: bool
    first_divergence: int | None    # first diverging t of the first per-timestep output it fails
    outputs: tuple[str, ...]        # the graded outputs it fails
    why_not: str | None = None      # when it does not detect: why


# coverage key → (whether sizes (N, T, D, H) have it, the warning when no sequence problem does)
EDGE_SIZES: dict[str, tuple[Callable[[int, int, int, int], bool], str]] = {
    "T1": (lambda N, T, D, H: T == 1,
           "no sequence problem has T = 1: code that fails only on a single step "
           "(per-step results stacked that stay 2-D, D read from cache[1]) scores full marks"),
    "N1": (lambda N, T, D, H: N == 1,
           "no sequence problem has N = 1: code that squeezes the batch axis scores full marks"),
    "D_lt_H": (lambda N, T, D, H: D < H,
               "no sequence problem has D < H: code that confuses D and H may score full marks"),
    "D_gt_H": (lambda N, T, D, H: D > H,
               "no sequence problem has D > H: code that confuses D and H may score full marks"),
    "distinct_sizes": (lambda N, T, D, H: len({N, T, D, H}) == 4 and 3 not in (N, T, D, H),
                       "no sequence problem has N, T, D, H all distinct and none 3: a size hard-coded while "
                       "debugging, or two sizes swapped, may score full marks"),
}


def coverage(problem_set: ProblemSet) -> dict[str, bool] | None:
    """Which edge sizes the set's vector sequence problems have (None: it has none)."""
    sizes = [p.sizes for p in problem_set.problems if isinstance(p, VectorProblem) and not p.step]
    if not sizes:
        return None
    return {key: any(has(z.N, z.T, z.D, z.H) for z in sizes) for key, (has, _) in EDGE_SIZES.items()}


@dataclass(frozen=True)
class Audit:
    problem_set: ProblemSet
    detections: dict[str, dict[str, Detection]]     # problem id → mistake id (of its model) → Detection

    @property
    def catalogue(self) -> dict[str, Mistake]:
        """The mistakes of the models the set's problems use, by id (a scalar entry first)."""
        entries: dict[str, Mistake] = {}
        for problem in self.problem_set.problems:
            for mistake_id, mistake in mistakes_of(problem).items():
                entries.setdefault(mistake_id, mistake)
        return entries

    def catchers(self, mistake: str, visible_only: bool = False) -> list[Problem]:
        return [p for p in self.problem_set.problems if mistake in self.detections[p.id]
                and self.detections[p.id][mistake].detects and not (visible_only and p.hidden)]

    @property
    def undetected(self) -> list[str]:
        """The mistakes no problem catches."""
        return [m for m in self.catalogue if not self.catchers(m)]

    @property
    def not_caught_by_visible(self) -> list[str]:
        """The mistakes no visible problem catches: students cannot check them themselves."""
        return [m for m in self.catalogue if not self.catchers(m, visible_only=True)]

    @property
    def coverage(self) -> dict[str, bool] | None:
        return coverage(self.problem_set)

    @property
    def warnings(self) -> list[str]:
        return ([f"{m} is caught by no problem" for m in self.undetected]
                + [f"{m} is caught by no visible problem: students cannot check it themselves"
                   for m in self.not_caught_by_visible if m not in self.undetected]
                + [EDGE_SIZES[key][1] for key, has in (self.coverage or {}).items() if not has])

    def summary(self, mistake: str) -> str:
        """E.g. "caught by 9 of 10 problems (5 of 6 visible); not by single-step (T = 1)"."""
        problems = [p for p in self.problem_set.problems if mistake in self.detections[p.id]]
        visible = [p for p in problems if not p.hidden]
        text = (f"caught by {len(self.catchers(mistake))} of {len(problems)} problems "
                f"({len(self.catchers(mistake, visible_only=True))} of {len(visible)} visible)")
        missed = [f"{p.id} ({self.detections[p.id][mistake].why_not})"
                  for p in problems if not self.detections[p.id][mistake].detects]
        return text + (f"; not by {', '.join(missed)}" if missed else "")


def detection(ex: Exercise, mistake: Mistake, reference: tuple[Any, dict]) -> Detection:
    """Whether the problem of exercise `ex` catches `mistake`, its variant's gradients
    returned in the contract's layout (the reference's values for the outputs it leaves);
    `reference` is `ex.reference()`."""
    call = ex.call
    variant = mistake.run(ex.problem.rnn, *reference).of(mistake.audit_params)
    if variant is None:
        return Detection(False, None, (), why_not(ex, mistake, variant, reference))
    returned = {name: call.outputs[name].layout.to_submission(variant[call.outputs[name].source])
                if call.outputs[name].source in variant else ex.expected[name] for name in ex.requested}
    outcome = CallOutcome(outputs=returned)
    graded = localized(ex.problem, ex, outcome, score_outputs(ex.problem, ex.expected, outcome))
    failing = [o for o in graded if not o.passed]
    if not any(o.points for o in failing):
        return Detection(False, None, (), why_not(ex, mistake, variant, reference))
    t = next((o.comparison.first_divergence for o in failing if o.per_timestep and o.comparison), None)
    return Detection(True, t, tuple(o.name for o in failing if o.points))


def why_not(ex: Exercise, mistake: Mistake, variant: dict | None, reference: tuple[Any, dict]) -> str:
    sources = {ex.call.outputs[name].source for name in ex.problem.grade}
    if not set(mistake.outputs) & sources:
        return f"{', '.join(mistake.outputs)} not graded"
    f, values = reference
    reason = mistake.blind_spot(ex.problem.rnn, f)
    if reason or variant is None:
        return reason or "no such variant here"
    if all(same_up_to_rounding(variant[source], values[source]) for source in sources if source in variant):
        return "it changes nothing here"
    return "its change stays within the tolerance"


def audit(problem_set: ProblemSet) -> Audit:
    detections = {}
    for problem in problem_set.problems:
        ex = exercise(problem, problem_set.entry_point)
        reference = ex.reference()
        detections[problem.id] = {m.id: detection(ex, m, reference) for m in mistakes_of(problem).values()}
    return Audit(problem_set, detections)


def _named(mistake: Mistake) -> str:
    params = ", ".join(f"{k} = {v}" for k, v in mistake.audit_params.items())
    return mistake.id + (f" with {params}" if params else "")


def audit_json(result: Audit) -> dict:
    return {
        "problem_set": result.problem_set.path,
        "problems": {pid: {m: {"detects": d.detects, "first_divergence": d.first_divergence,
                               "outputs": list(d.outputs), "why_not": d.why_not}
                           for m, d in by_mistake.items()}
                     for pid, by_mistake in result.detections.items()},
        "mistakes": {m.id: {"change": m.change, "params": m.audit_params,
                            "caught_by": [p.id for p in result.catchers(m.id)], "summary": result.summary(m.id)}
                     for m in result.catalogue.values()},
        "undetected": result.undetected,
        "not_caught_by_visible": result.not_caught_by_visible,
        "coverage": result.coverage,
        "warnings": result.warnings,
    }


def _cell(d: Detection | None) -> str:
    if d is None:
        return "–"
    if not d.detects:
        return "·"
    return "✓" if d.first_divergence is None else str(d.first_divergence)


COVERAGE_LABELS = {"T1": "T = 1", "N1": "N = 1", "D_lt_H": "D < H", "D_gt_H": "D > H",
                   "distinct_sizes": "N, T, D, H distinct and none 3"}


def audit_text(result: Audit) -> str:
    problems = result.problem_set.problems
    hidden = sum(p.hidden for p in problems)
    catalogue = result.catalogue
    lines = [f"Audit of {result.problem_set.path}: {len(catalogue)} catalogue mistakes against "
             f"{len(problems)} problems ({len(problems) - hidden} visible, {hidden} hidden)", ""]
    id_width = max(len(p.id) for p in problems)
    lines += [f"  {i:>3}  {p.id:<{id_width}}  {p.visibility:<7}  T = {p.T}" for i, p in enumerate(problems, 1)]
    cells = {m: [_cell(result.detections[p.id].get(m)) for p in problems] for m in catalogue}
    width = max(len(str(len(problems))), *(len(c) for row in cells.values() for c in row))
    name_width = max(len(m) for m in catalogue)
    lines += ["", f"  {'':<{name_width}}  " + " ".join(f"{i:>{width}}" for i in range(1, len(problems) + 1))]
    lines += [f"  {m:<{name_width}}  " + " ".join(f"{c:>{width}}" for c in row) for m, row in cells.items()]
    lines += ["  (t: caught, first diverging at t in BPTT order; ✓: caught by a scalar output only; "
              "·: not caught" + ("; –: not a mistake of the problem's model)" if any(
                  "–" in row for row in cells.values()) else ")"), ""]
    lines += [f"{_named(m)}: {result.summary(m.id)}" for m in catalogue.values()]
    if result.coverage is not None:
        lines.append("coverage of the sequence problems: " + ", ".join(
            f"{label} {'✓' if result.coverage[key] else '✗'}" for key, label in COVERAGE_LABELS.items()))
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Audit], str]] = {
    "text": audit_text,
    "json": lambda result: json.dumps(audit_json(result), indent=2, allow_nan=False) + "\n",
}
