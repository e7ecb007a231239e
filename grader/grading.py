"""Grade a submission: build each problem's exercise (grader.contracts), call the
submission in its own process, and compare every graded output with the reference."""
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from grader import contracts
from grader.compare import compare
from grader.diagnosis import across_problems, diagnose, diagnose_vector
from grader.localization import derived_dL_ds
from grader.problems import Limits, ProblemSet
from grader.results import OutputResult, ProblemResult, Report
from grader.runner import CallOutcome, SubmissionProcess
from grader.sandbox import sandbox_for


def usable_output(raw: np.ndarray, shape: tuple, time_axis: int | None = 0) -> tuple[np.ndarray | None, str | None]:
    """The returned value reshaped to `shape`, or why it cannot be graded."""
    if shape == () and raw.size == 1:
        raw = raw.reshape(())
    if raw.shape != shape:
        return None, f"has shape {raw.shape}, expected {shape}"
    bad = ~np.isfinite(raw)
    if bad.any():
        kind = "NaN" if np.isnan(raw[bad]).any() else "infinite"
        where = ""
        if time_axis is not None:
            steps = np.moveaxis(bad, time_axis, 0).reshape(shape[time_axis], -1).any(axis=1)
            where = f" at t = {int(np.flatnonzero(steps)[0]) + 1}"
        return None, f"is {kind}{where}"
    return raw, None


def score_outputs(problem, expected: dict, outcome: CallOutcome) -> tuple[OutputResult, ...]:
    """One result per graded output, in grade order."""
    call = contracts.call_for(problem)
    results = []
    for name, points in problem.grade.items():
        out = call.outputs[name]
        if name in outcome.outputs:
            got, why = usable_output(outcome.outputs[name], np.shape(expected[name]), out.time_axis)
        else:
            got, why = None, outcome.unusable.get(name, "is missing")
        comparison = None if got is None else compare(expected[name], got, problem.tolerance, out.time_axis or 0,
                                                      "forward" if out.forward else "backward")
        results.append(OutputResult(name, points, out.time_axis is not None, comparison, why))
    return tuple(results)


def localized(problem, exercise: contracts.Exercise, outcome: CallOutcome,
              outputs: tuple[OutputResult, ...]) -> tuple[OutputResult, ...]:
    """The outputs in the order a student should read them: forward values first (every
    gradient depends on them), then ∂L/∂s_t derived from dx where the contract returns no
    ∂L/∂s_t, then the rest."""
    call = exercise.call
    first = tuple(o for o in outputs if call.outputs[o.name].forward)
    rest = tuple(o for o in outputs if not call.outputs[o.name].forward)
    derived = None
    if call.dx and call.dx in outcome.outputs:
        dx, _ = usable_output(outcome.outputs[call.dx], np.shape(exercise.expected[call.dx]),
                              call.outputs[call.dx].time_axis)
        derived = None if dx is None else derived_dL_ds(exercise, dx, problem.tolerance)
    return first + (() if derived is None else (derived,)) + rest


def _divergence(o: OutputResult) -> str:
    name = f"{o.name} (derived from {o.derived_from}{', partial' if o.localization == 'partial' else ''})" \
        if o.derived_from else o.name
    if not o.per_timestep:
        return f"{name} differs"
    order = " (forward order)" if o.comparison.order == "forward" else ""
    return f"{name} first diverges at t = {o.comparison.first_divergence}{order}"


def summarise(outputs: tuple[OutputResult, ...]) -> tuple[str, str]:
    """(status, message) for a problem whose call returned; a derived output never changes the status."""
    graded = [o for o in outputs if o.derived_from is None]
    unusable = [f"{o.name} {o.problem}" for o in graded if o.comparison is None]
    wrong = [_divergence(o) for o in outputs if o.comparison is not None and not o.passed]
    if unusable:
        return "error", "; ".join(unusable + wrong)
    if not all(o.passed for o in graded):
        return "failed", "; ".join(wrong)
    return "passed", "every graded output matches"


def references(problem_set: ProblemSet, include_hidden: bool = False) -> tuple[contracts.Exercise, ...]:
    """The exercise of every selected problem (its call and its reference values): computed
    once, it grades any number of submissions."""
    return tuple(contracts.exercise(problem, problem_set.entry_point)
                 for problem in problem_set.selected(include_hidden))


def effective_limits(problem, override: dict) -> Limits:
    return Limits(**{**problem.limits.__dict__, **{k: v for k, v in override.items() if v is not None}})


def grade(problem_set: ProblemSet, submission: Path, include_hidden: bool = False,
          limits_override: dict | None = None, prepared: tuple[contracts.Exercise, ...] | None = None,
          diagnosis: bool = True, isolation: str = "auto", hide=(), start: str = "zygote") -> Report:
    """Grade every selected problem; a failure in one never stops the others. With
    `diagnosis`, name the catalogue mistakes that reproduce each wrong output (their
    vector forms for a vector problem).

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
    exercises = prepared or references(problem_set, include_hidden)
    entry_points = ",".join(contracts.functions_everywhere([ex.problem for ex in exercises], problem_set.entry_point))
    results, metadata = [], {"isolation": sandbox.level.name}
    process: SubmissionProcess | None = None
    import_failure: CallOutcome | None = None
    try:
        for i, exercise in enumerate(exercises):
            problem = exercise.problem
            limits = effective_limits(problem, override)
            if import_failure is None and (process is None or not process.alive or process.limits != limits):
                first_start = process is None
                if process is not None:
                    process.close()
                process = SubmissionProcess(submission.resolve(), entry_points, limits, sandbox,
                                            calls=len(exercises) - i, start=start)
                started = process.start()
                if started.reason:
                    import_failure = started
                    if first_start:
                        metadata["import_error"] = f"the submission {started.reason}"
            outcome = import_failure or process.call(exercise.arguments, exercise.shapes,
                                                     exercise.call.how(exercise.functions))
            result = problem_result(problem, exercise, outcome)
            if diagnosis:
                result = replace(result, diagnosis=diagnose(problem, exercise.forward, exercise.values, result.outputs,
                                                            exercise.mistake_runs)
                                 if problem.kind == "scalar" else diagnose_vector(exercise, result.outputs))
            results.append(result)
    finally:
        if process is not None:
            process.close()
    metadata["execution_time"] = round(time.monotonic() - started_at, 3)
    return Report(problem_set.path, str(submission), tuple(results), metadata,
                  diagnosis_across_problems=across_problems(tuple(results)) if diagnosis else ())


def problem_result(problem, exercise: contracts.Exercise, outcome: CallOutcome) -> ProblemResult:
    common = dict(id=problem.id, title=problem.title, visibility=problem.visibility, T=problem.T,
                  max_score=problem.points, submission_output=outcome.output)
    if outcome.reason:
        return ProblemResult(status="error", message=f"the submission {outcome.reason}",
                             traceback=outcome.traceback, **common)
    outputs = localized(problem, exercise, outcome, score_outputs(problem, exercise.expected, outcome))
    status, message = summarise(outputs)
    return ProblemResult(status=status, message=message, outputs=outputs, **common)
