"""Reports stay small at every problem size: the JSON report keeps an excerpt of an output
over MAX_INLINE_NUMBERS numbers (expected and got together: rows around the first divergence
and of largest error, with statistics), `--full-arrays` writes them whole to a side .npz,
files are compact JSON, and a batch stores each report once."""
import json
import shutil
import sqlite3
import sys
from contextlib import closing

import jsonschema
import numpy as np
import pytest

from grader import loader
from grader.cli import main
from grader.compare import compare
from grader.problem_set import Tolerance
from grader.reports import render
from grader.reports.excerpt import MAX_INLINE_NUMBERS, ROW_NUMBERS, values_json
from grader.reports.json_report import output_json
from grader.results import OutputResult
from grader.submissions import grade_path
from tests.conftest import EXAMPLES
from tests.test_report_formats import SCHEMAS, parsed, schema

# dx's expected and got are N·T·D = 2·60·100 = 12,000 numbers each: over the limit of 10,000 for the
# two; dWx's are D·H = 100·50 = 5,000 each: at it.
SET = """\
schema_version: 1
title: bounded
contract: cs231n
problems:
  - id: wide
    points: 10
    sizes: {N: 2, T: 60, D: 100, H: 50}
    model: {phi: tanh, loss: upstream}
    params: {random: {seed: 3, scale: 0.1}}
    data: {random: {seed: 4}}
    grade: {h: 2, dx: 2, dh0: 1, dWx: 2, dWh: 2, db: 1}
"""

# The CS231n example with dx wrong at three steps: t = 40 by 1 at dx[1, 39, 50] (so the first
# divergence in BPTT order, the largest t, is 40), and by more at t = 10 and t = 20.
WRONG_DX = (EXAMPLES / "cs231n" / "rnn_layers.py").read_text() + """

_rnn_backward = rnn_backward


def rnn_backward(dh, cache):
    dx, dh0, dWx, dWh, db = _rnn_backward(dh, cache)
    dx[1, 39, 50] += 1.0
    dx[0, 9, 0] += 3.0
    dx[0, 19, 0] += 2.0
    return dx, dh0, dWx, dWh, db
"""


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """The folder with the problem set and the submission, and the JSON report with --full-arrays."""
    folder = tmp_path_factory.mktemp("bounded")
    (folder / "set.yaml").write_text(SET)
    (folder / "wrong_dx.py").write_text(WRONG_DX)
    assert main(["grade", str(folder / "set.yaml"), str(folder / "wrong_dx.py"), "--format", "json",
                 "--output", str(folder / "report.json"), "--full-arrays"]) == 1
    return folder


def output(folder, name: str) -> dict:
    return json.loads((folder / "report.json").read_text())["problems"][0]["outputs"][name]


def test_an_output_over_the_limit_is_truncated_and_one_at_it_is_whole(wide):
    dx, dWx = output(wide, "dx"), output(wide, "dWx")
    assert (dx["truncated"], dx["shape"], dx["axis"], "expected" in dx, "got" in dx) == (
        True, [2, 60, 100], 1, False, False)
    assert "truncated" not in dWx and np.shape(dWx["expected"]) == np.shape(dWx["got"]) == (100, 50)


def test_kept_rows_are_those_around_the_first_divergence_and_of_largest_error(wide):
    dx = output(wide, "dx")
    assert dx["first_divergence"] == {"t": 40, "order": "backward"}
    assert [row["t"] for row in dx["rows"]] == [10, 20, 38, 39, 40, 41, 42]
    assert all(len(row["expected"]) == len(row["got"]) == ROW_NUMBERS for row in dx["rows"])


def test_a_kept_row_holds_the_elements_around_its_largest_error(wide):
    row = next(row for row in output(wide, "dx")["rows"] if row["t"] == 40)
    assert row["start"] == 1 * 100 + 50 - ROW_NUMBERS // 2       # dx[1, 39, 50] is element 150 of step 40
    errors = np.subtract(row["got"], row["expected"])
    assert int(np.argmax(errors)) == ROW_NUMBERS // 2 and errors[ROW_NUMBERS // 2] == pytest.approx(1.0)


def test_statistics_count_every_element(wide):
    statistics = output(wide, "dx")["statistics"]
    assert (statistics["elements"], statistics["diverging"], statistics["diverging_steps"]) == (12_000, 3, 3)
    assert statistics["mean_abs_error"] == pytest.approx(6.0 / 12_000)


def test_the_truncated_report_validates_against_its_schema(wide):
    jsonschema.validate(json.loads((wide / "report.json").read_text()), schema("report"))


def test_full_arrays_holds_every_output_whole_as_graded(wide):
    report = grade_path(loader.load(wide / "set.yaml"), wide / "wrong_dx.py")
    outputs = {o.name: o.comparison for o in report.problems[0].outputs}
    with np.load(wide / "report.npz") as arrays:
        assert sorted(arrays.files) == sorted(f"wide/{name}/{which}" for name in outputs
                                              for which in ("expected", "got"))
        for name, c in outputs.items():
            assert np.array_equal(arrays[f"wide/{name}/expected"], c.expected)
            assert np.array_equal(arrays[f"wide/{name}/got"], c.got)


def test_the_report_names_the_arrays_file_and_its_rows_are_slices_of_it(wide):
    assert json.loads((wide / "report.json").read_text())["metadata"]["full_arrays"] == "report.npz"
    row = next(row for row in output(wide, "dx")["rows"] if row["t"] == 40)
    with np.load(wide / "report.npz") as arrays:
        for which in ("expected", "got"):
            assert row[which] == arrays[f"wide/dx/{which}"][:, 39, :].ravel()[row["start"]:][:ROW_NUMBERS].tolist()


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_machine_format_of_a_truncated_report_validates(wide, name):
    report = grade_path(loader.load(wide / "set.yaml"), wide / "wrong_dx.py")
    jsonschema.validate(parsed(name, render(name, report)), schema(SCHEMAS[name]))


def test_full_arrays_without_output_exits_2(wide, capsys):
    assert main(["grade", str(wide / "set.yaml"), str(wide / "wrong_dx.py"), "--full-arrays"]) == 2
    assert capsys.readouterr().err == (
        "bptt-grade: --full-arrays writes the arrays beside the report: give --output FILE too\n")


def test_full_arrays_refuses_a_report_named_like_its_arrays(wide, capsys):
    assert main(["grade", str(wide / "set.yaml"), str(wide / "wrong_dx.py"), "--output",
                 str(wide / "out.npz"), "--full-arrays"]) == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: --full-arrays writes the arrays to {wide / 'out.npz'}, the report's own file: "
        f"name the report otherwise (e.g. {wide / 'out.json'})\n")


def test_a_small_report_file_is_compact_and_keeps_whole_arrays(tmp_path):
    out = tmp_path / "report.json"
    assert main(["grade", str(EXAMPLES.parent / "problem_sets" / "scalar_bptt.yaml"),
                 str(EXAMPLES / "missing_recurrent_term.py"), "--format", "json", "--output", str(out)]) == 1
    text = out.read_text()
    document = json.loads(text)
    assert text == json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n"
    assert not any("truncated" in o for p in document["problems"] for o in p["outputs"].values())
    problems = document["problems"]
    assert [len(p["outputs"]["dL_ds"]["got"]) for p in problems] == [p["T"] for p in problems]


def test_a_report_on_a_terminal_is_indented(monkeypatch, capsys):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    main(["grade", str(EXAMPLES.parent / "problem_sets" / "scalar_bptt.yaml"), str(EXAMPLES / "correct.py"),
          "--format", "json"])
    text = capsys.readouterr().out
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


def test_an_excerpt_of_a_long_scalar_output_keeps_single_elements():
    T = MAX_INLINE_NUMBERS // 2 + 1
    expected = np.zeros(T)
    got = expected.copy()
    got[[99, 1_999]] = [2.0, 1.0]          # t = 100 and t = 2,000, the first divergence in BPTT order
    excerpt = values_json(compare(expected, got, Tolerance(rtol=0.0, atol=1e-9)), per_timestep=True)
    assert [(row["t"], row["start"], row["got"]) for row in excerpt["rows"]] == [
        (1, 0, [0.0]), (100, 0, [2.0]),
        (1_998, 0, [0.0]), (1_999, 0, [0.0]), (2_000, 0, [1.0]), (2_001, 0, [0.0]), (2_002, 0, [0.0])]
    assert excerpt["statistics"] == {"elements": T, "diverging": 2, "diverging_steps": 2, "mean_abs_error": 3.0 / T}


def test_at_most_max_inline_numbers_diverging_timesteps_are_listed():
    T = MAX_INLINE_NUMBERS + 1
    found = compare(np.zeros(T), np.ones(T), Tolerance(rtol=0.0, atol=1e-9))
    listed = output_json(OutputResult("dL_ds", "∂L/∂s_t", 1.0, per_timestep=True, found=found))
    assert listed["diverging_timesteps"] == list(range(T, 1, -1))
    assert listed["statistics"]["diverging_steps"] == T


def test_a_batch_records_where_the_reports_are_not_the_reports(tmp_path):
    (tmp_path / "class" / "ada").mkdir(parents=True)
    for example in ("correct.py", "student_math.py"):
        shutil.copy(EXAMPLES / example, tmp_path / "class" / "ada")
    assert main(["batch", str(EXAMPLES.parent / "problem_sets" / "scalar_bptt.yaml"), str(tmp_path / "class"),
                 "-o", str(tmp_path / "out"), "--format", "json", "--format", "junit", "--jobs", "1"]) == 0
    with closing(sqlite3.connect(tmp_path / "out" / "results.sqlite")) as db:
        (reports,) = db.execute("SELECT reports FROM results WHERE student = 'ada'").fetchone()
    assert json.loads(reports) == {"json": "json/ada.json", "junit": "junit/ada.xml"}
    document = json.loads((tmp_path / "out" / "json" / "ada.json").read_text())
    assert document["score"] == document["max_score"] > 0
