"""Auditing a problem set: which problem catches which catalogue mistake, and why not."""
import json
from importlib import resources

import jsonschema
import pytest

from grader import loader
from grader.audit import audit
from grader.cli import main
from reference.mistakes import MISTAKES
from tests.conftest import SHIPPED_SET

AUDIT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/audit.schema.json").read_text())

# The issue's three blind spots, one problem each, plus a hidden problem that sees what they miss
BLIND_SPOTS = """\
schema_version: 1
title: blind spots
problems:
  - id: tanh-tanh
    points: 1
    model: {phi: tanh, theta: tanh, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9], y: [0.1, 0.2, -0.3, 0.0]}
    grade: {dL_ds: 1}
  - id: one-step
    points: 1
    model: {phi: tanh, theta: sigmoid, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5], y: [0.1]}
    grade: {dL_ds: 1}
  - id: linear
    points: 1
    model: {phi: identity, theta: tanh, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9], y: [0.1, 0.2, -0.3, 0.0]}
    grade: {dL_ds: 1}
  - id: hidden-all
    points: 4
    visibility: hidden
    model: {phi: tanh, theta: sigmoid, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9, 0.2], y: [0.1, 0.2, -0.3, 0.0, 0.4]}
    grade: {dL_ds: 1, dL_dw: 1, dL_dv: 1, dL_dh0: 1}
"""


@pytest.fixture
def blind_spots(tmp_path):
    path = tmp_path / "blind.yaml"
    path.write_text(BLIND_SPOTS)
    return str(path)


def audit_json(capsys, path) -> tuple[int, dict]:
    code = main(["audit", path, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, AUDIT_SCHEMA)
    return code, report


def test_the_shipped_set_catches_every_mistake_with_a_visible_and_a_hidden_problem():
    result = audit(loader.load(str(SHIPPED_SET)))
    assert result.undetected == [] and result.not_caught_by_visible == [] and result.warnings == []
    for mistake in MISTAKES:
        assert any(p.hidden for p in result.catchers(mistake)), mistake


def test_audit_of_the_shipped_set_exits_0_with_a_valid_json_report(capsys):
    code, report = audit_json(capsys, str(SHIPPED_SET))
    assert code == 0
    assert report["problems"]["single-step"]["missing_recurrent_term"] == {
        "detects": False, "first_divergence": None, "outputs": [], "why_not": "T = 1"}
    assert report["problems"]["tanh-identity-squared"]["truncated_recursion"] == {
        "detects": True, "first_divergence": 1, "outputs": ["dL_ds", "dL_dw", "dL_dv"], "why_not": None}


def test_the_text_audit_summarises_each_mistake_with_the_problems_that_miss_it(capsys):
    assert main(["audit", str(SHIPPED_SET)]) == 0
    out = capsys.readouterr().out
    assert ("truncated_recursion with k = 3: caught by 8 of 10 problems (5 of 6 visible); not by "
            "single-step (T ≤ 3), long-sigmoid (its change stays within the tolerance)\n") in out
    assert "  missing_recurrent_term            3   ·  11  19   9   7 199  29  49  24\n" in out


@pytest.mark.parametrize("mistake, problem, why", [
    ("output_derivative_uses_phi", "tanh-tanh", "φ = θ"),
    ("missing_recurrent_term", "one-step", "T = 1"),
    ("activation_derivative_at_h", "linear", "φ = identity, whose φ'(h_t) = φ'(s_t)"),
    ("dw_uses_h_t", "linear", "dL_dw not graded"),
])
def test_the_audit_names_the_issues_blind_spots(blind_spots, mistake, problem, why):
    detection = audit(loader.load(blind_spots)).detections[problem][mistake]
    assert (detection.detects, detection.why_not) == (False, why)


def test_a_mistake_only_hidden_problems_catch_is_a_warning(blind_spots):
    result = audit(loader.load(blind_spots))
    assert result.undetected == []
    assert result.not_caught_by_visible == ["dw_uses_h_t", "dw_not_accumulated", "dv_uses_h",
                                            "dv_not_accumulated", "dh0_missing_w"]
    assert result.warnings[0] == ("dw_uses_h_t is caught by no visible problem: "
                                  "students cannot check it themselves")


def test_audit_exits_1_when_no_problem_catches_a_mistake(capsys, blind_spots, tmp_path):
    visible_only = tmp_path / "visible.yaml"
    visible_only.write_text(BLIND_SPOTS[:BLIND_SPOTS.index("  - id: hidden-all")])
    code, report = audit_json(capsys, str(visible_only))
    assert code == 1
    assert report["undetected"] == ["dw_uses_h_t", "dw_not_accumulated", "dv_uses_h", "dv_not_accumulated",
                                    "dh0_missing_w"]
    assert "dw_uses_h_t is caught by no problem" in report["warnings"]


def test_validate_prints_the_audits_warnings_and_still_exits_0(capsys, blind_spots):
    assert main(["validate", blind_spots]) == 0
    out, err = capsys.readouterr()
    assert out == f"{blind_spots}: valid, 4 problems (3 visible, 1 hidden)\n"
    assert err.splitlines()[0] == (f"{blind_spots}: warning: dw_uses_h_t is caught by no visible problem: "
                                   "students cannot check it themselves")
    assert len(err.splitlines()) == 5
