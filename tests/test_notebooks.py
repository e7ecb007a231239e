"""Notebook submissions and the code students actually submit, from the command line: a
.ipynb graded on its definitions only (or every cell with --notebook-cells all), a folder's
one notebook, batch grading notebooks and listing every entry it cannot grade, and one-line
hints for Python 2 and for names removed from numpy."""
import csv
import json
import shutil

import nbformat
import pytest

from grader.cli import main
from tests.conftest import EXAMPLES, SHIPPED_SET

CORRECT = (EXAMPLES / "correct.py").read_text()
RUNS_FOREVER = "while True:\n    pass"             # a training loop: never run by default


def notebook(path, *cells: str):
    """Write a notebook of a markdown cell and these code cells; the examples' helpers beside it."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# BPTT"), *map(nbformat.v4.new_code_cell, cells)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    shutil.copy(EXAMPLES / "student_math.py", path.parent)
    return path


def graded(capsys, submission, *options) -> tuple[int, dict]:
    code = main(["grade", str(SHIPPED_SET), str(submission), "--format", "json", "--timeout", "5", *options])
    return code, json.loads(capsys.readouterr().out)


def test_a_notebook_is_graded_on_its_definitions_only(capsys, tmp_path):
    path = notebook(tmp_path / "hw.ipynb", "%matplotlib inline\n!pip install numpy\nimport numpy as np", CORRECT,
                    RUNS_FOREVER, "def broken(:\n    pass")
    code, report = graded(capsys, path)
    assert (code, report["score"], report["max_score"]) == (0, 54, 54)
    assert report["metadata"]["notebook"] == {
        "cells": "definitions", "skipped": ["code cell 4 does not parse (invalid syntax, line 1): skipped"]}
    main(["grade", str(SHIPPED_SET), str(path)])
    assert "notebook: code cell 4 does not parse (invalid syntax, line 1): skipped\n" in capsys.readouterr().out


def test_notebook_cells_all_runs_every_cell_in_order(capsys, tmp_path):
    uses_a_computed_global = CORRECT.replace("def backward(trace):", "def backward(trace):\n    assert READY")
    path = notebook(tmp_path / "hw.ipynb", uses_a_computed_global, "READY = bool(len('x'))")
    _, report = graded(capsys, path)
    assert report["problems"][0]["message"] == (
        "the submission raised NameError during the call: name 'READY' is not defined")
    code, report = graded(capsys, path, "--notebook-cells", "all")
    assert (code, report["score"], report["metadata"]["notebook"]) == (0, 54, {"cells": "all", "skipped": []})


def test_a_folder_with_one_notebook_grades_it(capsys, tmp_path):
    notebook(tmp_path / "ada" / "RNN.ipynb", CORRECT)
    code, report = graded(capsys, tmp_path / "ada")
    assert (code, report["score"], report["submission"]) == (0, 54, str(tmp_path / "ada" / "RNN.ipynb"))


def test_a_file_that_is_not_a_notebook_is_an_error_saying_so(capsys, tmp_path):
    (tmp_path / "hw.ipynb").write_text("not json")
    code, report = graded(capsys, tmp_path / "hw.ipynb")
    assert code == 1 and {p["status"] for p in report["problems"]} == {"error"}
    assert report["metadata"]["import_error"] == (
        "the submission cannot be graded: hw.ipynb is not a notebook nbformat can read (NotJSONError)")


def test_batch_grades_notebooks_and_lists_every_entry_it_cannot_grade(tmp_path):
    shutil.copy(SHIPPED_SET, tmp_path / "set.yaml")
    folder = tmp_path / "class"
    notebook(folder / "bob" / "hw.ipynb", CORRECT)
    notebook(folder / "ada" / "hw.ipynb", "import numpy as np")
    shutil.copy(EXAMPLES / "correct.py", folder / "ada" / "submission.py")
    (folder / "carol.zip").write_bytes(b"PK\x03\x04")
    (folder / "dee.ipynb").write_text("{")
    assert main(["batch", str(tmp_path / "set.yaml"), str(folder), "-o", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "gradebook.csv") as gradebook:
        rows = {row["student"]: (row["total"], row["status"]) for row in csv.DictReader(gradebook)}
    assert rows == {"ada": ("94", "passed"), "bob": ("94", "passed"), "carol.zip": ("0", "error"),
                    "dee": ("0", "error")}
    carol = json.loads((tmp_path / "out" / "json" / "carol.zip.json").read_text())
    assert carol["metadata"]["import_error"] == (
        "the submission cannot be graded: carol.zip is not a .py file, a notebook (.ipynb) or a folder")
    dee = json.loads((tmp_path / "out" / "json" / "dee.json").read_text())
    assert dee["metadata"]["import_error"] == (
        "the submission cannot be graded: dee.ipynb is not a notebook nbformat can read (NotJSONError)")
    bob = json.loads((tmp_path / "out" / "json" / "bob.json").read_text())
    assert bob["metadata"]["notebook"] == {"cells": "definitions", "skipped": []}


def test_the_gradebook_says_why_each_entry_it_cannot_grade_was_not_graded(tmp_path):
    shutil.copy(SHIPPED_SET, tmp_path / "set.yaml")
    folder = tmp_path / "class"
    notebook(folder / "ada" / "hw.ipynb", CORRECT)
    notebook(folder / "bob" / "one.ipynb", CORRECT)
    notebook(folder / "bob" / "two.ipynb", CORRECT)
    (folder / "bob" / "student_math.py").unlink()
    (folder / "carol.zip").write_bytes(b"PK\x03\x04")
    (folder / "dee").mkdir()
    (folder / "eve.py").write_text("import nothing_here\n")
    (folder / "fay.ipynb").write_text("{")
    assert main(["batch", str(tmp_path / "set.yaml"), str(folder), "-o", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "gradebook.csv", newline="") as gradebook:
        rows = list(csv.reader(gradebook))
    assert rows[0][-2:] == ["status", "reason"]
    assert {row[0]: row[-2:] for row in rows[1:]} == {
        "ada": ["passed", ""],
        "bob": ["error", "the submission cannot be graded: no file in the submission matches '*.py' "
                         "and it has 2 notebooks"],
        "carol.zip": ["error", "the submission cannot be graded: carol.zip is not a .py file, a notebook (.ipynb) "
                               "or a folder"],
        "dee": ["error", "the submission cannot be graded: no file in the submission matches '*.py'"],
        "eve": ["error", "the submission raised ModuleNotFoundError while importing: No module named 'nothing_here'"],
        "fay": ["error", "the submission cannot be graded: fay.ipynb is not a notebook nbformat can read "
                         "(NotJSONError)"]}


@pytest.mark.parametrize("source, said", [
    ("for i in xrange(3):\n    pass\n",
     "raised NameError while importing: name 'xrange' is not defined (hint: xrange is Python 2: use range)"),
    ("def backward(trace):\n    print 'hi'\n",
     "(hint: a Python 2 print statement: write print(…) as a function)"),
    ("def backward(trace):\n\tif True:\n        return {}\n",
     "(hint: tabs and spaces mixed in one indentation (Python 2 allowed it): indent with spaces only)"),
    ("import numpy as np\nx = np.float(1)\n", "(hint: np.float was removed in numpy 1.24: use float or np.float64)"),
])
def test_old_code_gets_a_one_line_hint(capsys, write_submission, source, said):
    _, report = graded(capsys, write_submission(source))
    assert report["metadata"]["import_error"].endswith(said)
