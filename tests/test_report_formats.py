"""Every report format, for a passing, a failing, an erroring and an unimportable
submission: each machine format validates against its published schema (kept in
grader/schemas/), and says what the platform needs said."""
import json
import xml.etree.ElementTree as ET
from importlib import resources

import jsonschema
import pytest

from grader import loader
from grader.grading import grade
from grader.reports import EXTENSIONS, FORMATS, render
from grader.results import ProblemResult, Report
from tests.conftest import EXAMPLES

SET = """\
schema_version: 1
title: formats
problems:
  - id: visible-one
    title: tanh state
    points: 10
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9], y: [0.1, 0.2, -0.3, 0.0]}
    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}
  - id: hidden-one
    points: 4
    visibility: hidden
    model: {phi: sin, theta: tanh, loss: mean_squared_error}
    params: {w: 0.5, v: 1.0}
    data: {x: [1.0], y: [0.5]}            # T = 1: a dropped recurrent term cannot show
    grade: {dL_ds: 4}
"""

RAISES = "def backward(trace):\n    print('about to fail')\n    raise ValueError('shape <mismatch> & more')\n"
SYNTAX_ERROR = "def backward(trace:\n"
KINDS = ("passing", "failing", "erroring", "unimportable")


def schema(name: str) -> dict:
    return json.loads(resources.files("grader").joinpath(f"schemas/{name}.schema.json").read_text())


def element_json(element: ET.Element) -> dict:
    """An XML element as the {tag, attributes, text, children} tree junit.schema.json describes."""
    return {"tag": element.tag, "attributes": dict(element.attrib), "text": element.text or "",
            "children": [element_json(child) for child in element]}


def parsed(name: str, text: str):
    """The rendered report as the data its schema describes."""
    return element_json(ET.fromstring(text.encode())) if name == "junit" else json.loads(text)


SCHEMAS = {"json": "report", "gradescope": "gradescope", "prairielearn": "prairielearn", "junit": "junit"}
READ_BY_PEOPLE = {"text", "markdown"}      # no published schema: their tests check the text itself


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Report]:
    folder = tmp_path_factory.mktemp("formats")
    (folder / "set.yaml").write_text(SET)
    loaded = loader.load(folder / "set.yaml")
    sources = {"erroring": RAISES, "unimportable": SYNTAX_ERROR}
    for kind, source in sources.items():
        (folder / f"{kind}.py").write_text(source)
    paths = {"passing": EXAMPLES / "correct.py", "failing": EXAMPLES / "missing_recurrent_term.py",
             **{kind: folder / f"{kind}.py" for kind in sources}}
    return {kind: grade(loaded, paths[kind], include_hidden=True) for kind in KINDS}


def test_every_format_is_checked_against_a_schema_or_read_by_people():
    assert set(FORMATS) == set(SCHEMAS) | READ_BY_PEOPLE


def test_every_format_has_a_file_extension():
    assert {name: EXTENSIONS[name] for name in SCHEMAS} == {
        "json": ".json", "gradescope": ".json", "prairielearn": ".json", "junit": ".xml"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_format_validates_against_its_schema(reports, name, kind):
    jsonschema.validate(parsed(name, render(name, reports[kind])), schema(SCHEMAS[name]))


def test_gradescope_scores_each_problem_and_hides_hidden_ones_until_published(reports):
    results = json.loads(render("gradescope", reports["failing"]))
    visible, hidden = results["tests"]
    assert results["score"] == 4.0
    assert (visible["name"], visible["number"], visible["score"], visible["max_score"], visible["status"]) == (
        "visible-one: tanh state", "1", 0.0, 10.0, "failed")
    assert (visible["visibility"], hidden["visibility"]) == ("visible", "after_published")
    assert visible["extra_data"]["first_divergence"] == {"dL_ds": {"t": 3, "order": "backward"}}
    assert visible["output_format"] == "md" and "← first divergence" in visible["output"]


def test_gradescope_hidden_visibility_is_configurable(reports):
    results = json.loads(render("gradescope", reports["failing"], hidden_visibility="hidden"))
    assert [t["visibility"] for t in results["tests"]] == ["visible", "hidden"]


def test_gradescope_summary_counts_only_visible_problems(reports):
    output = json.loads(render("gradescope", reports["failing"]))["output"]
    assert output.startswith("Visible problems: 0/10 points, 0 of 1 pass. Hidden problems are graded too")


def test_gradescope_marks_an_error_failed_and_tags_it(reports):
    first = json.loads(render("gradescope", reports["erroring"]))["tests"][0]
    assert (first["status"], first["tags"]) == ("failed", ["visible", "error"])
    assert "shape &lt;mismatch&gt; &amp; more" in first["output"]


def test_prairielearn_score_is_the_fraction_of_points(reports):
    results = json.loads(render("prairielearn", reports["failing"]))
    assert (results["gradable"], results["score"]) == (True, 4 / 14)
    assert [(t["name"], t["points"], t["max_points"]) for t in results["tests"]] == [
        ("visible-one", 0.0, 10.0), ("hidden-one", 4.0, 4.0)]


def test_prairielearn_shows_no_table_for_a_hidden_problem(reports):
    tests = json.loads(render("prairielearn", reports["failing"]))["tests"]
    assert "← first divergence" in tests[0]["output"] and tests[1]["output"] == ""


def test_prairielearn_unimportable_submission_is_not_gradable(reports):
    results = json.loads(render("prairielearn", reports["unimportable"]))
    assert results["gradable"] is False
    assert results["format_errors"] == [
        "the submission raised SyntaxError while importing: '(' was never closed (unimportable.py, line 1)"]


def test_prairielearn_stays_under_1_mb_whatever_the_submission_printed():
    problem = ProblemResult(id="p", title="p", visibility="visible", T=1, status="error", message="m" * 300_000,
                            max_score=1.0, traceback="t" * 3_000_000, submission_output="\x00" * 2_000_000)
    text = render("prairielearn", Report("set.yaml", "s.py", (problem,) * 3))
    assert len(text.encode()) < 1_000_000
    jsonschema.validate(json.loads(text), schema("prairielearn"))


def test_junit_has_a_testcase_per_problem_with_the_first_divergence_in_the_failure(reports):
    suite = ET.fromstring(render("junit", reports["failing"]).encode()).find("testsuite")
    cases = suite.findall("testcase")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    assert [c.get("name") for c in cases] == ["visible-one", "hidden-one"]
    assert cases[0].find("failure").get("message") == "dL_ds first diverges at t = 3; dL_dw differs; dL_dv differs"
    assert cases[1].find("failure") is None


def test_junit_reports_a_raising_submission_as_an_error_with_what_it_printed(reports):
    case = ET.fromstring(render("junit", reports["erroring"]).encode()).find("testsuite/testcase")
    assert case.find("error").get("message") == (
        "the submission raised ValueError during the call: shape <mismatch> & more")
    assert case.find("system-out").text.startswith("about to fail")


def test_junit_escapes_control_characters_and_replaces_what_xml_cannot_hold():
    problem = ProblemResult(id="p", title="p", visibility="visible", T=1, status="failed", message="bad \x01\ufffe",
                            max_score=1.0, submission_output="\x00\x1b[31mred")
    case = ET.fromstring(render("junit", Report("set.yaml", "s.py", (problem,))).encode()).find("testsuite/testcase")
    assert (case.find("failure").get("message"), case.find("system-out").text) == (
        "bad \\x01\ufffd", "\\x00\\x1b[31mred")


def test_markdown_has_a_row_per_problem_naming_the_first_divergence(reports):
    lines = render("markdown", reports["failing"]).splitlines()
    assert lines[0] == "### bptt-grade: 4/14"
    assert "| visible-one | 0/10 | failed | ∂L/∂s\\_t at t = 3 |" in lines
    assert "| hidden-one | 4/4 | passed | — |" in lines


def test_markdown_folds_the_feedback_of_each_problem_that_did_not_pass(reports):
    text = render("markdown", reports["erroring"])
    assert text.count("<details>") == 2
    assert ("<summary><code>visible-one</code>: the submission raised ValueError during the call: "
            "shape &lt;mismatch&gt; &amp; more</summary>") in text


def test_markdown_fence_outlasts_backticks_the_submission_printed():
    problem = ProblemResult(id="p", title="p", visibility="visible", T=1, status="failed", message="m",
                            max_score=1.0, submission_output="````\n# not a heading")
    text = render("markdown", Report("set.yaml", "s.py", (problem,)))
    assert "`````text\n````\n# not a heading\n`````" in text
