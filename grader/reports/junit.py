"""JUnit XML for CI systems (validates against schemas/junit.schema.json once read as an
element tree): a <testsuite> for the problem set, a <testcase> per problem; a problem that
failed has a <failure>, one whose call errored an <error>, each with the message (which
names the first divergence) as its `message` and the feedback as its text. A hidden
problem shows only its score and status (grader/reports/student_view.py)."""
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from grader.reports.feedback import problem_feedback
from grader.reports.registry import register
from grader.reports.student_view import student_report
from grader.results import Report
from grader.text_safety import xml_text


@register("junit", extension=".xml")
def render(report: Report) -> str:
    report = student_report(report)
    counts: dict[str, Any] = {"tests": str(len(report.problems)),
              "failures": str(sum(p.status == "failed" for p in report.problems)),
              "errors": str(sum(p.status not in ("passed", "failed") for p in report.problems)),
              "time": f"{report.metadata.get('execution_time', 0.0):.3f}"}
    suites = ET.Element("testsuites", name="bptt-grade", **counts)
    suite = ET.SubElement(suites, "testsuite", name=xml_text(report.problem_set), skipped="0", **counts)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("submission", report.submission), ("score", f"{report.score:g}"),
                        ("max_score", f"{report.max_score:g}")):
        ET.SubElement(properties, "property", name=name, value=xml_text(value))
    classname = Path(report.problem_set).stem
    for p in report.problems:
        case = ET.SubElement(suite, "testcase", name=p.id, classname=classname)
        if p.status != "passed":
            kind = "failure" if p.status == "failed" else "error"
            outcome = ET.SubElement(case, kind, message=xml_text(p.message), type=kind)
            outcome.text = xml_text(problem_feedback(p))
        if p.submission_output:
            ET.SubElement(case, "system-out").text = xml_text(p.submission_output)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
