"""The `bptt-grade` command line: a thin layer over the library.

Exit codes: 0 every graded output passed (or the command succeeded); 1 the submission did
not pass everything, or check-reference found a disagreement; 2 nothing could be graded.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

from grader import problem_set as problem_sets
from grader.errors import EXIT_FAILED, EXIT_PASSED, GraderError, SubmissionMissing, UsageError
from grader.grading import grade
from grader.reference_check import check_problem
from grader.reports import FORMATS
from grader.scaffold import scaffold
from reference.finite_diff import METHODS


def write_atomically(path: str, text: str) -> None:
    """Replace `path` in one step, so no reader ever sees half a report."""
    target = Path(path)
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".",
                                         prefix=f".{target.name}.")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(temporary, target)
    except OSError as error:
        raise UsageError(f"cannot write {path}: {error.strerror}") from None


def emit(text: str, output: str | None) -> None:
    if output:
        write_atomically(output, text)
    else:
        sys.stdout.write(text)


def submission_path(path: str) -> Path:
    submission = Path(path)
    if not submission.is_file():
        raise SubmissionMissing(f"submission {path} {'is not a file' if submission.exists() else 'does not exist'}")
    return submission


def cmd_grade(args) -> int:
    problem_set = problem_sets.load(args.problem_set)
    submission = submission_path(args.submission)
    if not problem_set.selected(args.include_hidden):
        raise UsageError(f"{args.problem_set} has no visible problems; use --include-hidden to grade hidden ones")
    report = grade(problem_set, submission, include_hidden=args.include_hidden,
                   limits_override={"timeout": args.timeout, "memory_mb": args.memory_limit})
    emit(FORMATS[args.format](report), args.output)
    return EXIT_PASSED if report.passed else EXIT_FAILED


def cmd_validate(args) -> int:
    failures = 0
    for path in args.problem_sets:
        try:
            problem_set = problem_sets.load(path)
        except GraderError as error:
            print(error, file=sys.stderr)
            failures += 1
            continue
        hidden = sum(p.hidden for p in problem_set.problems)
        print(f"{path}: valid, {len(problem_set.problems)} problems "
              f"({len(problem_set.problems) - hidden} visible, {hidden} hidden)")
    return 2 if failures else 0


def cmd_check_reference(args) -> int:
    problem_set = problem_sets.load(args.problem_set)
    disagreements = 0
    for problem in problem_set.problems:
        checks = check_problem(problem, args.method)
        bad = [c for c in checks if not c.agrees]
        disagreements += len(bad)
        worst = max(c.relative_error for c in checks)
        kinks = sorted({t for c in checks for t in c.kink_timesteps}, reverse=True)
        note = f"; kink crossed at t = {', '.join(map(str, kinks[:8]))}: not compared there" if kinks else ""
        print(f"{problem.id}: {'agrees' if not bad else 'DISAGREES'} "
              f"({checks[0].method}, max relative error {worst:.1e}){note}")
        for c in bad:
            where = f" at t = {', '.join(map(str, c.disagreeing_timesteps[:8]))}" if c.disagreeing_timesteps else ""
            print(f"  {c.name}: relative error {c.relative_error:.1e}{where}, "
                  f"finite-difference error estimate {c.estimated_error:.1e}")
    return EXIT_FAILED if disagreements else EXIT_PASSED


def cmd_scaffold(args) -> int:
    problem_set = problem_sets.load(args.problem_set)
    write_atomically(args.output, scaffold(problem_set))
    print(f"wrote {args.output}: implement {problem_set.entry_point}(trace) there")
    return EXIT_PASSED


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bptt-grade", description=
                                  "Grade backpropagation-through-time submissions against a reference.")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = commands.add_parser("grade", help="grade a submission against a problem set")
    g.add_argument("problem_set", metavar="PROBLEM_SET")
    g.add_argument("submission", metavar="SUBMISSION")
    g.add_argument("--format", choices=sorted(FORMATS), default="text")
    g.add_argument("--output", metavar="FILE", help="write the report here (atomically) instead of stdout")
    g.add_argument("--include-hidden", action="store_true", help="grade hidden problems too")
    g.add_argument("--timeout", type=float, metavar="SECONDS", help="wall-clock limit per call")
    g.add_argument("--memory-limit", type=int, metavar="MB", help="memory limit of the submission's process")
    g.set_defaults(run=cmd_grade)

    v = commands.add_parser("validate", help="check problem sets")
    v.add_argument("problem_sets", nargs="+", metavar="PROBLEM_SET")
    v.set_defaults(run=cmd_validate)

    c = commands.add_parser("check-reference", help="reference backward vs finite differences")
    c.add_argument("problem_set", metavar="PROBLEM_SET")
    c.add_argument("--method", choices=METHODS, default="auto")
    c.set_defaults(run=cmd_check_reference)

    s = commands.add_parser("scaffold", help="write a starter submission")
    s.add_argument("problem_set", metavar="PROBLEM_SET")
    s.add_argument("-o", "--output", required=True, metavar="FILE")
    s.set_defaults(run=cmd_scaffold)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except GraderError as error:
        print(f"bptt-grade: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("bptt-grade: interrupted", file=sys.stderr)
        return 130
