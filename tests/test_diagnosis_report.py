"""The diagnosis as a student gets it: a paragraph in the text report, fields in the JSON
report (validated against its schema)."""
import json
from importlib import resources

import jsonschema

from grader import loader
from grader.cli import main
from grader.grading import grade
from grader.reports.feedback import problem_feedback
from reference.mistakes import MISTAKES
from tests.conftest import EXAMPLES, SHIPPED_SET

REPORT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/report.schema.json").read_text())
VISIBLE_FAILING = ["tanh-identity-squared", "tanh-sigmoid-bce", "sin-tanh-mse", "softplus-sin-last-step",
                   "relu-identity-squared"]


def grade_json(capsys, example: str) -> dict:
    assert main(["grade", str(SHIPPED_SET), str(EXAMPLES / f"{example}.py"), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, REPORT_SCHEMA)
    return report


def test_json_names_the_mistake_for_each_wrong_output(capsys):
    first = grade_json(capsys, "truncated_recursion")["problems"][0]
    assert [(d["mistake"], d["output"], d["params"]) for d in first["diagnosis"]] == [
        ("truncated_recursion", name, {"k": 3}) for name in ("dL_ds", "dL_dw", "dL_dv")]
    assert first["diagnosis"][0]["explanation"] == MISTAKES["truncated_recursion"].explanation
    assert first["diagnosis"][0]["indistinguishable_from"] == []


def test_json_says_which_single_mistake_explains_every_failing_problem(capsys):
    report = grade_json(capsys, "missing_recurrent_term")
    assert report["diagnosis_across_problems"] == [{
        "mistake": "missing_recurrent_term", "params": {}, "change": "∂L/∂s_{t+1}·w dropped",
        "problems": VISIBLE_FAILING}]


def test_json_diagnosis_is_empty_for_a_bug_outside_the_catalogue(capsys):
    report = grade_json(capsys, "gradient_clipping")
    assert [p["diagnosis"] for p in report["problems"]] == [[]] * 6
    assert report["diagnosis_across_problems"] == []


def test_text_report_names_the_mistake_under_the_divergence_table_and_explains_it_once(capsys):
    assert main(["grade", str(SHIPPED_SET), str(EXAMPLES / "missing_recurrent_term.py")]) == 1
    lines = capsys.readouterr().out.splitlines()
    first = lines.index("  Diagnosis: missing_recurrent_term (∂L/∂s_{t+1}·w dropped) reproduces your "
                        "∂L/∂s_t, ∂L/∂w and ∂L/∂v")
    assert lines[first - 2:first] == [
        "  ∂L/∂v: expected -0.501912, got -0.402022",
        "    ∂L/∂v is the right sum of your returned ∂L/∂s_t: ∂L/∂s_t is what is wrong, not the sum."]
    assert lines[first + 1].startswith("    within the tolerance. h_t feeds both the prediction ŷ_t")
    later = [i for i, line in enumerate(lines) if line.startswith("  Diagnosis:") and i > first]
    assert len(later) == 4 and "h_t feeds both" not in " ".join(lines[later[0]:])
    assert lines[-2] == ("One mistake explains all 5 failing problems: missing_recurrent_term "
                         "(∂L/∂s_{t+1}·w dropped).")


def test_platform_feedback_for_one_problem_explains_its_mistake_once():
    report = grade(loader.load(str(SHIPPED_SET)), EXAMPLES / "missing_recurrent_term.py")
    feedback = problem_feedback(report.problems[2])          # not the first failing problem
    assert feedback.count("Diagnosis: missing_recurrent_term (∂L/∂s_{t+1}·w dropped)") == 1
    assert feedback.count("h_t feeds both the prediction") == 1
