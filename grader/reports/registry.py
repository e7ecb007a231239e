"""The registry of report formats: one entry per format, `FORMATS[name](report) -> str`,
written to a file with the extension `EXTENSIONS[name]`. A format may take keyword options
(gradescope's `hidden_visibility`); `render` passes each format those it takes."""
import inspect
from collections.abc import Callable

from grader.results import Report

FORMATS: dict[str, Callable[..., str]] = {}
EXTENSIONS: dict[str, str] = {}


def register(name: str, extension: str = ".txt"):
    def add(render: Callable[..., str]):
        FORMATS[name] = render
        EXTENSIONS[name] = extension
        return render
    return add


def render(name: str, report: Report, **options) -> str:
    """`report` in format `name`, with the options (of `options`) that the format takes."""
    format_render = FORMATS[name]
    taken = inspect.signature(format_render).parameters
    return format_render(report, **{k: v for k, v in options.items() if k in taken})
