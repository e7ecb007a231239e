"""The registry of report formats: one entry per format, `FORMATS[name](report) -> str`,
written to a file with the extension `EXTENSIONS[name]`. A format may take keyword options
(gradescope's `hidden_visibility`); `render` passes each format those it takes.

A shipped format is a module of this package that registers itself on import, named in
SHIPPED; `render` imports only the one it is asked for (a single `grade` writes one
format), `load_shipped` all of them."""
import importlib
import inspect
from collections.abc import Callable

from grader.results import Report

FORMATS: dict[str, Callable[..., str]] = {}
EXTENSIONS: dict[str, str] = {}
SHIPPED = {"gradescope": "gradescope", "json": "json_report", "junit": "junit", "markdown": "markdown",
           "prairielearn": "prairielearn", "text": "text_report"}     # a shipped format's name → its module


def register(name: str, extension: str = ".txt"):
    def add(render: Callable[..., str]):
        FORMATS[name] = render
        EXTENSIONS[name] = extension
        return render
    return add


def load_shipped(names=SHIPPED) -> None:
    """Register the shipped formats `names` (all of them by default) by importing their modules."""
    for name in names:
        if name not in FORMATS:
            importlib.import_module(f"grader.reports.{SHIPPED[name]}")


def render(name: str, report: Report, **options) -> str:
    """`report` in format `name`, with the options (of `options`) that the format takes."""
    load_shipped([name] if name in SHIPPED else [])
    format_render = FORMATS[name]
    taken = inspect.signature(format_render).parameters
    return format_render(report, **{k: v for k, v in options.items() if k in taken})
