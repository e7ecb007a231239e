"""Edge sizes real files crash on: the audit's `coverage` of them over a vector set's
sequence problems (T = 1, N = 1, D < H, D > H, sizes all distinct and none 3), with a
warning for each one missing (the shipped vector sets cover every one); and a crash's
message naming the size that sets it apart, or a size that looks hard-coded."""
import json
import shutil
from importlib import resources

import jsonschema
import pytest

from grader.cli import main
from tests.conftest import EXAMPLES, ROOT

AUDIT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/audit.schema.json").read_text())
FULL = {"T1": True, "N1": True, "D_lt_H": True, "D_gt_H": True, "distinct_sizes": True}


def audited(capsys, path, fmt="json"):
    code = main(["audit", str(path), "--format", fmt])
    out = capsys.readouterr().out
    return code, (json.loads(out) if fmt == "json" else out)


@pytest.mark.parametrize("name", ["cs231n_rnn.yaml", "coursera_rnn.yaml", "vector_trace.yaml"])
def test_each_shipped_vector_set_covers_every_edge_size(capsys, name):
    code, report = audited(capsys, ROOT / "problem_sets" / name)
    jsonschema.validate(report, AUDIT_SCHEMA)
    assert (code, report["coverage"], report["warnings"]) == (0, FULL, [])
    _, text = audited(capsys, ROOT / "problem_sets" / name, "text")
    assert ("coverage of the sequence problems: T = 1 ✓, N = 1 ✓, D < H ✓, D > H ✓, "
            "N, T, D, H distinct and none 3 ✓\n") in text


def test_a_scalar_set_has_no_coverage(capsys):
    _, report = audited(capsys, ROOT / "problem_sets" / "scalar_bptt.yaml")
    assert report["coverage"] is None


def test_a_set_without_edge_sizes_gets_a_warning_for_each(capsys, tmp_path):
    path = tmp_path / "square.yaml"
    path.write_text("schema_version: 1\ntitle: t\ncontract: cs231n\nproblems:\n"
                    "  - id: p\n    points: 1\n    sizes: {N: 3, T: 4, D: 3, H: 3}\n    model: {loss: upstream}\n"
                    "    params: {random: {seed: 1, scale: 0.5}}\n    data: {random: {seed: 2}}\n    grade: {dx: 1}\n")
    _, report = audited(capsys, path)
    jsonschema.validate(report, AUDIT_SCHEMA)
    assert report["coverage"] == {key: False for key in FULL}
    assert [w for w in report["warnings"] if w.startswith("no sequence problem")] == [
        "no sequence problem has T = 1: code that fails only on a single step (per-step results stacked that stay "
        "2-D, D read from cache[1]) scores full marks",
        "no sequence problem has N = 1: code that squeezes the batch axis scores full marks",
        "no sequence problem has D < H: code that confuses D and H may score full marks",
        "no sequence problem has D > H: code that confuses D and H may score full marks",
        "no sequence problem has N, T, D, H all distinct and none 3: a size hard-coded while debugging, or two sizes "
        "swapped, may score full marks"]
    _, text = audited(capsys, path, "text")
    assert ("coverage of the sequence problems: T = 1 ✗, N = 1 ✗, D < H ✗, D > H ✗, "
            "N, T, D, H distinct and none 3 ✗") in text
    assert "warning: no sequence problem has N = 1: code that squeezes the batch axis scores full marks" in text


# Crash triggers: a problem that raises while problems of other sizes ran says which size sets it apart.
READS_D_FROM_STEP_2 = '''import numpy as np
from rnn_layers import rnn_forward, rnn_step_forward, rnn_step_backward


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[1][0].shape[1]                  # bug: the second step's cache, which T = 1 lacks
    dx, dprev, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((N, H)), 0, 0, 0
    for t in reversed(range(T)):
        dx[:, t], dprev, a, b, c = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dWx, dWh, db = dWx + a, dWh + b, db + c
    return dx, dprev, dWx, dWh, db
'''
D_HARD_CODED = '''from rnn_layers import rnn_forward, rnn_step_forward, rnn_step_backward
from rnn_layers import rnn_backward as _correct


def rnn_backward(dh, cache):
    dx, dh0, dWx, dWh, db = _correct(dh, cache)
    return dx.reshape(dh.shape[0], dh.shape[1], 6), dh0, dWx, dWh, db      # bug: D = 6 hard-coded
'''


def graded_problems(capsys, tmp_path, source: str) -> dict:
    shutil.copy(EXAMPLES / "cs231n" / "rnn_layers.py", tmp_path)
    (tmp_path / "submission.py").write_text(source)
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(tmp_path / "submission.py"),
          "--include-hidden", "--format", "json"])
    return {p["id"]: p for p in json.loads(capsys.readouterr().out)["problems"]}


def test_a_vector_problem_line_gives_N_T_D_H(capsys):
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(EXAMPLES / "cs231n" / "rnn_layers.py")])
    out = capsys.readouterr().out
    assert "small-explicit: 10/10 passed (N = 2, T = 3, D = 4, H = 3) — every graded output matches\n" in out
    main(["grade", str(ROOT / "problem_sets" / "scalar_bptt.yaml"), str(EXAMPLES / "correct.py")])
    assert "tanh-identity-squared: 10/10 passed (T = 4) — every graded output matches\n" in capsys.readouterr().out


def test_a_crash_only_at_T_1_says_so(capsys, tmp_path):
    problems = graded_problems(capsys, tmp_path, READS_D_FROM_STEP_2)
    assert problems["one-step"]["sizes"] == {"N": 4, "T": 1, "D": 6, "H": 5}
    assert (problems["one-step"]["status"], problems["one-step"]["message"]) == (
        "error", "the submission raised IndexError during the call: list index out of range; raises only where "
                 "T = 1; the 8 problems with T ≥ 3 ran")
    assert [p["status"] for i, p in problems.items() if i != "one-step"] == ["passed"] * 9


def test_a_hard_coded_size_is_pointed_out(capsys, tmp_path):
    problems = graded_problems(capsys, tmp_path, D_HARD_CODED)
    assert problems["small-explicit"]["message"] == (
        "the submission raised ValueError during the call: cannot reshape array of size 24 into shape (2,3,6); "
        "raises only where D ≠ 6; the 3 problems with D = 6 ran; 6 in this error is none of N, T, D, H here: "
        "a hard-coded size?")
    passed = [i for i, p in problems.items() if p["status"] == "passed"]
    assert passed == ["step", "gradient-check", "char-rnn", "one-step"]
