"""Per-term localization of parameter gradients (grader/term_check.py), from the command
line: a parameter gradient checked against the correct sums of the submission's own
∂L/∂s_t — consistent (∂L/∂s_t is what is wrong), or the one term that explains it."""
import json
import shutil
from importlib import resources

import jsonschema

from grader.cli import main
from tests.conftest import EXAMPLES, ROOT, SHIPPED_SET

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


# The scalar model (the seed's): ∂L/∂w = Σ_t h_{t−1}·∂L/∂s_t, ∂L/∂v = Σ_t x_t·∂L/∂s_t,
# ∂L/∂h_0 = w·∂L/∂s_1, checked against the submission's returned ∂L/∂s_t.
SCALAR_PROBLEMS = ["tanh-identity-squared", "single-step", "tanh-sigmoid-bce", "sin-tanh-mse",
                   "softplus-sin-last-step", "relu-identity-squared", "long-sigmoid",
                   "leaky-relu-softplus", "identity-tanh-mse", "sigmoid-relu-squared"]
H0_BELONGS = {"t": 1, "uses": "h_T", "expected": "h_0"}
ONLY_FIRST = {"t": 1, "uses": "only this term", "expected": "the sum over t = 1..T"}


def scalar_report(capsys, example: str, fmt: str = "json"):
    main(["grade", str(SHIPPED_SET), str(EXAMPLES / f"{example}.py"), "--include-hidden", "--format", fmt])
    out = capsys.readouterr().out
    if fmt != "json":
        return out
    report = json.loads(out)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert [p["id"] for p in report["problems"]] == SCALAR_PROBLEMS
    return report


def term_checks(report: dict, name: str) -> list:
    """Per problem: (consistent_with_your_dL_ds, wrong_term) of output `name`, or None where
    it passed or is not graded."""
    return [(o["consistent_with_your_dL_ds"], o.get("wrong_term")) if o and not o["passed"] else None
            for o in (p["outputs"].get(name) for p in report["problems"])]


def test_scalar_dw_whose_first_term_uses_h_T_names_it(capsys):
    report = scalar_report(capsys, "dw_rolled_states")
    # long-sigmoid (T = 200, rtol = 1e-5): four other one-term changes land within the tolerance too
    assert term_checks(report, "dL_dw") == [(False, H0_BELONGS)] * 6 + [(False, None)] + [(False, H0_BELONGS)] * 3
    assert {p["outputs"]["dL_dw"]["dL_ds_used"] for p in report["problems"]} == {"your returned ∂L/∂s_t"}
    assert report["score"] == 75


def test_scalar_dw_without_its_first_term_says_the_term_is_missing(capsys):
    report = scalar_report(capsys, "dw_skips_first_step")
    missing = (False, {"t": 1, "uses": "nothing", "expected": "h_0"})
    # tanh-sigmoid-bce has h_0 = 0: the missing term is zero there
    assert term_checks(report, "dL_dw") == [missing, missing, None] + [missing] * 7
    assert report["score"] == 77


def test_scalar_dw_with_h_t_at_every_step_is_explained_by_no_one_term(capsys):
    report = scalar_report(capsys, "dw_uses_h_t")
    # at T = 1 the only term uses h_1 = h_T
    assert term_checks(report, "dL_dw") == [(False, None), (False, H0_BELONGS)] + [(False, None)] * 8
    text = scalar_report(capsys, "dw_uses_h_t", "text")
    assert "    ∂L/∂w is not the sum of your returned ∂L/∂s_t, and no one term explains it.\n" in text
    assert "    ∂L/∂w is not the sum of your returned ∂L/∂s_t: its term t = 1 uses h_T where h_0 belongs.\n" in text


def test_scalar_gradients_of_a_wrong_recursion_are_consistent_with_it(capsys):
    report = scalar_report(capsys, "missing_recurrent_term")
    assert term_checks(report, "dL_dw") == [(True, None), None] + [(True, None)] * 8
    assert term_checks(report, "dL_dv") == [(True, None), None] + [(True, None)] * 8
    assert term_checks(report, "dL_dh0") == [None, None, None, (True, None), None, None, (True, None), None,
                                             (True, None), None]
    text = scalar_report(capsys, "missing_recurrent_term", "text")
    assert ("    ∂L/∂w is the right sum of your returned ∂L/∂s_t: ∂L/∂s_t is what is wrong, not the sum.\n"
            in text)


def test_scalar_wrong_recursion_and_dw_assigned_are_both_explained(capsys):
    report = scalar_report(capsys, "no_recurrence_nor_accumulation")
    # softplus-sin-last-step: only ∂L/∂s_T ≠ 0, so ∂L/∂s_1·h_0 = 0 is also the sum with t = T dropped
    assert term_checks(report, "dL_dw") == [(False, ONLY_FIRST), None] + [(False, ONLY_FIRST)] * 2 + [
        (False, None)] + [(False, ONLY_FIRST)] * 5
    assert term_checks(report, "dL_dv") == [(True, None), None] + [(True, None)] * 8
    first = report["problems"][0]
    assert [(d["mistake"], d["output"]) for d in first["diagnosis"]] == [
        ("missing_recurrent_term", "dL_ds"), ("missing_recurrent_term", "dL_dv")]
    text = scalar_report(capsys, "no_recurrence_nor_accumulation", "text")
    assert ("    ∂L/∂w is only its term t = 1 (from your returned ∂L/∂s_t), where the sum over t = 1..T belongs: "
            "= instead of += in the loop?\n") in text


def test_scalar_dh0_from_the_wrong_step_names_the_step(tmp_path, capsys):
    source = (EXAMPLES / "correct.py").read_text().replace('"dL_dh0": w * ds[0]', '"dL_dh0": w * ds[-1]')
    shutil.copy(EXAMPLES / "student_math.py", tmp_path)
    (tmp_path / "submission.py").write_text(source)
    main(["grade", str(SHIPPED_SET), str(tmp_path / "submission.py"), "--include-hidden", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    # single-step: ∂L/∂s_T is ∂L/∂s_1, so it passes
    assert term_checks(report, "dL_dh0") == [None, None, None, (False, {"t": 1, "uses": "∂L/∂s_20",
                                                                           "expected": "∂L/∂s_1"}),
                                              None, None, (False, {"t": 1, "uses": "∂L/∂s_200", "expected": "∂L/∂s_1"}),
                                              None, (False, {"t": 1, "uses": "∂L/∂s_50", "expected": "∂L/∂s_1"}), None]


def test_scalar_check_where_dL_ds_is_not_graded_says_so(tmp_path, capsys):
    text = SHIPPED_SET.read_text().replace("grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}",
                                           "grade: {dL_dx: 6, dL_dw: 2, dL_dv: 2}")
    (tmp_path / "set.yaml").write_text(text)
    main(["grade", str(tmp_path / "set.yaml"), str(EXAMPLES / "dw_uses_h_t.py"), "--format", "json"])
    dw = json.loads(capsys.readouterr().out)["problems"][0]["outputs"]["dL_dw"]
    assert (dw["passed"], dw["consistent_with_your_dL_ds"], dw["dL_ds_used"]) == (
        False, None, "∂L/∂s_t is neither returned nor derivable here")
