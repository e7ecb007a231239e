"""Audit a problem set: which catalogue mistake (reference/mistakes.py) each problem catches.

A problem detects a mistake when the mistake's gradients, returned as a submission would
return them, fail the problem: scored exactly as grading scores a submission
(grader.grading.score_outputs). A mistake with parameters is tried with its
`audit_params` (truncated_recursion: k = 3). Where a problem does not detect a mistake,
the audit says why: the outputs it changes are not graded there, a known blind spot
("φ = θ"), it changes nothing there, or its change stays within the tolerance.
"""
import json
from dataclasses import dataclass
from typing import Callable


from grader.grading import score_outputs
from grader.problems import Problem, ProblemSet
from grader.runner import CallOutcome
from reference.mistakes import MISTAKES, Mistake, same_up_to_rounding
from reference.scalar import Forward, backward


@dataclass(frozen=True)
class Detection:
    detects: bool
    first_divergence: int | None    # first diverging t of the first per-timestep output it fails
    outputs: tuple[str, ...]        # the graded outputs it fails
    why_not: str | None = None      # when it does not detect: why


@dataclass(frozen=True)
class Audit:
    problem_set: ProblemSet
    detections: dict[str, dict[str, Detection]]     # problem id → mistake id → Detection

    def catchers(self, mistake: str, visible_only: bool = False) -> list[Problem]:
        return [p for p in self.problem_set.problems
                if self.detections[p.id][mistake].detects and not (visible_only and p.hidden)]

    @property
    def undetected(self) -> list[str]:
        """The mistakes no problem catches."""
        return [m for m in MISTAKES if not self.catchers(m)]

    @property
    def not_caught_by_visible(self) -> list[str]:
        """The mistakes no visible problem catches: students cannot check them themselves."""
        return [m for m in MISTAKES if not self.catchers(m, visible_only=True)]

    @property
    def warnings(self) -> list[str]:
        return ([f"{m} is caught by no problem" for m in self.undetected]
                + [f"{m} is caught by no visible problem: students cannot check it themselves"
                   for m in self.not_caught_by_visible if m not in self.undetected])

    def summary(self, mistake: str) -> str:
        """E.g. "caught by 9 of 10 problems (5 of 6 visible); not by single-step (T = 1)"."""
        problems = self.problem_set.problems
        visible = [p for p in problems if not p.hidden]
        text = (f"caught by {len(self.catchers(mistake))} of {len(problems)} problems "
                f"({len(self.catchers(mistake, visible_only=True))} of {len(visible)} visible)")
        missed = [f"{p.id} ({self.detections[p.id][mistake].why_not})"
                  for p in problems if not self.detections[p.id][mistake].detects]
        return text + (f"; not by {', '.join(missed)}" if missed else "")


def why_not(problem: Problem, mistake: Mistake, f: Forward, variant: dict | None, expected: dict) -> str:
    if not set(mistake.outputs) & set(problem.grade):
        return f"{', '.join(mistake.outputs)} not graded"
    reason = mistake.blind_spot(problem.rnn, f)
    if reason or variant is None:
        return reason or "no such variant here"
    if all(same_up_to_rounding(variant[name], expected[name]) for name in problem.grade):
        return "it changes nothing here"
    return "its change stays within the tolerance"


def detection(problem: Problem, mistake: Mistake, f: Forward, expected: dict) -> Detection:
    """Whether `problem` (forward pass `f`, reference gradients `expected`) catches `mistake`."""
    variant = mistake.run(problem.rnn, f, expected).of(mistake.audit_params)
    if variant is None:
        return Detection(False, None, (), why_not(problem, mistake, f, variant, expected))
    returned = CallOutcome(outputs={name: variant[name] for name in problem.grade})
    graded = score_outputs(problem, expected, returned)
    failing = [o for o in graded if not o.passed]
    if not failing:
        return Detection(False, None, (), why_not(problem, mistake, f, variant, expected))
    t = next((o.comparison.first_divergence for o in failing if o.per_timestep and o.comparison), None)
    return Detection(True, t, tuple(o.name for o in failing))


def audit(problem_set: ProblemSet) -> Audit:
    detections = {}
    for problem in problem_set.problems:
        f = problem.forward()
        expected = backward(problem.rnn, f)
        detections[problem.id] = {m.id: detection(problem, m, f, expected) for m in MISTAKES.values()}
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
                     for m in MISTAKES.values()},
        "undetected": result.undetected,
        "not_caught_by_visible": result.not_caught_by_visible,
        "warnings": result.warnings,
    }


def _cell(d: Detection) -> str:
    if not d.detects:
        return "·"
    return "✓" if d.first_divergence is None else str(d.first_divergence)


def audit_text(result: Audit) -> str:
    problems = result.problem_set.problems
    hidden = sum(p.hidden for p in problems)
    lines = [f"Audit of {result.problem_set.path}: {len(MISTAKES)} catalogue mistakes against "
             f"{len(problems)} problems ({len(problems) - hidden} visible, {hidden} hidden)", ""]
    id_width = max(len(p.id) for p in problems)
    lines += [f"  {i:>3}  {p.id:<{id_width}}  {p.visibility:<7}  T = {p.T}" for i, p in enumerate(problems, 1)]
    cells = {m: [_cell(result.detections[p.id][m]) for p in problems] for m in MISTAKES}
    width = max(len(str(len(problems))), *(len(c) for row in cells.values() for c in row))
    name_width = max(len(m) for m in MISTAKES)
    lines += ["", f"  {'':<{name_width}}  " + " ".join(f"{i:>{width}}" for i in range(1, len(problems) + 1))]
    lines += [f"  {m:<{name_width}}  " + " ".join(f"{c:>{width}}" for c in row) for m, row in cells.items()]
    lines += ["  (t: caught, first diverging at t in BPTT order; ✓: caught by a scalar output only; "
              "·: not caught)", ""]
    lines += [f"{_named(m)}: {result.summary(m.id)}" for m in MISTAKES.values()]
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[Audit], str]] = {
    "text": audit_text,
    "json": lambda result: json.dumps(audit_json(result), indent=2, allow_nan=False) + "\n",
}
