"""The command line from the outside: exit codes, messages, and the JSON report's schema."""
import json
import os
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest

from grader.cli import main
from tests.conftest import EXAMPLES, SHIPPED_SET, problem_said

REPORT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/report.schema.json").read_text())

SMALL_SET = """\
schema_version: 1
title: two problems
problems:
  - id: first
    points: 10
    model: {phi: tanh, theta: identity, loss: squared_error}
    params: {w: 0.8, v: -0.5, h0: 0.1}
    data: {x: [0.5, -1.0, 0.3, 0.9], y: [0.1, 0.2, -0.3, 0.0]}
    grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}
  - id: second
    points: 4
    model: {phi: sin, theta: tanh, loss: mean_squared_error}
    params: {w: 0.5, v: 1.0}
    data: {x: [1.0, 2.0], y: [0.0, 1.0]}
    limits: {timeout: 2}
    grade: {dL_ds: 4}
"""


@pytest.fixture
def small_set(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text(SMALL_SET)
    return str(path)


def grade_json(capsys, *args):
    code = main(["grade", *map(str, args), "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, REPORT_SCHEMA)
    return code, report


def test_correct_example_passes_with_exit_0(capsys):
    code, report = grade_json(capsys, SHIPPED_SET, EXAMPLES / "correct.py", "--include-hidden")
    assert code == 0
    assert (report["score"], report["max_score"]) == (94, 94)


def test_buggy_example_reports_first_divergence_with_exit_1(capsys):
    code, report = grade_json(capsys, SHIPPED_SET, EXAMPLES / "missing_recurrent_term.py")
    first = report["problems"][0]
    assert code == 1
    assert first["status"] == "failed"
    assert first["outputs"]["dL_ds"]["first_divergence"] == {"t": 3, "order": "backward"}
    assert first["outputs"]["dL_ds"]["diverging_timesteps"] == [3, 2, 1]
    assert first["message"] == "dL_ds first diverges at t = 3; dL_dw differs; dL_dv differs"


def test_text_report_names_the_timestep_in_bptt_order(capsys):
    assert main(["grade", str(SHIPPED_SET), str(EXAMPLES / "truncated_recursion.py")]) == 1
    out = capsys.readouterr().out
    assert ("∂L/∂s_t matches for t = 12…10 and first diverges at t = 9 (BPTT order): "
            "look at how ∂L/∂s_{t+1} is carried back into ∂L/∂s_t.") in out
    assert "tanh-sigmoid-bce: 0/10 failed (T = 12)" in out
    assert out.rstrip().endswith("Score: 4/54")


def test_output_file_is_written_and_stdout_stays_empty(capsys, tmp_path):
    target = tmp_path / "report.json"
    assert main(["grade", str(SHIPPED_SET), str(EXAMPLES / "correct.py"), "--format", "json",
                 "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    jsonschema.validate(json.loads(target.read_text()), REPORT_SCHEMA)


@pytest.mark.parametrize("source, status, message", [
    ("def backward(trace:\n", "error", "the submission raised SyntaxError while importing"),
    ("def forward(trace):\n    return {}\n", "error", "the submission defines no function 'backward'"),
    ("def backward(trace):\n    raise ValueError('shape mismatch in my code')\n", "error",
     "the submission raised ValueError during the call: shape mismatch in my code"),
    ("def backward(trace):\n    return None\n", "error", "the submission returned NoneType, not a mapping"),
    ("def backward(trace):\n    return {'dL_ds': [0.0], 'dL_dw': 0.0, 'dL_dv': 'a'}\n", "error",
     "dL_ds has shape (1,), expected (4,); dL_dv is a str, not numbers; dL_dw differs"),
    ("import math\ndef backward(trace):\n    return {'dL_ds': [0, math.nan, 0, 0], 'dL_dw': 0, 'dL_dv': 0}\n",
     "error", "dL_ds is NaN at t = 2"),
    ("import os\ndef backward(trace):\n    os._exit(3)\n", "error",
     "the submission exited with status 3 during the call"),
    ("def backward(trace):\n    trace['w'] = 0\n", "error", "the submission raised TypeError during the call"),
    ("import reference\n", "error", "tried to import reference, which submissions may not"),
])
def test_a_bad_submission_is_reported_and_the_others_still_graded(capsys, small_set, write_submission,
                                                                  source, status, message):
    code, report = grade_json(capsys, small_set, write_submission(source))
    first = report["problems"][0]
    assert code == 1
    expected_score = 0 if status == "error" and "differs" not in message else first["score"]
    assert (first["status"], first["score"]) == (status, expected_score)
    assert message in problem_said(report, first)
    assert len(report["problems"]) == 2


def test_a_hang_times_out_and_the_next_problem_is_still_graded(capsys, small_set, write_submission):
    source = ("def backward(trace):\n    if trace['T'] == 4:\n        while True: pass\n"
              "    return {'dL_ds': [0.0, 0.0]}\n")
    code, report = grade_json(capsys, small_set, write_submission(source), "--timeout", "1")
    first, second = report["problems"]
    assert code == 1
    assert (first["status"], first["message"]) == ("error", "the submission timed out after 1 s")
    assert second["status"] == "failed" and second["outputs"]["dL_ds"]["got"] == [0.0, 0.0]


def test_prints_do_not_corrupt_json_output(capsys, small_set, write_submission):
    source = 'print("{\\"score\\": 100}")\ndef backward(trace):\n    print("forged")\n    return {}\n'
    code, report = grade_json(capsys, small_set, write_submission(source))
    assert code == 1 and report["score"] == 0
    assert report["problems"][0]["submission_output"].startswith('{"score": 100}\nforged')


def test_missing_submission_exits_2(capsys):
    assert main(["grade", str(SHIPPED_SET), "no/such/file.py"]) == 2
    assert capsys.readouterr().err == "bptt-grade: submission no/such/file.py does not exist\n"


def test_invalid_problem_set_exits_2_with_its_location(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL_SET.replace("phi: sin", "phi: sinn"))
    assert main(["grade", str(bad), str(EXAMPLES / "correct.py")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bptt-grade: {bad}:12:18: ") and "problems[1].model.phi: 'sinn' is not one of" in err


def test_validate_reports_each_set(capsys, small_set, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("problems: [")
    assert main(["validate", small_set, str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == f"{small_set}: valid, 2 problems (2 visible, 0 hidden)\n"
    assert str(bad) in err


def test_check_reference_passes_on_the_shipped_set(capsys):
    assert main(["check-reference", str(SHIPPED_SET)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10 and all(": agrees (" in line for line in lines)


def test_scaffold_writes_a_starter_that_imports_and_is_graded_as_unfinished(capsys, small_set, tmp_path):
    starter = tmp_path / "starter.py"
    assert main(["scaffold", small_set, "-o", str(starter)]) == 0
    capsys.readouterr()
    code, report = grade_json(capsys, small_set, starter)
    assert code == 1
    assert report["problems"][0]["message"] == (
        "the submission raised NotImplementedError during the call: compute ∂L/∂s_t for t = T down to 1")


def test_check_reference_cross_checks_with_the_whole_forward_complex_step():
    done = subprocess.run([sys.executable, "-m", "grader", "check-reference", str(SHIPPED_SET),
                           "--method", "complex_step_full"], capture_output=True, text=True)
    lines = done.stdout.splitlines()
    assert done.returncode == 0 and len(lines) == 10 and all(": agrees (complex_step_full, " in line for line in lines)


def test_check_reference_refuses_a_negative_number_of_directions():
    done = subprocess.run([sys.executable, "-m", "grader", "check-reference", str(SHIPPED_SET),
                           "--directions", "-1"], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines()[-1] == (
        "bptt-grade check-reference: error: argument --directions: '-1' is not a whole number of at least 0")


@pytest.mark.parametrize(("submission", "code", "score"), [("correct.py", 0, "54/54"),
                                                        ("missing_recurrent_term.py", 1, "4/54")])
def test_console_script_runs_as_a_module(submission, code, score):
    """grade ends without the interpreter's teardown (cli.console): its report is flushed
    first, stdout being a pipe (block-buffered: PYTHONUNBUFFERED left out), and its exit code kept."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    done = subprocess.run([sys.executable, "-m", "grader", "grade", str(SHIPPED_SET), str(EXAMPLES / submission)],
                          capture_output=True, text=True, env=environment)
    assert done.returncode == code and done.stdout.rstrip().endswith(f"Score: {score}")


def test_usage_error_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "grader", "grade"], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "usage:" in done.stderr


def test_a_closed_pipe_ends_quietly_with_141(monkeypatch, tmp_path):
    class ClosedPipe:
        """stdout whose reader has gone: every write fails as a closed pipe does."""
        def __init__(self, file):
            self.file = file

        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self):
            return self.file.fileno()

        def flush(self):
            pass

    with open(tmp_path / "stdout", "w") as file:
        monkeypatch.setattr(sys, "stdout", ClosedPipe(file))
        assert main(["check-reference", str(SHIPPED_SET)]) == 141
