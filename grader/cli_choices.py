"""The choices the command line offers, named here so that building its parser imports
none of the modules that implement them (report formats, audit, export, the FD methods):
a single `grade` then loads only what grading needs. tests/test_cli_startup.py checks
each tuple against the registry it names."""

REPORT_FORMATS = ("gradescope", "json", "junit", "markdown", "prairielearn", "text")   # grader.reports.FORMATS
AUDIT_FORMATS = ("json", "text")                    # grader.audit.FORMATS
PLATFORMS = ("gradescope", "prairielearn")          # grader.export.PLATFORMS
PRAIRIELEARN_HELPERS = ("*.py",)                    # grader.export.PRAIRIELEARN_HELPERS
HIDDEN_VISIBILITIES = ("after_published", "hidden")     # grader.reports.gradescope.HIDDEN_VISIBILITIES
MAX_INLINE_NUMBERS = 10_000                         # grader.reports.excerpt.MAX_INLINE_NUMBERS (a report's limit)
FD_METHODS = ("auto", "complex_step", "complex_step_full", "central", "richardson")   # reference.fd_methods.METHODS
