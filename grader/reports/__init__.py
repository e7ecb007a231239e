"""Report formats: one entry per format, `FORMATS[name](report) -> str`."""
from typing import Callable

from grader.results import Report

FORMATS: dict[str, Callable[[Report], str]] = {}


def register(name: str):
    def add(render: Callable[[Report], str]):
        FORMATS[name] = render
        return render
    return add


from grader.reports import json_report, text_report  # noqa: E402,F401  (they register)
