"""One error type per kind of failure the CLI reports, each with its exit code.

Exit codes: 0 every graded output passed; 1 the submission did not pass everything
(a submission that fails to import, crashes or hangs included, or a problem the grader
failed to grade); 2 nothing could be graded; 130 interrupted (SIGINT), 143 terminated
(SIGTERM, as `batch` handles it).
"""
EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2


class GraderError(Exception):
    """Base class: `str(error)` is the whole message a person reads."""
    exit_code = EXIT_UNUSABLE


class UsageError(GraderError):
    """The command line itself is wrong (a missing file, an unwritable output)."""


class ProblemSetError(GraderError):
    """A problem set cannot be used: unreadable, not YAML, or invalid.

    `location` is "file:line:column" (or just the file when no position is known) and
    `field` the path of the offending field, e.g. "problems[2].model.phi".
    """

    def __init__(self, message: str, file: str, line: int | None = None,
                 column: int | None = None, field: str | None = None):
        self.message, self.file, self.line, self.column, self.field = message, file, line, column, field
        super().__init__(self.describe())

    @property
    def location(self) -> str:
        if self.line is None:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def describe(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.location}: {where}{self.message}"


class ProblemSetErrors(ProblemSetError):
    """Every error found in one problem set, sorted by position (`errors`), one a line; its
    own fields are the first error's."""

    def __init__(self, errors):
        self.errors = tuple(sorted(errors, key=lambda e: (e.line is None, e.line or 0, e.column or 0)))
        first = self.errors[0]
        super().__init__(first.message, first.file, first.line, first.column, first.field)

    def describe(self) -> str:
        return "\n".join(error.describe() for error in self.errors)


class SubmissionMissing(GraderError):
    """The submission file does not exist or is not a readable file."""


class SandboxUnavailable(GraderError):
    """The isolation level asked for cannot confine a submission on this host."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, which `batch` handles as it does SIGINT, with its own exit code."""
    exit_code = 143


class ClusterLost(GraderError):
    """The Dask scheduler went away mid-batch: what was graded is recorded, and running
    the batch again grades the rest."""
    exit_code = EXIT_FAILED
