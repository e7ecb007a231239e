"""Report formats, one module each, registered in grader.reports.registry: importing this
package registers every shipped format. A new format is a module that decorates its render
function with `registry.register(name, extension)`, and one name in the import below."""
from grader.reports import gradescope, json_report, junit, markdown, prairielearn, text_report
from grader.reports.registry import EXTENSIONS, FORMATS, register, render

__all__ = ["EXTENSIONS", "FORMATS", "register", "render",
           "gradescope", "json_report", "junit", "markdown", "prairielearn", "text_report"]
