"""Pure scoring: what a submission returned (a CallOutcome) and the problem's exercise
become a ProblemResult — usable outputs, comparisons, ∂L/∂s_t derived from dx, the status and
its message. No process code: a result that came back from a sandbox, a service worker or
another machine is scored here the same way."""
import numpy as np

from grader import contracts
from grader.compare import Comparison, blocks, compare
from grader.localization import derived_dL_ds
from grader.problem_set import Problem
from grader.results import FAILED_TO_GRADE, CallOutcome, OutputResult, ProblemResult, ShapeOnly, Status, Unusable
from grader.term_check import with_terms


def usable_output(raw: np.ndarray, shape: tuple, time_axis: int | None = 0) -> tuple[np.ndarray | None, str | None]:
    """The returned value reshaped to `shape`, or why it cannot be graded."""
    if shape == () and raw.size == 1:
        raw = raw.reshape(())
    if raw.shape != shape:
        return None, f"has shape {raw.shape}, expected {shape}"
    if not all(np.isfinite(raw[block]).all() for block in blocks(raw.shape)):     # no whole-array temporary
        bad = ~np.isfinite(raw)
        kind = "NaN" if np.isnan(raw[bad]).any() else "infinite"
        where = ""
        if time_axis is not None:
            steps = np.moveaxis(bad, time_axis, 0).reshape(shape[time_axis], -1).any(axis=1)
            where = f" at t = {int(np.flatnonzero(steps)[0]) + 1}"
        return None, f"is {kind}{where}"
    return raw, None


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for n in shape if n != 1)


def score_outputs(problem: Problem, expected: dict, outcome: CallOutcome) -> tuple[OutputResult, ...]:
    """One result per graded output, in grade order; one right but for length-1 axes is
    compared reshaped and marked `shape_only`."""
    call = contracts.call_for(problem)
    results = []
    for name, points in problem.grade.items():
        out, want = call.outputs[name], expected[name]
        raw = outcome.outputs.get(name)
        shape_only = None
        why: str | None
        if raw is None:
            got, why = None, outcome.unusable.get(name, "is missing")
        else:
            got, why = usable_output(raw, np.shape(want), out.time_axis)
            if why and raw.size == np.size(want) and _squeezed(raw.shape) == _squeezed(np.shape(want)):
                reshaped, still = usable_output(raw.reshape(np.shape(want)), np.shape(want), out.time_axis)
                if reshaped is not None and still is None and _compare(problem, out, want, reshaped).passed:
                    got, why = reshaped, None
                    shape_only = ShapeOnly(raw.shape, np.shape(want), problem.shape_policy == "lenient")
        found = Unusable(why or "") if got is None else _compare(problem, out, want, got)
        results.append(OutputResult(name, out.symbol, points, out.time_axis is not None, found, shape_only=shape_only))
    return tuple(results)


def _compare(problem: Problem, out: contracts.Output, expected: np.ndarray, got: np.ndarray):
    return compare(expected, got, problem.tolerance, out.time_axis or 0, "forward" if out.forward else "backward")


def localized(problem: Problem, exercise: contracts.Exercise, outcome: CallOutcome,
              outputs: tuple[OutputResult, ...]) -> tuple[OutputResult, ...]:
    """The outputs in the order a student should read them: forward values first (every
    gradient depends on them), then ∂L/∂s_t derived from dx (or the probing call's) where no
    graded output holds ∂L/∂s_t (Exercise.dx), then the rest."""
    call, dx_name = exercise.call, exercise.dx
    first = tuple(o for o in outputs if call.outputs[o.name].forward)
    rest = tuple(o for o in outputs if not call.outputs[o.name].forward)
    derived = None
    if dx_name and dx_name in outcome.outputs:
        dx, _ = usable_output(outcome.outputs[dx_name], np.shape(exercise.expected[dx_name]),
                              call.outputs[dx_name].time_axis)
        derived = None if dx is None else derived_dL_ds(exercise, outcome, dx, problem.tolerance)
    return first + (() if derived is None else (derived,)) + rest


CLIPPING_NOTE = ("gradients clipped while they are computed: every element beyond the bound is cut to it and "
                 "the rest match; clip after the gradients are returned (in the training step), not inside")


def clipping_bound(c: Comparison) -> float | None:
    """c where the submission returned np.clip(expected, −c, c) for some c > 0: two or more
    elements diverge, and each equals ±c exactly, with the sign of its expected value beyond
    c; else None (one wrong element could be any bug that happens to be the largest)."""
    got, expected = np.asarray(c.got, dtype=np.float64), np.asarray(c.expected, dtype=np.float64)
    bound = float(np.abs(got).max()) if got.size else 0.0
    wrong = c.diverging
    if bound == 0.0 or np.count_nonzero(wrong) < 2:
        return None
    saturated = (np.abs(got[wrong]) == bound) & (np.sign(got[wrong]) == np.sign(expected[wrong])) \
        & (np.abs(expected[wrong]) > bound)
    return bound if saturated.all() else None


def _divergence(o: OutputResult, c: Comparison) -> str:
    """How output `o`, compared as `c`, goes wrong: "dL_ds first diverges at t = 7"."""
    name = f"{o.name} ({o.derived.described})" if o.derived else o.name
    if not o.derived_from and c.got.size > 1 and not c.got.any() and c.expected.any():
        return f"{name} is all zeros: starter code left in place?"
    bound = None if o.derived_from else clipping_bound(c)
    if bound is not None:
        return f"{name} clips at ±{bound:g}"
    if not o.per_timestep:
        return f"{name} differs"
    order = " (forward order)" if c.order == "forward" else ""
    return f"{name} first diverges at t = {c.first_divergence}{order}"


def summarise(outputs: tuple[OutputResult, ...]) -> tuple[Status, str]:
    """(status, message) for a problem whose call returned; a derived output never changes the
    status. An output right but for length-1 axes fails (or passes under shape_policy: lenient)
    with a note saying so."""
    graded = [o for o in outputs if o.derived_from is None]
    unusable = [f"{o.name} {o.unusable}" for o in graded if o.unusable is not None]
    shapes = [o.shape_only.note(o.name) for o in graded if o.shape_only]
    failing = [(o, o.found) for o in outputs if isinstance(o.found, Comparison) and not o.found.passed]
    wrong = [_divergence(o, c) for o, c in failing]
    if any(o.derived_from is None and clipping_bound(c) is not None for o, c in failing):
        wrong.append(CLIPPING_NOTE)
    if unusable:
        return "error", "; ".join(unusable + shapes + wrong)
    if not all(o.passed for o in graded):
        return "failed", "; ".join(shapes + wrong)
    granted = f" ({'; '.join(shapes)}; granted under shape_policy: lenient)" if shapes else ""
    return "passed", "every graded output matches" + granted


def cache_note(backward: str, second_call: str) -> str:
    """What a backward that consumes its cache is told (it costs nothing: the first call's
    gradients are graded); `second_call` is what calling it again on that cache did."""
    return f"{backward} consumes its cache (the second call on the same cache {second_call}): " \
           "backward must not modify cache"


def not_graded(why: str) -> str:
    """A failed_to_grade problem's message."""
    return f"not graded: {why} (a fault of the grader or host, not of the submission; grade it again)"


def problem_result(problem: Problem, exercise: contracts.Exercise, outcome: CallOutcome) -> ProblemResult:
    """The problem's result from what its call returned (or why it returned nothing)."""
    status: Status
    outputs: tuple[OutputResult, ...]
    if outcome.fault:
        status, message, outputs = FAILED_TO_GRADE, not_graded(f"the submission {outcome.reason}"), ()
    elif outcome.reason:
        status, message, outputs = "error", f"the submission {outcome.reason}", ()
    else:
        outputs = with_terms(exercise, localized(problem, exercise, outcome,
                                                 score_outputs(problem, exercise.expected, outcome)))
        status, message = summarise(outputs)
        if outcome.second_call:
            message += f"; {cache_note(exercise.functions[-1], outcome.second_call)}"
    local_term = contracts.CONTRACTS[problem.contract].in_notation(
        problem.model.local_term(problem.rnn, exercise.call.upstream is not None))
    return ProblemResult(id=problem.id, title=problem.title, visibility=problem.visibility, T=problem.T,
                         status=status, message=message, max_score=problem.points, outputs=outputs,
                         traceback=outcome.traceback if outcome.reason else "", submission_output=outcome.output,
                         local_term=local_term, sizes=problem.dimensions)
