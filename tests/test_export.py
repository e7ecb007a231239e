"""The exported autograders, run end to end the way each platform runs them: the Gradescope
zip unzipped into an /autograder-shaped tree (setup.sh, then run_autograder), the
PrairieLearn question's tests/ laid out as /grade."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from grader.cli import main
from tests.conftest import EXAMPLES, SHIPPED_SET


def schema(name: str) -> dict:
    return json.loads(resources.files("grader").joinpath(f"schemas/{name}.schema.json").read_text())


def student_files(folder, example="missing_recurrent_term", name="rnn.py"):
    """A student's files in `folder` (made afresh): the submission as `name`, and the helper it imports."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copy(EXAMPLES / f"{example}.py", folder / name)
    shutil.copy(EXAMPLES / "student_math.py", folder)


@pytest.fixture(scope="module")
def python_without_grader(tmp_path_factory) -> str:
    """A Python that has the grader's dependencies (this one's site-packages on its path) but
    not the grader, as a platform's image has after setup: only the bundle's copy can run."""
    venv = tmp_path_factory.mktemp("image") / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return str(venv / "bin" / "python")


@pytest.fixture(scope="module")
def autograder(tmp_path_factory, python_without_grader):
    """/autograder after Gradescope built the image from the exported zip."""
    root = tmp_path_factory.mktemp("gradescope") / "autograder"
    bundle = root.parent / "autograder.zip"
    assert main(["export", "gradescope", str(SHIPPED_SET), "-o", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        for member in archive.infolist():
            archive.extract(member, root / "source")
            os.chmod(root / "source" / member.filename, member.external_attr >> 16 & 0o777)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    env = {**os.environ, "AUTOGRADER": str(root), "BPTT_PYTHON": python_without_grader}
    subprocess.run([str(root / "source" / "setup.sh")], env=env, check=True, capture_output=True)
    return root, env


def test_gradescope_zip_has_its_scripts_at_the_root_and_executable(tmp_path):
    bundle = tmp_path / "autograder.zip"
    assert main(["export", "gradescope", str(SHIPPED_SET), "-o", str(bundle)]) == 0
    with zipfile.ZipFile(bundle) as archive:
        modes = {info.filename: info.external_attr >> 16 & 0o777 for info in archive.infolist()}
    assert (modes["setup.sh"], modes["run_autograder"], modes["problem_set.yaml"]) == (0o755, 0o755, 0o644)
    assert "bptt_grade/grader/schemas/gradescope.schema.json" in modes


def test_gradescope_autograder_grades_the_submission_with_its_own_copy_of_the_grader(autograder):
    root, env = autograder
    student_files(root / "submission")
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert done.returncode == 0, done.stderr
    jsonschema.validate(results, schema("gradescope"))
    assert results["score"] == 4.0 and len(results["tests"]) == 10
    assert [t["visibility"] for t in results["tests"]] == ["visible"] * 6 + ["after_published"] * 4


def test_gradescope_autograder_finds_the_entry_file_in_a_submitted_folder(autograder):
    root, env = autograder
    shutil.rmtree(root / "submission", ignore_errors=True)
    student_files(root / "submission" / "hw3")
    done = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert done.returncode == 0, done.stderr
    assert results["score"] == 4.0 and results["tests"][0]["extra_data"]["first_divergence"] == {
        "dL_ds": {"t": 3, "order": "backward"}}


def test_gradescope_bundle_looks_at_any_depth_unless_told_otherwise(tmp_path):
    for options, expected in (([], "--entry '**/*.py'"), (["--entry", "rnn.py"], "--entry rnn.py")):
        assert main(["export", "gradescope", str(SHIPPED_SET), "-o", str(tmp_path / "a.zip"), *options]) == 0
        with zipfile.ZipFile(tmp_path / "a.zip") as archive:
            assert f"{expected} --hidden-visibility after_published" in archive.read("run_autograder").decode()


@pytest.mark.parametrize("platform, output", [("gradescope", "course/hw3/autograder.zip"),
                                              ("prairielearn", "course/questions/bptt")])
def test_export_makes_the_folders_above_its_output(capsys, tmp_path, platform, output):
    assert main(["export", platform, str(SHIPPED_SET), "-o", str(tmp_path / output)]) == 0
    assert capsys.readouterr().out.startswith(f"wrote {tmp_path / output}: ")
    assert (tmp_path / output).exists()


def test_the_image_python_has_no_grader_but_the_bundles(python_without_grader, tmp_path):
    done = subprocess.run([python_without_grader, "-c", "import numpy, yaml, jsonschema, grader"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and "No module named 'grader'" in done.stderr


def graded_in_a_grade_tree(tmp_path, python: str, name: str = "rnn.py", others: dict[str, str] | None = None):
    """Export the shipped set as a PrairieLearn question, lay out its tests/ and the student's
    files (the submission as `name`, its helper, and `others`: name → text) as /grade is laid
    out, and run tests/run.sh with `python`: (the finished run, results.json, the /grade folder)."""
    question = tmp_path / "question"
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(question)]) == 0
    grade = tmp_path / "grade"
    shutil.copytree(question / "tests", grade / "tests")
    student_files(grade / "student", name=name)
    for other, text in (others or {}).items():
        (grade / "student" / other).write_text(text)
    env = {**os.environ, "GRADE": str(grade), "BPTT_PYTHON": python}
    done = subprocess.run([str(grade / "tests" / "run.sh")], env=env, capture_output=True, text=True)
    return done, json.loads((grade / "results" / "results.json").read_text()), grade


def test_prairielearn_question_grades_the_student_files_in_a_grade_tree(tmp_path, python_without_grader):
    done, results, _ = graded_in_a_grade_tree(tmp_path, python_without_grader)
    assert done.returncode == 0, done.stderr
    jsonschema.validate(results, schema("prairielearn"))
    assert (results["gradable"], results["score"], len(results["tests"])) == (True, 4 / 94, 10)


def test_prairielearn_question_runs_its_entrypoint_in_external_grading(tmp_path):
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path)]) == 0
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["gradingMethod"] == "External"
    assert info["externalGradingOptions"] == {"enabled": True, "image": "prairielearn/grader-python",
                                              "entrypoint": "/grade/tests/run.sh", "timeout": 120}
    assert os.access(tmp_path / "tests" / "run.sh", os.X_OK)


@pytest.mark.parametrize("options, element", [
    ([], '<pl-file-upload file-names="submission.py" optional-file-patterns="*.py">'),
    (["--helpers", "student_math.py", "data_[0-9].py"],
     '<pl-file-upload file-names="submission.py" optional-file-names="student_math.py" '
     'optional-file-patterns="data_[0-9].py">'),
    (["--helpers"], '<pl-file-upload file-names="submission.py">'),
    (["--entry", "rnn.py", "--helpers", "a,b.py"],
     '<pl-file-upload file-names="rnn.py" optional-file-names="a\\,b.py">'),
])
def test_prairielearn_question_takes_the_entry_file_and_its_helpers(tmp_path, options, element):
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path), *options]) == 0
    assert element in (tmp_path / "question.html").read_text()


def test_prairielearn_refuses_a_file_name_with_a_quote(capsys, tmp_path):
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path), "--helpers", 'a"b.py']) == 2
    assert capsys.readouterr().err == "bptt-grade: PrairieLearn file names cannot hold quotes: 'a\"b.py'\n"
    assert not (tmp_path / "info.json").exists()


def uuid_of(question) -> str:
    return json.loads((question / "info.json").read_text())["uuid"]


def test_prairielearn_export_again_keeps_the_question_uuid(tmp_path):
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path)]) == 0
    first = uuid_of(tmp_path)
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path)]) == 0
    assert uuid_of(tmp_path) == first


def test_prairielearn_export_refuses_to_replace_another_question(capsys, tmp_path):
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path)]) == 0
    before = (tmp_path / "info.json").read_text()
    other = SHIPPED_SET.parent / "cs231n_rnn.yaml"
    assert main(["export", "prairielearn", str(other), "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: {tmp_path} holds another question ('BPTT for a scalar RNN', not 'CS231n vanilla RNN'): "
        "export into another folder, or pass --force to replace it (keeping its uuid)\n")
    assert (tmp_path / "info.json").read_text() == before
    assert main(["export", "prairielearn", str(other), "-o", str(tmp_path), "--force"]) == 0
    info = json.loads((tmp_path / "info.json").read_text())
    assert (info["uuid"], info["title"]) == (json.loads(before)["uuid"], "CS231n vanilla RNN")


def test_prairielearn_export_refuses_an_info_json_without_a_uuid(capsys, tmp_path):
    (tmp_path / "info.json").write_text('{"title": "BPTT for a scalar RNN"}')
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: {tmp_path / 'info.json'} is not the info.json of a question with a uuid: export into "
        "another folder, or pass --force to replace it\n")
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path), "--force"]) == 0
    assert len(uuid_of(tmp_path)) == 36


def test_prairielearn_grades_an_uploaded_submission_py_beside_its_helper(tmp_path, python_without_grader):
    done, results, _ = graded_in_a_grade_tree(tmp_path, python_without_grader, name="submission.py",
                                              others={"notes.py": "raise SystemExit('not the entry file')\n"})
    assert done.returncode == 0, done.stderr
    assert (results["gradable"], results["score"]) == (True, 4 / 94)


EXTERNALLY_MANAGED = """#!/bin/sh
# An externally managed Python (PEP 668) without the grader's dependencies: pip refuses to
# install unless told --break-system-packages; once it has, the real Python runs everything.
if [ "$1" = -m ] && [ "$2" = pip ]; then
    echo "$*" >> "{log}"
    case "$*" in *--break-system-packages*) touch "{installed}"; exit 0 ;; esac
    echo "error: externally-managed-environment" >&2; exit 1
fi
if [ ! -e "{installed}" ] && [ "$1" = -c ] && [ "$2" = "import numpy, yaml, jsonschema" ]; then exit 1; fi
exec "{python}" "$@"
"""


def test_prairielearn_run_installs_into_an_externally_managed_python(tmp_path, python_without_grader):
    fake = tmp_path / "python3"
    fake.write_text(EXTERNALLY_MANAGED.format(log=tmp_path / "pip.log", installed=tmp_path / "installed",
                                              python=python_without_grader))
    fake.chmod(0o755)
    done, results, grade = graded_in_a_grade_tree(tmp_path, str(fake))
    requirements = grade / "tests" / "requirements.txt"
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pip.log").read_text().splitlines() == [
        f"-m pip install --quiet -r {requirements}",
        f"-m pip install --quiet --break-system-packages -r {requirements}"]
    assert (results["gradable"], results["score"]) == (True, 4 / 94)


def test_export_of_an_invalid_problem_set_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\n")
    assert main(["export", "gradescope", str(bad), "-o", str(tmp_path / "a.zip")]) == 2
    assert "<root>: 'title' is a required property" in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()
