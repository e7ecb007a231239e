"""Sandbox overhead and containment.

Overhead: the time to grade the shipped example (examples/correct.py on
problem_sets/scalar_bptt.yaml, every problem, as --include-hidden does), per problem,
sandboxed at each isolation level this host allows, against the in-process floor: the
same problems graded by calling the entry point directly in the grader's own process (no
isolation at all). The sandbox is the slower, so the ratio (floor / sandboxed) is below 1;
the note gives the sandbox's start-up, paid once per submission. Start-up: a sandbox
forked by the zygote against one started as a fresh interpreter, each to its first answer.

Containment: a submission that hangs on every problem, graded with a short timeout,
against problems × timeout, the bound the README promises (plus a small constant).
"""
import dataclasses
import importlib.util
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from bench.table import Row, best_time
from grader import loader, sandbox
from grader.contracts import exercise
from grader.grading import grade
from grader.results import CallOutcome
from grader.runner import SubmissionProcess
from grader.scoring import score_outputs

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_SET = ROOT / "problem_sets" / "scalar_bptt.yaml"
EXAMPLE = ROOT / "examples" / "correct.py"


def load_entry_point(path: Path):
    """The submission's backward, imported into this process (its folder on sys.path)."""
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location("in_process_submission", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module.backward


def grade_in_process(problem_set, backward) -> None:
    """What grading costs with no isolation: build each trace, call, compare."""
    for problem in problem_set.problems:
        ex = exercise(problem, problem_set.entry_point)
        returned = backward(types.MappingProxyType(ex.arguments()))
        outputs = {name: np.asarray(returned[name], dtype=np.float64) for name in problem.grade}
        score_outputs(problem, ex.expected, CallOutcome(outputs=outputs))


def start_up_time(problem_set, level: str, start: str = "zygote") -> float:
    """Seconds from starting a sandbox (forked by the zygote, or a fresh interpreter) to
    the submission imported, called once and its sandbox gone."""
    problem = problem_set.problems[0]
    confinement = sandbox.sandbox_for(problem_set.path, level)
    ex = exercise(problem, problem_set.entry_point)

    def start_and_stop():
        process = SubmissionProcess(EXAMPLE, problem_set.entry_point, problem.limits, confinement, start=start)
        process.start()
        process.call(ex.arguments, ex.shapes, ex.call.how(ex.functions))
        process.close()
    return best_time(start_and_stop)


def overhead_rows(problem_set, repeat: int) -> list[Row]:
    n = len(problem_set.problems)
    backward = load_entry_point(EXAMPLE)
    floor = best_time(lambda: grade_in_process(problem_set, backward), repeat) / n
    rows = []
    for level in sandbox.LEVELS:
        if sandbox.unavailable(level):
            continue
        report = grade(problem_set, EXAMPLE, include_hidden=True, isolation=level)      # warm: probe, caches
        assert report.passed, f"the example fails at the {level} level"
        sandboxed = best_time(lambda level=level: grade(problem_set, EXAMPLE, include_hidden=True, isolation=level),
                              repeat) / n
        forked, fresh = start_up_time(problem_set, level), start_up_time(problem_set, level, "fresh")
        rows.append(Row("sandbox overhead", f"{n} problems, {level}", sandboxed, "in-process call", floor,
                        note=f"{sandboxed / floor:,.0f}× the floor; start-up "
                             f"{forked * 1e3:.0f} ms once per submission"))
        rows.append(Row("sandbox start-up", level, forked, "a fresh interpreter", fresh, "",
                        "forked by the zygote, to the first call's answer"))
    return rows


def containment_row(problem_set, timeout: float) -> Row:
    n = len(problem_set.problems)
    with tempfile.TemporaryDirectory() as folder:
        hanging = Path(folder) / "hang.py"
        hanging.write_text("def backward(trace):\n    while True:\n        pass\n")
        start = time.perf_counter()
        report = grade(problem_set, hanging, include_hidden=True, limits_override={"timeout": timeout})
        elapsed = time.perf_counter() - start
    assert all(p.message == f"the submission timed out after {timeout:g} s" for p in report.problems)
    bound = n * timeout
    return Row("containment", f"{n} hanging problems, timeout {timeout:g} s", elapsed, "problems × timeout", bound,
               note=f"{elapsed - bound:.2f} s over the bound ({(elapsed - bound) / n * 1e3:.0f} ms per problem: "
                    f"a fresh sandbox after each timeout), {report.metadata['isolation']}")


def rows(problems: int | None = None, repeat: int = 3, timeout: float = 0.5) -> list[Row]:
    problem_set = loader.load(str(SHIPPED_SET))
    if problems is not None:
        problem_set = dataclasses.replace(problem_set, problems=problem_set.problems[:problems])
    return overhead_rows(problem_set, repeat) + [containment_row(problem_set, timeout)]


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
