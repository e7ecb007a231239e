"""Students checking themselves: `check` (visible problems only, the problem set found
beside the submission), submissions as folders, and --min-score for CI gates."""
import json
import shutil

import pytest

from grader.cli import main
from tests.conftest import EXAMPLES, SHIPPED_SET

VISIBLE = ["tanh-identity-squared", "single-step", "tanh-sigmoid-bce", "sin-tanh-mse",
           "softplus-sin-last-step", "relu-identity-squared"]


@pytest.fixture
def student_folder(tmp_path):
    """A student's folder: the shipped problem set, a buggy submission and its helper."""
    shutil.copy(SHIPPED_SET, tmp_path)
    shutil.copy(EXAMPLES / "missing_recurrent_term.py", tmp_path / "rnn.py")
    shutil.copy(EXAMPLES / "student_math.py", tmp_path)
    return tmp_path


def run_json(capsys, *args):
    code = main([*map(str, args), "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_runs_only_the_visible_problems(capsys):
    code, report = run_json(capsys, "check", EXAMPLES / "correct.py", SHIPPED_SET)
    assert code == 0
    assert [p["id"] for p in report["problems"]] == VISIBLE
    assert (report["score"], report["max_score"]) == (54, 54)


def test_check_finds_the_problem_set_beside_the_submission(capsys, student_folder):
    code, report = run_json(capsys, "check", student_folder / "rnn.py")
    assert code == 1
    assert report["problem_set"] == str(student_folder / "scalar_bptt.yaml")
    assert report["problems"][0]["outputs"]["dL_ds"]["first_divergence"] == {"t": 3, "order": "backward"}


def test_check_falls_back_to_the_problem_set_in_the_current_folder(capsys, student_folder, tmp_path_factory,
                                                                    monkeypatch):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    shutil.move(student_folder / "scalar_bptt.yaml", elsewhere)
    monkeypatch.chdir(elsewhere)
    _, report = run_json(capsys, "check", student_folder / "rnn.py")
    assert report["problem_set"] == str(elsewhere / "scalar_bptt.yaml")


def test_check_without_a_problem_set_anywhere_exits_2(capsys, student_folder, tmp_path_factory, monkeypatch):
    (student_folder / "scalar_bptt.yaml").unlink()
    monkeypatch.chdir(tmp_path_factory.mktemp("empty"))
    assert main(["check", str(student_folder / "rnn.py")]) == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: no problem set (a *.yaml with schema_version and problems) beside {student_folder / 'rnn.py'} "
        "or in the current folder: "
        "name one, e.g. bptt-grade check SUBMISSION PROBLEM_SET\n")


def test_check_of_a_missing_submission_exits_2(capsys):
    assert main(["check", "no/such/rnn.py"]) == 2
    assert capsys.readouterr().err == "bptt-grade: submission no/such/rnn.py does not exist\n"


def test_check_with_two_problem_sets_beside_it_asks_for_one(capsys, student_folder):
    shutil.copy(SHIPPED_SET, student_folder / "again.yml")
    (student_folder / "notes.yaml").write_text("not: a problem set\n")
    assert main(["check", str(student_folder / "rnn.py")]) == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: 2 problem sets in {student_folder} (again.yml, scalar_bptt.yaml): "
        "name one, e.g. bptt-grade check SUBMISSION PROBLEM_SET\n")


def test_a_folder_is_graded_through_the_file_that_defines_the_entry_point(capsys, student_folder):
    _, report = run_json(capsys, "check", student_folder)
    assert report["submission"] == str(student_folder / "rnn.py")
    assert report["score"] == 4


def test_entry_pattern_chooses_the_file(capsys, student_folder):
    shutil.copy(EXAMPLES / "correct.py", student_folder / "fixed.py")
    code, report = run_json(capsys, "check", student_folder, "--entry", "fix*.py")
    assert (code, report["submission"]) == (0, str(student_folder / "fixed.py"))


def test_a_folder_without_an_entry_file_is_graded_as_unimportable(capsys, tmp_path):
    code, report = run_json(capsys, "grade", SHIPPED_SET, tmp_path)
    assert code == 1
    assert {p["status"] for p in report["problems"]} == {"error"}
    assert report["metadata"]["import_error"] == (
        "the submission cannot be graded: no file in the submission matches '*.py'")


def test_several_candidate_files_are_named_in_the_message(capsys, student_folder):
    shutil.copy(EXAMPLES / "correct.py", student_folder / "other.py")
    _, report = run_json(capsys, "check", student_folder)
    assert report["problems"][0]["message"] == (
        "the submission cannot be graded: 3 files in the submission match '*.py' (other.py, rnn.py, "
        "student_math.py): name the one that defines backward() submission.py, or choose it with --entry")


@pytest.mark.parametrize("minimum, code", [("4", 0), ("4.5", 1), ("7%", 0), ("8%", 1)])
def test_min_score_sets_the_exit_code(capsys, student_folder, minimum, code):
    # 4 of 54 points is 7.4%
    assert main(["check", str(student_folder / "rnn.py"), "--min-score", minimum]) == code


@pytest.mark.parametrize("minimum", ["-1", "lots", "101%", "nan"])
def test_a_bad_min_score_is_a_usage_error(capsys, minimum):
    with pytest.raises(SystemExit) as stop:
        main(["grade", str(SHIPPED_SET), str(EXAMPLES / "correct.py"), "--min-score", minimum])
    assert stop.value.code == 2
    assert f"argument --min-score: {minimum!r} is not a number of points" in capsys.readouterr().err


def test_check_of_a_set_without_visible_problems_exits_2(capsys, tmp_path):
    hidden_only = tmp_path / "hidden.yaml"
    hidden_only.write_text(SHIPPED_SET.read_text().replace("visibility: visible", "visibility: hidden"))
    assert main(["check", str(EXAMPLES / "correct.py"), str(hidden_only)]) == 2
    assert capsys.readouterr().err == f"bptt-grade: {hidden_only} has no visible problems; there is nothing to check\n"
