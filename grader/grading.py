"""Grade a submission: build each problem's trace, call the submission in its own
process, and compare every graded output with the reference."""
import time
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from grader.compare import compare
from grader.diagnosis import across_problems, diagnose
from grader.problems import Limits, Problem, ProblemSet
from grader.results import OutputResult, ProblemResult, Report
from grader.runner import CallOutcome, SubmissionProcess
from grader.sandbox import sandbox_for
from reference.scalar import GRADIENT_SHAPES, Forward, backward


def trace_of(problem: Problem, f: Forward) -> dict:
    """What the submission sees: the forward pass, never a gradient."""
    return {"x": f.x, "y": f.y, "w": f.w, "v": f.v, "h0": f.h0, "s": f.s, "h": f.h,
            "y_hat": f.y_hat, "T": problem.T, "phi": problem.phi, "theta": problem.theta,
            "loss": problem.loss}


def usable_output(name: str, raw: np.ndarray, T: int) -> tuple[np.ndarray | None, str | None]:
    """The returned value reshaped to the output's shape, or why it cannot be graded."""
    shape = GRADIENT_SHAPES[name](T)
    if shape == () and raw.size == 1:
        raw = raw.reshape(())
    if raw.shape != shape:
        return None, f"has shape {raw.shape}, expected {shape}"
    bad = ~np.isfinite(raw)
    if bad.any():
        kind = "NaN" if np.isnan(raw[bad]).any() else "infinite"
        where = f" at t = {int(np.flatnonzero(bad)[0]) + 1}" if shape else ""
        return None, f"is {kind}{where}"
    return raw, None


def score_outputs(problem: Problem, expected: dict, outcome: CallOutcome) -> tuple[OutputResult, ...]:
    results = []
    for name, points in problem.grade.items():
        per_timestep = GRADIENT_SHAPES[name](problem.T) != ()
        if name in outcome.outputs:
            got, why = usable_output(name, outcome.outputs[name], problem.T)
        else:
            got, why = None, outcome.unusable.get(name, "is missing")
        comparison = None if got is None else compare(expected[name], got, problem.tolerance)
        results.append(OutputResult(name, points, per_timestep, comparison, why))
    return tuple(results)


def summarise(outputs: tuple[OutputResult, ...]) -> tuple[str, str]:
    """(status, message) for a problem whose call returned."""
    unusable = [f"{o.name} {o.problem}" for o in outputs if o.comparison is None]
    wrong = []
    for o in outputs:
        if o.comparison is not None and not o.passed:
            t = o.comparison.first_divergence
            wrong.append(f"{o.name} first diverges at t = {t}" if o.per_timestep else f"{o.name} differs")
    if unusable:
        return "error", "; ".join(unusable + wrong)
    if wrong:
        return "failed", "; ".join(wrong)
    return "passed", "every graded output matches"


class Reference(NamedTuple):
    """A problem's forward pass (what the submission sees) and the reference gradients,
    with the catalogue mistakes' runs on it, filled in as diagnoses need them."""
    problem: Problem
    forward: Forward
    expected: dict
    mistake_runs: dict              # mistake id → reference.mistakes.Variants


def references(problem_set: ProblemSet, include_hidden: bool = False) -> tuple[Reference, ...]:
    """The reference of every selected problem: computed once, it grades any number of submissions."""
    prepared = []
    for problem in problem_set.selected(include_hidden):
        f = problem.forward()
        prepared.append(Reference(problem, f, backward(problem.rnn, f), {}))
    return tuple(prepared)


def effective_limits(problem: Problem, override: dict) -> Limits:
    return Limits(**{**problem.limits.__dict__, **{k: v for k, v in override.items() if v is not None}})


def grade(problem_set: ProblemSet, submission: Path, include_hidden: bool = False,
          limits_override: dict | None = None, prepared: tuple[Reference, ...] | None = None,
          diagnosis: bool = True, isolation: str = "auto", hide=(), start: str = "zygote") -> Report:
    """Grade every selected problem; a failure in one never stops the others. With
    `diagnosis`, name the catalogue mistakes that reproduce each wrong output.

    `prepared` is `references(problem_set, include_hidden)`, when already computed.
    `isolation` is a sandbox level ("auto": the strongest this host allows; a level that
    cannot run here raises SandboxUnavailable); `hide` lists more paths the submission
    must not read; `start` is how each sandbox begins ("zygote": forked from a clean,
    pre-started process; "fresh": a new interpreter), the same confinement either way.
    The report's metadata has `isolation` (the level used),
    `execution_time` (seconds) and, when the submission could not be imported before its
    first call, `import_error` (why)."""
    started_at = time.monotonic()
    override = limits_override or {}
    sandbox = sandbox_for(problem_set.path, isolation, hide)
    selected = prepared or references(problem_set, include_hidden)
    results, metadata = [], {"isolation": sandbox.level.name}
    process: SubmissionProcess | None = None
    import_failure: CallOutcome | None = None
    try:
        for i, (problem, f, expected, mistake_runs) in enumerate(selected):
            limits = effective_limits(problem, override)
            if import_failure is None and (process is None or not process.alive or process.limits != limits):
                first_start = process is None
                if process is not None:
                    process.close()
                process = SubmissionProcess(submission.resolve(), problem_set.entry_point, limits, sandbox,
                                            calls=len(selected) - i, start=start)
                started = process.start()
                if started.reason:
                    import_failure = started
                    if first_start:
                        metadata["import_error"] = f"the submission {started.reason}"
            outcome = import_failure or process.call(trace_of(problem, f), output_shapes(problem))
            result = problem_result(problem, expected, outcome)
            if diagnosis:
                result = replace(result, diagnosis=diagnose(problem, f, expected, result.outputs, mistake_runs))
            results.append(result)
    finally:
        if process is not None:
            process.close()
    metadata["execution_time"] = round(time.monotonic() - started_at, 3)
    return Report(problem_set.path, str(submission), tuple(results), metadata,
                  diagnosis_across_problems=across_problems(tuple(results)) if diagnosis else ())


def output_shapes(problem: Problem) -> dict[str, tuple[int, ...]]:
    return {name: GRADIENT_SHAPES[name](problem.T) for name in problem.grade}


def problem_result(problem, expected, outcome: CallOutcome) -> ProblemResult:
    common = dict(id=problem.id, title=problem.title, visibility=problem.visibility, T=problem.T,
                  max_score=problem.points, submission_output=outcome.output)
    if outcome.reason:
        return ProblemResult(status="error", message=f"the submission {outcome.reason}",
                             traceback=outcome.traceback, **common)
    outputs = score_outputs(problem, expected, outcome)
    status, message = summarise(outputs)
    return ProblemResult(status=status, message=message, outputs=outputs, **common)
