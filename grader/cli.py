"""The `bptt-grade` command line: a thin layer over the library.

Exit codes: 0 every graded output passed (with --min-score: the score reached it), or the
command succeeded; 1 the submission did not pass everything (or scored below --min-score),
a problem failed to grade (a fault of the grader or host: status failed_to_grade),
check-reference found a disagreement, or audit found a catalogue mistake no problem
catches; 2 nothing could be graded; 130 interrupted; 143 `batch` terminated (SIGTERM).
"""
import argparse
import contextlib
import math
import os
import shlex
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from grader.atomic import write_atomically, written_through
from grader.cli_choices import (
    AUDIT_FORMATS,
    FD_METHODS,
    HIDDEN_VISIBILITIES,
    MAX_INLINE_NUMBERS,
    PLATFORMS,
    PRAIRIELEARN_HELPERS,
    REPORT_FORMATS,
)
from grader.errors import EXIT_FAILED, EXIT_PASSED, GraderError, SubmissionMissing, Terminated, UsageError
from grader.notebooks import MODES
from grader.sandbox import CHOICES
from grader.size_caps import SizeCaps
from grader.text_safety import printable
from grader.zygote_client import Zygote

if TYPE_CHECKING:
    from grader.results import Report

# Each command imports what it runs when it runs: a single `grade` starts its zygote first
# and loads meanwhile only what grading needs (tests/test_cli_startup.py keeps it so).
# Commands that leave nothing for the interpreter's teardown once they return (no thread, no
# atexit handler, every file closed): their process ends at once (console()).
ENDS_AT_ONCE = ("grade", "check")
SCORE_TOLERANCE = 1e-9      # points: a score this close below --min-score still reaches it
YAML_SUFFIXES = (".yaml", ".yml")   # of a problem set


def emit(text: str, output: str | None) -> None:
    if output:
        write_atomically(output, text)
    else:
        sys.stdout.write(text)


def min_score(text: str) -> tuple[float, bool]:
    """--min-score: (points, False) for POINTS, (percent, True) for PERCENT% of the maximum."""
    percent = text.endswith("%")
    try:
        value = float(text.removesuffix("%"))
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0 and (value <= 100 or not percent)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of points (e.g. 40) or a percentage (e.g. 80%)")
    return value, percent


def verdict(report: "Report", minimum: tuple[float, bool] | None) -> int:
    """Exit code: without --min-score 0 when every graded output passed; with it 0 when the
    score reaches the minimum."""
    if minimum is None or report.failed_to_grade:
        return EXIT_PASSED if report.passed else EXIT_FAILED
    value, percent = minimum
    needed = value / 100 * report.max_score if percent else value
    return EXIT_PASSED if report.score >= needed - SCORE_TOLERANCE else EXIT_FAILED


def grade_and_report(args, problem_set_path: str, include_hidden: bool, when_none: str) -> int:
    """What `grade` and `check` share: grade, write the report, say whether it passed.
    `when_none` is the advice when no problem is selected."""
    from grader import loader
    from grader.reports import render
    from grader.reports.arrays import write_full_arrays
    from grader.submissions import grade_path
    problem_set = loader.load(problem_set_path, size_caps(args))
    if not problem_set.selected(include_hidden):
        raise UsageError(f"{problem_set_path} has no visible problems; {when_none}")
    arrays = full_arrays_path(args)
    written = [path for path in (args.output, arrays) if path]
    report = grade_path(problem_set, args.submission, include_hidden, entry=args.entry,
                        limits_override={"timeout": args.timeout, "memory_mb": args.memory_limit},
                        isolation=args.isolation, hide=[*args.hide, *map(str, written)],   # earlier ones are no hint
                        notebook_cells=args.notebook_cells)
    if arrays:
        write_full_arrays(arrays, report)
        report = replace(report, metadata={**report.metadata, "full_arrays": arrays.name})
    pretty = not args.output and sys.stdout.isatty()
    emit(render(args.format, report, hidden_visibility=args.hidden_visibility, pretty=pretty), args.output)
    return verdict(report, args.min_score)


def full_arrays_path(args) -> Path | None:
    """With --full-arrays, where the arrays go (beside --output, see grader.reports.arrays);
    a UsageError without --output."""
    from grader.reports.arrays import arrays_path
    if not args.full_arrays:
        return None
    if not args.output:
        raise UsageError("--full-arrays writes the arrays beside the report: give --output FILE too")
    return arrays_path(args.output)


def cmd_grade(args) -> int:
    refuse_swapped(args)
    start_zygote()
    return grade_and_report(args, args.problem_set, args.include_hidden,
                            when_none="use --include-hidden to grade hidden ones")


def cmd_check(args) -> int:
    refuse_swapped(args)
    if not Path(args.submission).exists():
        raise SubmissionMissing(f"submission {args.submission} does not exist")
    start_zygote()
    return grade_and_report(args, args.problem_set or str(find_problem_set(Path(args.submission), size_caps(args))),
                            include_hidden=False, when_none="there is nothing to check")


def start_zygote() -> None:
    """Start this process's zygote (grader.zygote_client) before anything else is loaded, so
    that its start-up and trial run overlap loading the grader and the problem set. One that
    cannot start is started again when a sandbox is needed, and grading says why it failed."""
    with contextlib.suppress(OSError):
        Zygote.shared()


def refuse_swapped(args) -> None:
    """A UsageError when `grade` or `check` got SUBMISSION and PROBLEM_SET in each other's
    places: a .py file or a folder where the problem set goes, a YAML where the submission goes."""
    problem_set, submission = args.problem_set, args.submission
    if problem_set is None or Path(submission).suffix.lower() not in YAML_SUFFIXES:
        return
    if Path(problem_set).suffix.lower() == ".py" or Path(problem_set).is_dir():
        meant = [submission, problem_set] if args.command == "grade" else [problem_set, submission]
        raise UsageError(f"{problem_set} is a submission and {submission} a problem set: "
                         f"did you mean `bptt-grade {args.command} {shlex.join(meant)}`?")


def find_problem_set(submission: Path, caps: SizeCaps) -> Path:
    """The one problem set (a *.yaml or *.yml that looks like one, see `looks_like_problem_set`)
    beside the submission (in it, for a folder), or else in the current folder; a UsageError
    when there is none or more than one."""
    here = submission if submission.is_dir() else submission.parent
    for folder in dict.fromkeys([here.resolve(), Path.cwd().resolve()]):
        found = sorted(p for suffix in YAML_SUFFIXES for p in folder.glob(f"*{suffix}")
                       if p.is_file() and looks_like_problem_set(p))
        if len(found) > 1:
            found = [p for p in found if _is_problem_set(p, caps)]
        if len(found) == 1:
            return found[0]
        if found:
            raise UsageError(f"{len(found)} problem sets in {folder} ({', '.join(p.name for p in found)}): "
                             "name one, e.g. bptt-grade check SUBMISSION PROBLEM_SET")
    raise UsageError(f"no problem set (a *.yaml with schema_version and problems) beside {submission} "
                     "or in the current folder: "
                     "name one, e.g. bptt-grade check SUBMISSION PROBLEM_SET")


def looks_like_problem_set(path: Path) -> bool:
    """Whether the YAML file at `path` is a mapping with `schema_version` and `problems` (so not,
    say, an environment's conda.yaml); whether it is a valid one is the loader's to say."""
    import yaml

    from grader import loader
    try:
        with open(path, "rb") as file:
            data = yaml.safe_load(file.read(loader.MAX_FILE_BYTES + 1))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and {"schema_version", "problems"} <= data.keys()


def _is_problem_set(path: Path, caps: SizeCaps) -> bool:
    from grader import loader
    try:
        loader.load(path, caps)
    except GraderError:
        return False
    return True


def whole_number(minimum: int):
    """An argparse type: a whole number of at least `minimum` (argparse exits 2 otherwise)."""
    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit()) or len(text) > 18 or int(text) < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least {minimum}")
        return int(text)
    return parse


def size_caps(args) -> SizeCaps:
    """The problem set's size caps: the defaults, or as --max-work and --max-numbers set them."""
    given = {"work": args.max_work, "numbers": args.max_numbers}
    return SizeCaps(**{name: value for name, value in given.items() if value is not None})


def terminate(signal_number, frame) -> None:
    raise Terminated


def cmd_batch(args) -> int:
    from grader.batch import GRADEBOOK, Options, run_batch
    options = Options(Path(args.output), tuple(dict.fromkeys(args.format or ["json"])), args.entry,
                      {"timeout": args.timeout, "memory_mb": args.memory_limit}, args.hidden_visibility,
                      args.isolation, tuple(args.hide), size_caps(args), args.notebook_cells)
    before = signal.signal(signal.SIGTERM, terminate)     # stop as on SIGINT: workers killed, gradebook written
    try:
        outcome = run_batch(args.problem_set, args.submissions, options, args.jobs, args.regrade, args.only,
                            args.scheduler)
    finally:
        signal.signal(signal.SIGTERM, before)
    print(f"{options.out_dir / GRADEBOOK}: {outcome.students} submissions; {outcome.graded} graded now, "
          f"{outcome.already} already recorded ({outcome.seconds:.1f} s)")
    for student, why in outcome.failures.items():
        why = printable(why, newlines=False)
        print(f"bptt-grade: {student} failed_to_grade ({why}): run batch again to grade it", file=sys.stderr)
    return EXIT_FAILED if outcome.failures else EXIT_PASSED


EXPORTED = {"gradescope": "upload it as the autograder of a Gradescope programming assignment",
            "prairielearn": "copy it into your course's questions/ folder"}


def cmd_export(args) -> int:
    from grader.export import ExportOptions, export
    export(args.platform, args.problem_set,
           ExportOptions(args.output, args.entry, args.hidden_visibility, tuple(args.helpers), args.force,
                         size_caps(args)))
    print(f"wrote {args.output}: {EXPORTED[args.platform]}")
    return EXIT_PASSED


def cmd_validate(args) -> int:
    from grader import loader
    from grader.audit import audit
    failures = 0
    for path in args.problem_sets:
        try:
            problem_set = loader.load(path, size_caps(args))
        except GraderError as error:
            print(printable(str(error)), file=sys.stderr)
            failures += 1
            continue
        hidden = sum(p.hidden for p in problem_set.problems)
        print(f"{path}: valid, {len(problem_set.problems)} problems "
              f"({len(problem_set.problems) - hidden} visible, {hidden} hidden)")
        for warning in audit(problem_set).warnings:
            print(f"{path}: warning: {warning}", file=sys.stderr)
    return 2 if failures else 0


def cmd_audit(args) -> int:
    from grader import loader
    from grader.audit import FORMATS, audit
    result = audit(loader.load(args.problem_set, size_caps(args)))
    sys.stdout.write(FORMATS[args.format](result))
    return EXIT_FAILED if result.undetected else EXIT_PASSED


def cmd_check_reference(args) -> int:
    from grader import loader
    from grader.reference_check import check_problem
    problem_set = loader.load(args.problem_set, size_caps(args))
    disagreements = 0
    for problem in problem_set.problems:
        checks = check_problem(problem, args.method, args.directions)
        bad = [c for c in checks if not c.agrees]
        disagreements += len(bad)
        worst = max(c.relative_error for c in checks)
        kinks = sorted({t for c in checks for t in c.kink_timesteps}, reverse=True)
        note = f"; kink crossed at t = {', '.join(map(str, kinks[:8]))}: not compared there" if kinks else ""
        directions = problem.model.directions(problem.forward(), args.directions)
        how = "" if not problem.model.samples_directions else (
            "element-wise, " if directions is None else f"{directions} random directions per step and parameter, ")
        print(f"{problem.id}: {'agrees' if not bad else 'DISAGREES'} "
              f"({checks[0].method}, {how}max relative error {worst:.1e}){note}")
        for c in bad:
            where = f" at t = {', '.join(map(str, c.disagreeing_timesteps[:8]))}" if c.disagreeing_timesteps else ""
            print(f"  {c.name}: relative error {c.relative_error:.1e}{where}, "
                  f"finite-difference error estimate {c.estimated_error:.1e}")
    return EXIT_FAILED if disagreements else EXIT_PASSED


def cmd_scaffold(args) -> int:
    from grader import loader
    from grader.contracts import describe_functions
    from grader.scaffold import scaffold
    problem_set = loader.load(args.problem_set, size_caps(args))
    if os.path.lexists(args.output) and not written_through(args.output) and not args.force:
        raise UsageError(f"{args.output} exists: pass --force to replace it")
    write_atomically(args.output, scaffold(problem_set))
    print(f"wrote {args.output}: implement {describe_functions(problem_set)} there")
    return EXIT_PASSED


PROBLEM_SET_HELP = "the problem set (YAML)"


class ShowVersion(argparse.Action):
    """--version: print grader.versions.version_line() and exit (numpy's version is in it:
    imported only when asked)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from grader.versions import version_line
        sys.stdout.write(f"{version_line()}\n")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bptt-grade", description=
                                  "Grade backpropagation-through-time submissions against a reference.")
    top.add_argument("--version", action=ShowVersion,
                     help="show the version of bptt-grade, Python and numpy, and exit")
    subparsers = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, **options) -> argparse.ArgumentParser:
        """A subcommand whose one-line `summary` is listed in the top-level help and heads its own
        (unless a longer `description` is given)."""
        sentence = summary[0].upper() + summary[1:] + "."
        return subparsers.add_parser(name, help=summary, **{"description": sentence, **options})

    caps = argparse.ArgumentParser(add_help=False)
    caps.add_argument("--max-work", type=whole_number(1), metavar="STEPS", help="the problem set's cap on "
                      f"Σ N·T·H over its problems (default {SizeCaps.work:,}; see the README)")
    caps.add_argument("--max-numbers", type=whole_number(1), metavar="NUMBERS", help="the problem set's cap on "
                      f"what one vector problem's arrays hold (default {SizeCaps.numbers:,})")
    sandbox = argparse.ArgumentParser(add_help=False, parents=[caps])
    sandbox.add_argument("--timeout", type=float, metavar="SECONDS", help="wall-clock limit per call")
    sandbox.add_argument("--memory-limit", type=int, metavar="MB", help="memory limit of the submission's process")
    sandbox.add_argument("--isolation", choices=CHOICES, default="auto",
                         help="sandbox level (default: the strongest this host allows; "
                              "see the README's Security model)")
    sandbox.add_argument("--hide", action="append", default=[], metavar="PATH",
                         help="a file or folder the submission must not read (repeatable; namespaces level)")
    entry = argparse.ArgumentParser(add_help=False)
    entry.add_argument("--entry", metavar="PATTERN", help="in a submission folder, the entry file's glob pattern "
                       "(default: the only *.py file, else submission.py, ENTRY_POINT.py, or the one defining "
                       "ENTRY_POINT)")
    entry.add_argument("--notebook-cells", choices=MODES, default="definitions",
                       help="a notebook submission: run only its imports, definitions and constants "
                            "(definitions, the default) or every code cell in order (all)")
    visibility = argparse.ArgumentParser(add_help=False)
    visibility.add_argument("--hidden-visibility", choices=HIDDEN_VISIBILITIES, default="after_published",
                            help="gradescope: when students see hidden problems (default after_published)")
    report = argparse.ArgumentParser(add_help=False, parents=[sandbox, entry])
    report.add_argument("--format", choices=REPORT_FORMATS, default="text", help="the report's format (default text)")
    report.add_argument("--output", metavar="FILE", help="write the report here instead of stdout (a file is "
                        "replaced in one step; a pipe or a terminal is written through)")
    report.add_argument("--full-arrays", action="store_true",
                        help="also write every output's expected and got arrays, whole, to FILE.npz beside "
                             "--output FILE (the report keeps an excerpt of an output over "
                             f"{MAX_INLINE_NUMBERS:,} numbers)")
    report.add_argument("--min-score", type=min_score, metavar="POINTS|PERCENT%",
                        help="exit 0 when the score reaches this (default: when every graded output passes)")

    g = command("grade", "grade a submission against a problem set", parents=[report, visibility])
    g.add_argument("problem_set", metavar="PROBLEM_SET", help=PROBLEM_SET_HELP)
    g.add_argument("submission", metavar="SUBMISSION", help="a Python file, or a folder holding one")
    g.add_argument("--include-hidden", action="store_true", help="grade hidden problems too")
    g.set_defaults(run=cmd_grade)

    k = command("check", "check your submission on the visible problems", parents=[report],
                description="Grade SUBMISSION on the visible problems of PROBLEM_SET, as `grade` does; hidden "
                "problems are never run. Without PROBLEM_SET, the one problem set (a *.yaml or *.yml with "
                "schema_version and problems) beside the submission, or else in the current folder.")
    k.add_argument("submission", metavar="SUBMISSION", help="a Python file, or a folder holding one")
    k.add_argument("problem_set", metavar="PROBLEM_SET", nargs="?",
                   help="the problem set (YAML; default: the one beside the submission, else in the current folder)")
    k.set_defaults(run=cmd_check, hidden_visibility="after_published")

    b = command("batch", "grade every submission in a folder", parents=[sandbox, entry, visibility],
                description="Grade each .py file and each folder in SUBMISSIONS_DIR (the student id is its "
                "name), hidden problems included. Results are recorded as each finishes: run it again "
                "after an interruption and it grades only the rest.")
    b.add_argument("problem_set", metavar="PROBLEM_SET", help=PROBLEM_SET_HELP)
    b.add_argument("submissions", metavar="SUBMISSIONS_DIR", help="a folder with a .py file or a folder per student")
    b.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                   help="gradebook.csv, results.sqlite and a folder of reports per format")
    b.add_argument("--format", action="append", choices=REPORT_FORMATS, metavar="FORMAT",
                   help=f"a per-student report to write, repeatable (default json; {', '.join(REPORT_FORMATS)})")
    b.add_argument("--jobs", type=whole_number(1), metavar="N",
                   help="submissions graded at once (default: all cores); with --scheduler local, the workers")
    b.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster: its scheduler's address "
                   "(tcp://HOST:PORT, tls://HOST:PORT) or 'local' (see the README's Grading on a cluster)")
    b.add_argument("--regrade", action="store_true", help="grade recorded submissions again (all, or --only)")
    b.add_argument("--only", nargs="+", metavar="ID", help="only these students")
    b.set_defaults(run=cmd_batch)

    e = command("export", "write an autograder for Gradescope or PrairieLearn", parents=[entry, visibility, caps])
    e.add_argument("platform", choices=PLATFORMS, metavar="PLATFORM", help=" or ".join(PLATFORMS))
    e.add_argument("problem_set", metavar="PROBLEM_SET", help=PROBLEM_SET_HELP)
    e.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="gradescope: the zip to upload; prairielearn: the question folder")
    e.add_argument("--helpers", nargs="*", default=list(PRAIRIELEARN_HELPERS), metavar="NAME|PATTERN",
                   help="prairielearn: files a student may upload beside the entry file (default: "
                        f"{' '.join(PRAIRIELEARN_HELPERS)}; none when given without any)")
    e.add_argument("--force", action="store_true",
                   help="prairielearn: replace the question in OUT even when it has another title (its uuid is kept)")
    e.set_defaults(run=cmd_export)

    v = command("validate", "check that problem sets are valid, reporting every error, and warn about weak ones",
                parents=[caps])
    v.add_argument("problem_sets", nargs="+", metavar="PROBLEM_SET", help="problem sets (YAML) to check")
    v.set_defaults(run=cmd_validate)

    a = command("audit", "show which problem catches which classic BPTT mistake", parents=[caps])
    a.add_argument("problem_set", metavar="PROBLEM_SET", help=PROBLEM_SET_HELP)
    a.add_argument("--format", choices=AUDIT_FORMATS, default="text", help="the audit's format (default text)")
    a.set_defaults(run=cmd_audit)

    c = command("check-reference", "compare the reference backward pass with finite differences",
                parents=[caps])
    c.add_argument("problem_set", metavar="PROBLEM_SET", help=PROBLEM_SET_HELP)
    c.add_argument("--method", choices=FD_METHODS, default="auto",
                   help="the finite-difference method (default auto: complex step where the model allows it)")
    c.add_argument("--directions", type=whole_number(0), metavar="K",
                   help="vector problems: K random directions per step and parameter (0: every element); "
                        "default: every element for small problems, else 3")
    c.set_defaults(run=cmd_check_reference)

    s = command("scaffold", "write a starter submission for a problem set", parents=[caps])
    s.add_argument("problem_set", metavar="PROBLEM_SET", help=PROBLEM_SET_HELP)
    s.add_argument("-o", "--output", required=True, metavar="FILE", help="the starter file to write")
    s.add_argument("--force", action="store_true", help="replace FILE if it exists")
    s.set_defaults(run=cmd_scaffold)
    add_service_commands(subparsers)
    return top


# The grading service (grader/service/, the `service` extra): serve and token.

def service_command(name: str):
    """The handler of grader.service.commands `name`, or one that says how to install the extra."""
    def run(args) -> int:
        from grader.service import INSTALL_HINT, missing_extra
        missing = missing_extra()
        if missing:
            raise UsageError(f"the grading service needs {', '.join(missing)}: {INSTALL_HINT}")
        from grader.service import commands
        return getattr(commands, name)(args)
    return run


def rate_limit(text: str) -> int:
    """--rate-limit: N or N/min, submissions per minute per token."""
    count = text.removesuffix("/min")
    if not count.isdigit() or int(count) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate such as 30/min")
    return int(count)


def add_service_commands(subparsers) -> None:
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--data", default="bptt-grade-data", metavar="DIR",
                       help="the service's folder: its SQLite database and caches (default ./bptt-grade-data)")
    where.add_argument("--database", metavar="URL", help="a database URL instead of SQLite, "
                       "e.g. postgresql+psycopg://user:password@host/dbname")
    serve = subparsers.add_parser(
        "serve", parents=[where], help="run the grading service: web pages, the API and grading workers",
        description="Serve the grading API and pages, and grade submissions with a local pool of workers. "
        "The first start creates an instructor token and prints the login URL with it.")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="the port to listen on (default 8000)")
    serve.add_argument("--workers", type=whole_number(1), default=os.cpu_count() or 1, metavar="N",
                       help="grading worker processes (default: the cores)")
    serve.add_argument("--max-upload-kb", type=whole_number(1), default=1024, metavar="KB",
                       help="largest submission accepted (default 1024)")
    serve.add_argument("--rate-limit", type=rate_limit, metavar="N/min",
                       help="submissions per minute per token (default: no limit)")
    serve.add_argument("--policy", choices=("latest", "best"), default="latest",
                       help="the gradebook's submission per student, unless ?policy= says (default latest)")
    serve.add_argument("--scheduler", metavar="ADDRESS", help="grade on a Dask cluster: its scheduler's address "
                       "(tcp://HOST:PORT, tls://HOST:PORT) or 'local' (a local cluster of --workers workers); "
                       "needs the distributed extra")
    serve.set_defaults(run=service_command("cmd_serve"))

    token = subparsers.add_parser("token", help="create tokens for the grading service",
                                  description="Create tokens for the grading service: one, or one per "
                                  "student of a roster. A token is shown only once; only its hash is kept.")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION",
                                   help="create or import")
    create = actions.add_parser("create", parents=[where], help="create a token and print it",
                                description="Create a token and print it.")
    create.add_argument("--role", choices=("instructor", "student"), required=True, help="what the token may do")
    create.add_argument("--name", required=True, help="whose token it is (a student's id)")
    create.set_defaults(run=service_command("cmd_token_create"))
    roster = actions.add_parser("import", parents=[where], help="a student token per roster line; CSV on stdout",
                                description="Create a student token per roster line and print student,token CSV.")
    roster.add_argument("roster", metavar="ROSTER_CSV", help="one student per line (first column)")
    roster.set_defaults(run=service_command("cmd_token_import"))


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except GraderError as error:
        print(f"bptt-grade: {printable(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        print("bptt-grade: interrupted", file=sys.stderr)
        return interrupt.exit_code if isinstance(interrupt, Terminated) else 130
    except BrokenPipeError:        # the reader went away (`| head`): stop quietly, as SIGPIPE would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def console() -> None:
    """The `bptt-grade` program (and `python -m grader`): main(), then the exit. After `grade`
    and `check` the process ends without the interpreter's teardown, which would only free
    every module (≈ 10 ms, 4 % of a single grade), once stdout and stderr are flushed; the
    zygote ends with it (its parent-death signal)."""
    code = main()
    if sys.argv[1:2] and sys.argv[1] in ENDS_AT_ONCE:
        with contextlib.suppress(OSError):      # a reader gone away: nothing more to tell it
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
