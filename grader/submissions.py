"""Where a submission is: a Python file or a notebook (.ipynb, grader/notebooks.py), or a
folder whose entry file is found by name or by an `--entry` glob pattern (else its one
notebook); and a class's submissions in one folder, by student id.

`grade_path` grades a file or folder. A folder without a single entry file is graded as
a submission that cannot be imported: every problem is an error saying why, and the
report's metadata has `import_error`, so every report format shows it.
"""
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from grader import notebooks
from grader.contracts import Exercise, submission_functions
from grader.diagnosis import MistakeRuns
from grader.errors import SubmissionMissing, UsageError
from grader.grading import grade
from grader.problem_set import Problem, ProblemSet
from grader.results import FAILED_TO_GRADE, ProblemResult, Report, Status
from grader.sandbox import Sandbox
from grader.scoring import not_graded
from grader.text_safety import printable
from grader.versions import environment

DEFAULT_PATTERN = "*.py"
SUFFIXES = (".py", ".ipynb")     # what a submission file may be
MAX_SNIFFED_BYTES = 1 << 20      # of each candidate entry file, read to find a `def ENTRY_POINT(`
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,99}")


def report_name(student: str) -> str:
    """The file name (without extension) of a student's reports: the id itself when it is
    plain (letters, digits, `._-`, at most 100 characters), else its first 40 letters,
    digits and `._-` (others as `_`), then `~` and 12 hex digits of the SHA-256 of its bytes,
    so that no two students share one and no name is too long for any file system."""
    if PLAIN_NAME.fullmatch(student):
        return student
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", student)[:40]
    return f"{readable}~{hashlib.sha256(os.fsencode(student)).hexdigest()[:12]}"


def inside(path: Path, folder: Path) -> bool:
    """Whether `path`, its links followed, stays in `folder` (resolved)."""
    try:
        return path.resolve().is_relative_to(folder)
    except (OSError, RuntimeError):
        return False


def candidates(folder: Path, pattern: str) -> list[Path]:
    """Files in `folder` matching `pattern` (a glob, `**` for any depth), hidden ones,
    __pycache__ and links that lead out of the folder excluded, sorted."""
    root = folder.resolve()
    found = [p for p in folder.glob(pattern) if p.is_file() and inside(p, root)
             and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(folder).parts)]
    return sorted(found)


def defines(path: Path, entry_point: str) -> bool:
    """Whether the file's first MAX_SNIFFED_BYTES have a top-level `def ENTRY_POINT(` (read, never run)."""
    try:
        with open(path, "rb") as file:
            text = file.read(MAX_SNIFFED_BYTES).decode(errors="replace")
    except OSError:
        return False
    return re.search(rf"^def\s+{re.escape(entry_point)}\s*\(", text, re.MULTILINE) is not None


def entry_file(folder: Path, pattern: str | None, entry_point: str) -> tuple[Path | None, str | None]:
    """(the entry file, None), or (None, why there is none) for a submission folder.

    Without a pattern, a folder's one notebook (at its top) is the entry file when no .py
    file defines ENTRY_POINT (they are its helpers). Otherwise one match of the pattern
    (default *.py; `**/*.py` looks at any depth) is the entry file; among several, the one
    named submission.py nearest the top (when no other is as near), else likewise
    ENTRY_POINT.py, else the only one defining ENTRY_POINT."""
    matches = candidates(folder, pattern or DEFAULT_PATTERN)
    notebook_files = candidates(folder, "*.ipynb") if pattern is None else []
    if len(notebook_files) == 1 and not any(defines(p, entry_point) for p in matches):    # .py files: its helpers
        return notebook_files[0], None
    if len(matches) == 1:
        return matches[0], None
    if not matches:
        return None, f"no file in the submission matches {pattern or DEFAULT_PATTERN!r}" + (
            f" and it has {len(notebook_files)} notebooks" if notebook_files else "")
    for name in ("submission.py", f"{entry_point}.py"):
        named = sorted((len(p.parts), p) for p in matches if p.name == name)
        if named and (len(named) == 1 or named[0][0] < named[1][0]):
            return named[0][1], None
    defining = [p for p in matches if defines(p, entry_point)]
    if len(defining) == 1:
        return defining[0], None
    names = ", ".join(printable(str(p.relative_to(folder))) for p in matches[:5])
    names += ", …" if len(matches) > 5 else ""
    return None, (f"{len(matches)} files in the submission match {pattern or DEFAULT_PATTERN!r} ({names}): "
                  f"name the one that defines {entry_point}() submission.py, or choose it with --entry")


def uncalled_report(problem_set: ProblemSet, submission: Path, problems: Sequence[Problem], status: Status,
                    why: str) -> Report:
    """The report of a submission never called, for reason `why`: each of `problems` with
    `status`, "error" (`why` is then the metadata's `import_error`) or FAILED_TO_GRADE (its
    `failed_to_grade`)."""
    message = not_graded(why) if status == FAILED_TO_GRADE else why
    results = tuple(ProblemResult(id=p.id, title=p.title, visibility=p.visibility, T=p.T, status=status,
                                  message=message, max_score=p.points, sizes=p.dimensions) for p in problems)
    key = "failed_to_grade" if status == FAILED_TO_GRADE else "import_error"
    return Report(problem_set.path, printable(str(submission)), results,
                  {key: why, "execution_time": 0.0, **environment()})


def grade_path(problem_set: ProblemSet, path: str | Path, include_hidden: bool = False,
               limits_override: dict | None = None, entry: str | None = None,
               prepared: tuple[Exercise, ...] | None = None, isolation: str = "auto", hide=(),
               runs: MistakeRuns | None = None, sandbox: Sandbox | None = None,
               notebook_cells: str = "definitions") -> Report:
    """Grade the submission at `path`, a file or a folder (see `entry_file`); `prepared`,
    `isolation`, `hide`, `runs`, `sandbox` and `notebook_cells` as for `grade`. A file
    that is neither a .py file nor a notebook nbformat reads is graded as an error saying so."""
    path = Path(path)
    if path.is_dir():
        found, reason = entry_file(path, entry, submission_functions(problem_set)[0])
        if found is None:
            problems = [r.problem for r in prepared] if prepared else problem_set.selected(include_hidden)
            return uncalled_report(problem_set, path, problems, "error",
                                   f"the submission cannot be graded: {reason or ''}")
        path = found
    elif not path.is_file():
        raise SubmissionMissing(f"submission {printable(str(path))} "
                                f"{'is not a file or folder' if path.exists() else 'does not exist'}")
    unusable = usable_file(path, notebook_cells)
    if unusable:
        problems = [r.problem for r in prepared] if prepared else problem_set.selected(include_hidden)
        return uncalled_report(problem_set, path, problems, "error", f"the submission cannot be graded: {unusable}")
    report = grade(problem_set, path, include_hidden, limits_override, prepared, isolation=isolation, hide=hide,
                   runs=runs, sandbox=sandbox, notebook_cells=notebook_cells)
    return replace(report, submission=printable(report.submission))


def usable_file(path: Path, notebook_cells: str) -> str | None:
    """Why the submission file `path` cannot be graded (its name first), or None."""
    name = printable(path.name, newlines=False)
    if path.suffix not in SUFFIXES:
        return f"{name} is not a .py file, a notebook (.ipynb) or a folder"
    if path.suffix == ".ipynb":
        try:
            notebooks.python_source(str(path), notebook_cells)
        except notebooks.NotebookUnreadable as error:
            return f"{name} {error}"
    return None


def student_id(path: Path) -> str:
    """A student's id: the file's name without .py or .ipynb (whatever it is, if not a
    folder), or the folder's name."""
    return path.stem if path.suffix in SUFFIXES and not path.is_dir() else path.name


def class_submissions(folder: str | Path) -> dict[str, Path]:
    """Every submission in `folder` by student id, sorted by id: each file and sub-folder
    (hidden entries and __pycache__ skipped). A file that is neither a .py file nor a notebook
    is kept too, so that grading lists it as an error instead of skipping a student."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{folder} is not a folder of submissions")
    found: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or path.name == "__pycache__":
            continue
        student = student_id(path)
        if student in found:
            raise UsageError(f"two submissions for student {printable(student)!r}: {printable(found[student].name)} "
                             f"and {printable(path.name)}; "
                             "keep one")
        found[student] = path
    return found
