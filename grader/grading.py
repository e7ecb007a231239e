"""Grade a submission: build each problem's exercise (grader.contracts), call the
submission in its own process, and compare every graded output with the reference."""
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from grader import contracts, notebooks
from grader.crash_triggers import with_triggers
from grader.diagnosis import MistakeRuns, across_problems, diagnose
from grader.problem_set import Limits, ProblemSet
from grader.results import CallOutcome, ProblemResult, Report
from grader.runner import SubmissionProcess
from grader.sandbox import Sandbox, sandbox_for
from grader.scoring import problem_result
from grader.versions import environment


def prepare_exercises(problem_set: ProblemSet, include_hidden: bool = False) -> tuple[contracts.Exercise, ...]:
    """The exercise of every selected problem (its call and its reference values): computed
    once, it grades any number of submissions."""
    return tuple(contracts.exercise(problem, problem_set.entry_point)
                 for problem in problem_set.selected(include_hidden))


def effective_limits(problem, override: dict) -> Limits:
    return Limits(**{**problem.limits.__dict__, **{k: v for k, v in override.items() if v is not None}})


def grade(problem_set: ProblemSet, submission: Path, include_hidden: bool = False,
          limits_override: dict | None = None, prepared: tuple[contracts.Exercise, ...] | None = None,
          diagnosis: bool = True, isolation: str = "auto", hide=(), start: str = "zygote",
          runs: MistakeRuns | None = None, sandbox: Sandbox | None = None,
          notebook_cells: str = "definitions") -> Report:
    """Grade every selected problem; a failure in one never stops the others. With
    `diagnosis`, name the catalogue mistakes that reproduce each wrong output (their
    vector forms for a vector problem).

    `prepared` is `prepare_exercises(problem_set, include_hidden)`, when already computed;
    `runs` keeps the catalogue mistakes' runs on them for later submissions.
    `isolation` is a sandbox level ("auto": the strongest this host allows; a level that
    cannot run here raises SandboxUnavailable); `hide` lists more paths the submission
    must not read; `sandbox`, when given, is the confinement to use instead (sandbox_for's,
    made once for many submissions); `start` is how each sandbox begins ("zygote": forked
    from a clean, pre-started process; "fresh": a new interpreter), the same confinement
    either way. Every call is made before any is scored or diagnosed, and the submission's
    processes are gone by then, so the time the grader takes tells the submission nothing.
    The report's metadata has `isolation` (the level used), `grader_version`, `python` and
    `numpy` (grader.versions), `execution_time` (seconds), when the submission could not be
    imported before its first call, `import_error` (why) and `import_traceback` (the
    submission's frames only; each problem then says it "could not be imported (above)"),
    and when a fault of the grader or host left problems `failed_to_grade`,
    `failed_to_grade` (why). A notebook (grader.submissions.grade_path has checked that
    nbformat reads it) runs the cells `notebook_cells` says (a mode of
    grader.notebooks.MODES); `notebook` in the metadata has the mode and the cells skipped."""
    started_at = time.monotonic()
    sandbox = sandbox or sandbox_for(problem_set.path, isolation, hide, start)
    exercises = prepared or prepare_exercises(problem_set, include_hidden)
    runs = MistakeRuns() if runs is None else runs
    outcomes, metadata = call_all(exercises, submission.resolve(), sandbox, limits_override or {},
                                  contracts.functions_everywhere([ex.problem for ex in exercises],
                                                                 problem_set.entry_point), start, notebook_cells)
    results: list[ProblemResult] = []
    for exercise, outcome in zip(exercises, outcomes, strict=True):
        result = problem_result(exercise.problem, exercise, outcome)
        if diagnosis:
            result = replace(result, diagnosis=diagnose(exercise, result.outputs, runs))
        results.append(result)
    metadata["execution_time"] = round(time.monotonic() - started_at, 3)
    graded = with_triggers(tuple(results), tuple(",".join(ex.functions) for ex in exercises))
    return Report(problem_set.path, str(submission), graded, metadata,
                  diagnosis_across_problems=across_problems(graded) if diagnosis else ())


def call_all(exercises: tuple[contracts.Exercise, ...], submission: Path, sandbox: Sandbox, override: dict,
             entry_points: list[str], start: str,
             notebook_cells: str = "definitions") -> tuple[list[CallOutcome], dict[str, Any]]:
    """Each exercise's call to the submission (resolved), in order, one sandbox serving
    them while it lives; returns the outcomes and the report's metadata so far. Every
    process of the submission is gone when it returns."""
    outcomes: list[CallOutcome] = []
    metadata: dict[str, Any] = {"isolation": sandbox.level.name, **environment()}
    if submission.suffix == ".ipynb":
        metadata["notebook"] = {"cells": notebook_cells,
                                "skipped": notebooks.python_source(str(submission), notebook_cells)[1]}
    process: SubmissionProcess | None = None
    import_failure: CallOutcome | None = None
    try:
        for i, exercise in enumerate(exercises):
            limits = effective_limits(exercise.problem, override)
            if import_failure is None and (process is None or not process.alive or process.limits != limits):
                first_start = process is None
                if process is not None:
                    process.close()
                try:
                    process = SubmissionProcess(submission, ",".join(entry_points), limits, sandbox,
                                                calls=sum(map(most_requests, exercises[i:])), start=start,
                                                printed=0 if process is None else process.printed,
                                                notebook_cells=notebook_cells)
                    started = process.start()
                except OSError as error:          # the zygote could not fork a sandbox, twice
                    started = CallOutcome(reason=f"could not be started in its sandbox ({error})", fault=True)
                if started.fault:
                    import_failure = started
                    metadata["failed_to_grade"] = f"the submission {started.reason}"
                elif started.reason:
                    import_failure = started
                    if first_start:     # said once, in the metadata; each problem points there
                        metadata["import_error"] = f"the submission {started.reason}"
                        metadata["import_traceback"] = started.traceback
                        import_failure = replace(started, reason="could not be imported (above)", traceback="")
            if import_failure is not None:
                outcomes.append(import_failure)
            else:
                assert process is not None      # started above
                outcomes.append(called(process, exercise))
    finally:
        if process is not None:
            process.close()
    return outcomes, metadata


def most_requests(exercise: contracts.Exercise) -> int:
    """The requests `called` may make for one exercise: its call, a second call of its
    backward on the cache it changed (forward_backward only), and its probing call."""
    return 1 + (exercise.call.style == "forward_backward") + (exercise.probe is not None)


def called(process: SubmissionProcess, exercise: contracts.Exercise) -> CallOutcome:
    """The exercise's call; when its backward changed its cache, with what a second call on
    that cache did (`second_call`), and where the exercise has a probing call, with its
    outcome (`probe`). Both come after the call's result is in, each within the problem's
    limits of its own: what they do never changes the result."""
    how = exercise.call.how(exercise.functions)
    outcome = process.call(exercise.arguments, exercise.shapes, how)
    if outcome.reason:
        return outcome
    if outcome.cache_changed and process.alive:
        again = process.second_call()
        outcome = replace(outcome, second_call=again.reason or again.second_call)
    probe = exercise.probe
    if probe is not None and process.alive:
        outcome = replace(outcome, probe=process.call(lambda: probe.arguments, probe.shapes, how))
    return outcome
