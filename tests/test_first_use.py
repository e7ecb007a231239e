"""What a new user touches first, from the command line: --version, the help of every
command, swapped arguments, and the problem set `check` finds on its own."""
import argparse
import json
import platform
import shutil
from importlib import metadata

import numpy
import pytest

import grader
from grader.cli import main, parser
from tests.conftest import EXAMPLES, SHIPPED_SET


def test_version_names_the_package_python_and_numpy(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == (f"bptt-grade {metadata.version('bptt-grade')} "
                                       f"(Python {platform.python_version()}, numpy {numpy.__version__})\n")


def test_the_package_version_is_the_grader_version():
    assert metadata.version("bptt-grade") == grader.__version__


def subcommands() -> dict[str, argparse.ArgumentParser]:
    top = parser()
    return next(a for a in top._actions if isinstance(a, argparse._SubParsersAction)).choices


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_has_a_description_and_every_argument_help(name):
    command = subcommands()[name]
    assert command.description and command.description[0].isupper()
    assert [a.dest for a in command._actions if not a.help] == []


def test_every_command_is_listed_with_a_one_line_summary(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    for name, action in ((a.dest, a) for a in next(
            a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))._choices_actions):
        assert action.help and "\n" not in action.help and name in listed


def test_the_json_report_says_what_graded_it(capsys):
    assert main(["grade", str(SHIPPED_SET), str(EXAMPLES / "correct.py"), "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)["metadata"]
    assert (found["grader_version"], found["python"], found["numpy"]) == (
        grader.__version__, platform.python_version(), numpy.__version__)


def test_the_report_of_a_folder_without_an_entry_file_says_what_graded_it_too(capsys, tmp_path):
    assert main(["grade", str(SHIPPED_SET), str(tmp_path), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["metadata"]["grader_version"] == grader.__version__


@pytest.mark.parametrize("submission", [EXAMPLES / "correct.py", EXAMPLES / "cs231n"])
def test_grade_with_swapped_arguments_suggests_the_right_order_and_exits_2(capsys, submission):
    assert main(["grade", str(submission), str(SHIPPED_SET)]) == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: {submission} is a submission and {SHIPPED_SET} a problem set: "
        f"did you mean `bptt-grade grade {SHIPPED_SET} {submission}`?\n")


def test_check_with_swapped_arguments_suggests_the_right_order_and_exits_2(capsys):
    assert main(["check", str(SHIPPED_SET), str(EXAMPLES / "correct.py")]) == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: {EXAMPLES / 'correct.py'} is a submission and {SHIPPED_SET} a problem set: "
        f"did you mean `bptt-grade check {EXAMPLES / 'correct.py'} {SHIPPED_SET}`?\n")


def test_a_yaml_named_like_a_submission_is_still_loaded_as_the_problem_set(capsys, tmp_path):
    odd = tmp_path / "set.py"
    shutil.copy(SHIPPED_SET, odd)
    assert main(["grade", str(odd), str(EXAMPLES / "correct.py")]) == 0


@pytest.fixture
def folder_with_a_conda_file(tmp_path):
    shutil.copy(EXAMPLES / "correct.py", tmp_path / "rnn.py")
    shutil.copy(EXAMPLES / "student_math.py", tmp_path)
    (tmp_path / "conda.yaml").write_text("name: course\ndependencies: [numpy]\n")
    return tmp_path


def test_check_does_not_take_a_conda_file_for_the_problem_set(capsys, folder_with_a_conda_file, monkeypatch):
    monkeypatch.chdir(folder_with_a_conda_file)
    assert main(["check", "rnn.py"]) == 2
    assert capsys.readouterr().err == (
        "bptt-grade: no problem set (a *.yaml with schema_version and problems) beside rnn.py or in the "
        "current folder: name one, e.g. bptt-grade check SUBMISSION PROBLEM_SET\n")


def test_check_takes_the_problem_set_beside_a_conda_file(capsys, folder_with_a_conda_file):
    shutil.copy(SHIPPED_SET, folder_with_a_conda_file / "homework.yml")
    assert main(["check", str(folder_with_a_conda_file / "rnn.py"), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["problem_set"] == str(folder_with_a_conda_file / "homework.yml")


PRINTING = """\
print("loading my rnn")
def backward(trace):
    for t in range(trace["T"], 0, -1):
        print(f"t = {t}")
    return {}
"""


def test_the_text_report_shows_the_start_of_what_each_visible_problem_printed(capsys, write_submission):
    assert main(["check", str(write_submission(PRINTING)), str(SHIPPED_SET)]) == 1
    lines = capsys.readouterr().out.splitlines()
    first = lines.index("  the submission printed:")
    assert lines[first - 1].startswith("tanh-identity-squared: 0/10 error (T = 4)")
    assert lines[first + 1:first + 6] == ["    | loading my rnn", "    | t = 4", "    | t = 3", "    | t = 2",
                                          "    | t = 1"]
    bce = lines.index("tanh-sigmoid-bce: 0/10 error (T = 12) — dL_ds is missing; dL_dw is missing; dL_dv is missing")
    assert lines[bce + 1:bce + 8] == ["  the submission printed:", "    | t = 12", "    | t = 11", "    | t = 10",
                                      "    | t = 9", "    | t = 8", "    … 7 more lines"]


def test_the_text_report_never_shows_what_a_hidden_problem_printed(capsys, write_submission):
    assert main(["grade", str(SHIPPED_SET), str(write_submission(PRINTING)), "--include-hidden"]) == 1
    out = capsys.readouterr().out
    assert out.count("  the submission printed:") == 6 and "t = 200" not in out


def test_an_entry_pattern_at_any_depth_takes_the_submission_py_nearest_the_top(capsys, tmp_path):
    for folder, example in ((tmp_path / "hw3", "correct"), (tmp_path / "hw3" / "old", "missing_recurrent_term")):
        folder.mkdir(parents=True)
        shutil.copy(EXAMPLES / f"{example}.py", folder / "submission.py")
        shutil.copy(EXAMPLES / "student_math.py", folder)
    assert main(["grade", str(SHIPPED_SET), str(tmp_path), "--entry", "**/*.py", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["submission"] == str(tmp_path / "hw3" / "submission.py")


def test_an_entry_pattern_at_any_depth_refuses_two_equally_near(capsys, tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(EXAMPLES / "correct.py", tmp_path / name / "submission.py")
    assert main(["grade", str(SHIPPED_SET), str(tmp_path), "--entry", "**/*.py", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["metadata"]["import_error"] == (
        "the submission cannot be graded: 2 files in the submission match '**/*.py' (a/submission.py, "
        "b/submission.py): name the one that defines backward() submission.py, or choose it with --entry")
