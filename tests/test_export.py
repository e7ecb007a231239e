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


def student_files(folder, example="missing_recurrent_term"):
    folder.mkdir(parents=True)
    shutil.copy(EXAMPLES / f"{example}.py", folder / "rnn.py")
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


def test_the_image_python_has_no_grader_but_the_bundles(python_without_grader, tmp_path):
    done = subprocess.run([python_without_grader, "-c", "import numpy, yaml, jsonschema, grader"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and "No module named 'grader'" in done.stderr


def test_prairielearn_question_grades_the_student_files_in_a_grade_tree(tmp_path, python_without_grader):
    question = tmp_path / "question"
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(question)]) == 0
    grade = tmp_path / "grade"
    shutil.copytree(question / "tests", grade / "tests")
    student_files(grade / "student")
    env = {**os.environ, "GRADE": str(grade), "BPTT_PYTHON": python_without_grader}
    done = subprocess.run([str(grade / "tests" / "run.sh")], env=env, capture_output=True, text=True)
    results = json.loads((grade / "results" / "results.json").read_text())
    assert done.returncode == 0, done.stderr
    jsonschema.validate(results, schema("prairielearn"))
    assert (results["gradable"], results["score"], len(results["tests"])) == (True, 4 / 94, 10)


def test_prairielearn_question_runs_its_entrypoint_in_external_grading(tmp_path):
    assert main(["export", "prairielearn", str(SHIPPED_SET), "-o", str(tmp_path)]) == 0
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["gradingMethod"] == "External"
    assert info["externalGradingOptions"] == {"enabled": True, "image": "prairielearn/grader-python",
                                              "entrypoint": "/grade/tests/run.sh", "timeout": 120}
    assert '<pl-file-upload file-names="submission.py">' in (tmp_path / "question.html").read_text()
    assert os.access(tmp_path / "tests" / "run.sh", os.X_OK)


def test_export_of_an_invalid_problem_set_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\n")
    assert main(["export", "gradescope", str(bad), "-o", str(tmp_path / "a.zip")]) == 2
    assert "<root>: 'title' is a required property" in capsys.readouterr().err
    assert not (tmp_path / "a.zip").exists()
