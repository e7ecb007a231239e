"""Per-term localization of parameter gradients (grader/term_check.py), from the command
line: a parameter gradient checked against the correct sums of the submission's own
∂L/∂s_t — consistent (∂L/∂s_t is what is wrong), or the one term that explains it."""
import json
import shutil
from importlib import resources

import jsonschema

from grader.cli import main
from tests.conftest import EXAMPLES, ROOT

REPORT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/report.schema.json").read_text())

# BPTT with the states in a buffer whose slot 0 (h_0) the forward overwrote with h_T
H0_SLOT_OVERWRITTEN = '''import numpy as np
from rnn_layers import rnn_forward, rnn_step_forward, rnn_step_backward


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    states = [step[1] for step in cache]            # prev_h of each step: h_0 … h_{T-1}
    states[0] = cache[-1][4]                        # bug: slot 0 reused for h_T
    dx = np.zeros((N, T, cache[0][0].shape[1]))
    dWx = dWh = db = 0.0
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        x, prev_h, Wx, Wh, next_h = cache[t]
        ds = (dh[:, t] + dprev) * (1 - next_h ** 2)
        dx[:, t] = ds @ Wx.T
        dWx, dWh, db = dWx + x.T @ ds, dWh + states[t].T @ ds, db + ds.sum(axis=0)
        dprev = ds @ Wh.T
    return dx, dprev, dWx, dWh, db
'''
# two bugs at once: dprev_h not carried, and dWh assigned (=) in the loop
NO_RECURRENCE_NOR_ACCUMULATION = '''import numpy as np
from rnn_layers import rnn_forward, rnn_step_forward, rnn_step_backward


def rnn_backward(dh, cache):
    dxs, dWx, db = [], 0.0, 0.0
    for t in reversed(range(dh.shape[1])):
        dx, dprev, a, dWh, c = rnn_step_backward(dh[:, t], cache[t])     # bugs: no dprev; dWh =
        dxs.insert(0, dx)
        dWx, db = dWx + a, db + c
    return np.stack(dxs, axis=1), dprev, dWx, dWh, db
'''


def graded(capsys, tmp_path, source: str) -> dict:
    shutil.copy(EXAMPLES / "cs231n" / "rnn_layers.py", tmp_path)
    (tmp_path / "submission.py").write_text(source)
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(tmp_path / "submission.py"),
          "--include-hidden", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, REPORT_SCHEMA)
    return {p["id"]: p for p in report["problems"]}


def test_one_wrong_term_of_dWh_is_named(capsys, tmp_path):
    problems = graded(capsys, tmp_path, H0_SLOT_OVERWRITTEN)
    dWh = problems["gradient-check"]["outputs"]["dWh"]
    assert (dWh["passed"], dWh["consistent_with_your_dL_ds"], dWh["wrong_term"]) == (
        False, False, {"t": 1, "uses": "h_T", "expected": "h_0"})
    assert dWh["dL_ds_used"] == "your ∂L/∂s_t, recovered from dx"
    assert [p["status"] for p in problems.values()] == ["passed"] + ["failed"] * 9     # the step problem has no buffer


def test_where_dL_ds_cannot_be_recovered_the_check_says_so(capsys, tmp_path):
    dWh = graded(capsys, tmp_path, H0_SLOT_OVERWRITTEN)["narrow-input"]["outputs"]["dWh"]
    assert dWh["consistent_with_your_dL_ds"] is None and "wrong_term" not in dWh
    assert dWh["dL_ds_used"].startswith(
        "∂L/∂s_t cannot be recovered from dx: partial: Wx (D = 2, H = 6) has rank 2 < H")


def test_two_combined_bugs_are_both_explained(capsys, tmp_path):
    p = graded(capsys, tmp_path, NO_RECURRENCE_NOR_ACCUMULATION)["small-explicit"]
    assert {d["mistake"] for d in p["diagnosis"]} == {"missing_recurrent_term"}
    assert "dWh" not in {d["output"] for d in p["diagnosis"]}
    outputs = p["outputs"]
    assert outputs["dWh"]["wrong_term"] == {"t": 1, "uses": "only this term", "expected": "the sum over t = 1..T"}
    consistent = [outputs[name]["consistent_with_your_dL_ds"] for name in ("dh0", "dWx", "dWh", "db")]
    assert consistent == [True, True, False, True]


def test_the_text_report_says_what_the_term_check_found(capsys, tmp_path):
    shutil.copy(EXAMPLES / "cs231n" / "rnn_layers.py", tmp_path)
    (tmp_path / "submission.py").write_text(NO_RECURRENCE_NOR_ACCUMULATION)
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(tmp_path / "submission.py")])
    out = capsys.readouterr().out
    assert ("    ∂L/∂Wh is only its term t = 1 (from your ∂L/∂s_t, recovered from dx), where the sum over t = 1..T "
            "belongs: = instead of += in the loop?\n") in out
    assert ("    ∂L/∂Wx is the right sum of your ∂L/∂s_t, recovered from dx: ∂L/∂s_t is what is wrong, "
            "not the sum.\n") in out


def test_dh0_from_the_wrong_step_names_the_step(capsys):
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(EXAMPLES / "cs231n" / "dh0_from_wrong_step.py"),
          "--format", "json"])
    dh0 = json.loads(capsys.readouterr().out)["problems"][1]["outputs"]["dh0"]
    assert (dh0["consistent_with_your_dL_ds"], dh0["wrong_term"]) == (
        False, {"t": 1, "uses": "∂L/∂s_3", "expected": "∂L/∂s_1"})
