"""Per-term localization of parameter gradients (grader/term_check.py), from the command
line: a parameter gradient checked against the correct sums of the submission's own
∂L/∂s_t — consistent (∂L/∂s_t is what is wrong), or the one term that explains it."""
import json
import shutil
import typing
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

import grader.contracts
from grader import loader
from grader.cli import main
from grader.grading import prepare_exercises
from grader.results import DLdsMethod
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
    assert (dWh["dL_ds_used"], dWh["dL_ds_method"]) == ("your ∂L/∂s_t, recovered from dx", "from_dx")
    assert [p["status"] for p in problems.values()] == ["passed"] + ["failed"] * 9     # the step problem has no buffer


PARTIAL = ("∂L/∂s_t cannot be recovered from dx: partial: Wx (D = 2, H = 6) has rank 2 < H, so dx_t = ∂L/∂s_t·Wxᵀ "
           "shows only the part of ∂L/∂s_t in 2 of its 6 directions; that part is compared, and a divergence in the "
           "other 4 is invisible here")


def test_where_dx_shows_part_of_dL_ds_a_probing_call_recovers_it(capsys, tmp_path):
    dWh = graded(capsys, tmp_path, H0_SLOT_OVERWRITTEN)["narrow-input"]["outputs"]["dWh"]
    assert (dWh["consistent_with_your_dL_ds"], dWh["wrong_term"], dWh["dL_ds_method"]) == (
        False, {"t": 1, "uses": "h_T", "expected": "h_0"}, "probing")
    assert dWh["dL_ds_used"] == ("your ∂L/∂s_t, recovered by a probing call "
                                 "(dx with x widened by H zero features and Wx by the identity)")


def test_where_the_probing_call_fails_the_check_says_why(capsys, tmp_path):
    rejects_eight_inputs = H0_SLOT_OVERWRITTEN.replace(
        "    N, T, H = dh.shape\n",
        "    N, T, H = dh.shape\n    if cache[0][0].shape[1] == 8:\n        raise ValueError('a hard-coded size')\n")
    p = graded(capsys, tmp_path, rejects_eight_inputs)["narrow-input"]
    dWh = p["outputs"]["dWh"]
    assert (dWh["consistent_with_your_dL_ds"], "wrong_term" in dWh, dWh["dL_ds_method"]) == (None, False, None)
    assert dWh["dL_ds_used"] == PARTIAL + "; the probing call raised ValueError during the call: a hard-coded size"
    assert (p["status"], p["score"]) == ("failed", 8)
    ds = p["outputs"]["dL_ds"]
    assert (ds["localization"], "∂L/∂s_t cannot be recovered from dx: " + ds["note"]) == ("partial", dWh["dL_ds_used"])


def narrow_input(capsys, contract: str, example: str, fmt: str = "json", problem_set: Path | None = None):
    """The narrow-input problem (D = 2 < H = 6) of `example` graded on the contract's shipped
    set (or `problem_set`): its JSON, or the whole text report."""
    main(["grade", str(problem_set or ROOT / "problem_sets" / f"{contract}_rnn.yaml"),
          str(EXAMPLES / contract / f"{example}.py"), "--include-hidden", "--format", fmt])
    out = capsys.readouterr().out
    if fmt != "json":
        return out
    report = json.loads(out)
    jsonschema.validate(report, REPORT_SCHEMA)
    return next(p for p in report["problems"] if p["id"] == "narrow-input")


PROBED_NOTE = ("recovered by a probing call (x widened by H zero features and Wx by the identity): the last H features "
               "of its dx are ∂L/∂s_t, whatever D")


@pytest.mark.parametrize(("contract", "example", "score", "gradients"), [
    ("cs231n", "dprev_h_not_carried", 2, "dh0 differs; dWx differs; dWh differs; db differs"),
    ("coursera", "da_prev_not_carried", 3, "da0 differs; dWax differs; dWaa differs; dba differs")])
def test_where_dx_shows_part_of_dL_ds_the_probing_call_localizes_it_fully(capsys, contract, example, score,
                                                                          gradients):
    p = narrow_input(capsys, contract, example)
    ds = p["outputs"]["dL_ds"]
    assert (ds["derived_from"], ds["localization"], ds["note"], ds["points"], ds["passed"]) == (
        "dx", "full", PROBED_NOTE, 0, False)
    assert (ds["first_divergence"], ds["diverging_timesteps"]) == ({"t": 6, "order": "backward"}, [6, 5, 4, 3, 2, 1])
    assert (p["status"], p["score"], p["message"]) == ("failed", score, (
        f"dL_ds (derived from dx by a probing call) first diverges at t = 6; dx first diverges at t = 6; {gradients}"))
    assert [d["output"] for d in p["diagnosis"] if d["mistake"] == "missing_recurrent_term"][0] == "dL_ds"


def test_the_text_table_of_a_probed_dL_ds_states_the_method(capsys, tmp_path):
    visible = tmp_path / "visible.yaml"
    text = (ROOT / "problem_sets" / "cs231n_rnn.yaml").read_text()
    start = text.index("  - id: narrow-input")
    visible.write_text(text[:start] + text[start:].replace("visibility: hidden", "visibility: visible", 1))
    out = narrow_input(capsys, "cs231n", "dprev_h_not_carried", "text", visible)
    lines = out.splitlines()
    table = lines.index("  ∂L/∂s_t (derived from dx by a probing call), diverging at 6 of 7 steps:")
    assert [line.split()[0] for line in lines[table + 2:table + 6]] == ["7", "6", "5", "4"]
    assert lines[table + 3].endswith("← first divergence")
    assert "Localization is partial" not in out


def test_probing_changes_no_score_or_status_and_only_the_method_in_a_message(capsys, tmp_path, monkeypatch):
    probed = graded(capsys, tmp_path, (EXAMPLES / "cs231n" / "dprev_h_not_carried.py").read_text())
    monkeypatch.setattr(grader.contracts, "probe", lambda *args: None)
    unprobed = graded(capsys, tmp_path, (EXAMPLES / "cs231n" / "dprev_h_not_carried.py").read_text())
    assert unprobed["narrow-input"]["outputs"]["dWh"]["dL_ds_used"] == PARTIAL
    assert (unprobed["narrow-input"]["outputs"]["dL_ds"]["localization"],
            probed["narrow-input"]["outputs"]["dL_ds"]["localization"]) == ("partial", "full")
    assert {i: (p["status"], p["score"], p["message"]) for i, p in probed.items()} == {
        i: (p["status"], p["score"], p["message"].replace("(derived from dx, partial)",
                                                         "(derived from dx by a probing call)"))
        for i, p in unprobed.items()}


def test_a_probing_call_localizes_dL_ds_where_no_parameter_gradient_is_graded(capsys, tmp_path):
    text = (ROOT / "problem_sets" / "cs231n_rnn.yaml").read_text()
    (tmp_path / "set.yaml").write_text(text.replace("grade: {h: 2, dx: 2, dh0: 1, dWx: 2, dWh: 2, db: 1}",
                                                    "grade: {h: 5, dx: 5}"))
    p = narrow_input(capsys, "cs231n", "dprev_h_not_carried", problem_set=tmp_path / "set.yaml")
    ds = p["outputs"]["dL_ds"]
    assert (ds["localization"], ds["first_divergence"], p["score"]) == ("full", {"t": 6, "order": "backward"}, 5)


def test_the_shipped_sets_probe_only_where_wx_has_rank_below_h():
    for name in ("cs231n_rnn.yaml", "coursera_rnn.yaml", "vector_trace.yaml", "min_char_rnn.yaml"):
        exercises = prepare_exercises(loader.load(ROOT / "problem_sets" / name), include_hidden=True)
        probed = {ex.problem.id: (ex.probe.features, ex.probe.shapes) for ex in exercises if ex.probe}
        assert probed == {"cs231n_rnn.yaml": {"narrow-input": (2, {"h": (5, 7, 6), "dx": (5, 7, 8)})},
                          "coursera_rnn.yaml": {"narrow-input": (2, {"a": (6, 5, 7), "y_pred": (4, 5, 7),
                                                                     "dx": (8, 5, 7)})}}.get(name, {}), name


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
    # softplus-sin-last-step: BPTT truncated after 9 steps gives the same ∂L/∂w there, but not the
    # returned ∂L/∂s_t, which is right
    assert [p["diagnosis"] for p in report["problems"]] == [[]] * 10


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


def graded_with_dx(tmp_path, capsys, example: str, set_text: str, fmt: str = "json"):
    """Example `example` returning ∂L/∂x_t = v·∂L/∂s_t too, graded on a set of `set_text`."""
    source = (EXAMPLES / f"{example}.py").read_text()
    (tmp_path / "submission.py").write_text(
        source.replace('return {"dL_ds": ds, ', 'return {"dL_ds": ds, "dL_dx": trace["v"] * ds, '))
    shutil.copy(EXAMPLES / "student_math.py", tmp_path)
    (tmp_path / "set.yaml").write_text(set_text)
    main(["grade", str(tmp_path / "set.yaml"), str(tmp_path / "submission.py"), "--include-hidden",
          "--format", fmt])
    out = capsys.readouterr().out
    return json.loads(out) if fmt == "json" else out


# the six problems of the shipped set that grade {dL_ds: 6, dL_dw: 2, dL_dv: 2} grade dL_dx in its place
DX_NOT_DS = SHIPPED_SET.read_text().replace("grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}",
                                            "grade: {dL_dx: 6, dL_dw: 2, dL_dv: 2}")
GRADES_DX = [True, False, True, False, True, True, False, True, False, True]
RECOVERED = "your ∂L/∂s_t, recovered from dL_dx"


def test_scalar_dL_ds_recovered_from_a_graded_dL_dx_names_the_wrong_term(tmp_path, capsys):
    report = graded_with_dx(tmp_path, capsys, "dw_rolled_states", DX_NOT_DS)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert term_checks(report, "dL_dw") == [(False, H0_BELONGS)] * 6 + [(False, None)] + [(False, H0_BELONGS)] * 3
    dws = [p["outputs"]["dL_dw"] for p in report["problems"]]
    assert [(dw["dL_ds_method"], dw["dL_ds_used"]) for dw in dws] == [
        ("from_dx", RECOVERED) if dx else ("returned", "your returned ∂L/∂s_t") for dx in GRADES_DX]
    ds = report["problems"][0]["outputs"]["dL_ds"]
    assert list(report["problems"][0]["outputs"]) == ["dL_ds", "dL_dx", "dL_dw", "dL_dv"]
    assert {key: ds[key] for key in ("passed", "points", "derived", "derived_from", "localization", "note")} == {
        "passed": True, "points": 0.0, "derived": True, "derived_from": "dL_dx", "localization": "full",
        "note": "recovered from dL_dx as ∂L/∂x_t / v: ∂L/∂x_t = v·∂L/∂s_t and v ≠ 0"}
    assert [p["outputs"]["dL_ds"].get("derived", False) for p in report["problems"]] == GRADES_DX
    assert [p["diagnosis"] for p in report["problems"] if p["id"] != "single-step"] == [[]] * 9
    assert report["score"] == 75


def test_scalar_wrong_recursion_is_located_on_dL_ds_recovered_from_dL_dx(tmp_path, capsys):
    first = graded_with_dx(tmp_path, capsys, "no_recurrence_nor_accumulation", DX_NOT_DS)["problems"][0]
    outputs = first["outputs"]
    assert (first["status"], first["score"], first["message"]) == (
        "failed", 0.0, "dL_ds (derived from dL_dx) first diverges at t = 3; dL_dx first diverges at t = 3; "
                       "dL_dw differs; dL_dv differs")
    assert [(d["mistake"], d["output"]) for d in first["diagnosis"]] == [
        ("missing_recurrent_term", "dL_ds"), ("missing_recurrent_term", "dL_dx"), ("missing_recurrent_term", "dL_dv")]
    assert (outputs["dL_dw"]["dL_ds_used"], outputs["dL_dw"]["wrong_term"]) == (RECOVERED, ONLY_FIRST)
    assert (outputs["dL_dv"]["dL_ds_used"], outputs["dL_dv"]["consistent_with_your_dL_ds"]) == (RECOVERED, True)
    text = graded_with_dx(tmp_path, capsys, "no_recurrence_nor_accumulation", DX_NOT_DS, "text")
    assert "  ∂L/∂s_t (derived from dL_dx), diverging at 3 of 4 steps:\n" in text


@pytest.mark.parametrize("v", ["0.0", "1.0e-310"])      # v·∂L/∂s_t below the normal floats keeps fewer digits
def test_scalar_dL_ds_is_not_recovered_where_v_is_zero_or_subnormal(tmp_path, capsys, v):
    text = DX_NOT_DS.replace("params: {w: 0.8, v: -0.5, h0: 0.1}", f"params: {{w: 0.8, v: {v}, h0: 0.1}}")
    outputs = graded_with_dx(tmp_path, capsys, "dw_rolled_states", text)["problems"][0]["outputs"]
    assert list(outputs) == ["dL_dx", "dL_dw", "dL_dv"]
    dw = outputs["dL_dw"]
    assert (dw["consistent_with_your_dL_ds"], dw["dL_ds_method"], dw["dL_ds_used"]) == (
        None, None, "∂L/∂s_t is neither returned nor derivable here")


def test_scalar_check_where_neither_dL_ds_nor_dL_dx_is_graded_says_so(tmp_path, capsys):
    text = SHIPPED_SET.read_text().replace("grade: {dL_ds: 6, dL_dw: 2, dL_dv: 2}", "grade: {dL_dw: 5, dL_dv: 5}")
    outputs = graded_with_dx(tmp_path, capsys, "dw_rolled_states", text)["problems"][0]["outputs"]
    assert list(outputs) == ["dL_dw", "dL_dv"]              # dL_dx is not asked for: the problem does not grade it
    assert (outputs["dL_dw"]["passed"], outputs["dL_dw"]["consistent_with_your_dL_ds"],
            outputs["dL_dw"]["dL_ds_used"]) == (False, None, "∂L/∂s_t is neither returned nor derivable here")


def test_vector_trace_dL_ds_recovered_from_a_graded_dL_dx(capsys, tmp_path):
    text = (ROOT / "problem_sets" / "vector_trace.yaml").read_text().replace(
        "grade: {dL_ds: 4, dL_dWh: 2, dL_dWy: 2, dL_dby: 1, dL_dx: 1}",
        "grade: {dL_dWh: 2, dL_dWy: 2, dL_dby: 1, dL_dx: 5}")
    (tmp_path / "set.yaml").write_text(text)
    main(["grade", str(tmp_path / "set.yaml"), str(EXAMPLES / "vector_trace" / "dWh_uses_h_t.py"), "--format", "json"])
    outputs = json.loads(capsys.readouterr().out)["problems"][1]["outputs"]     # sigmoid-squared: D = 4, H = 3
    assert (outputs["dL_ds"]["passed"], outputs["dL_ds"]["derived_from"], outputs["dL_ds"]["localization"]) == (
        True, "dL_dx", "full")
    dWh = outputs["dL_dWh"]
    assert (dWh["consistent_with_your_dL_ds"], dWh["dL_ds_method"], dWh["dL_ds_used"]) == (False, "from_dx", RECOVERED)


def test_vector_trace_probes_where_dL_dx_shows_part_of_dL_ds(capsys, tmp_path):
    text = (ROOT / "problem_sets" / "vector_trace.yaml").read_text().replace(
        "grade: {dL_ds: 4, dL_dx: 1, dL_dWx: 1, dL_dWh: 2, dL_db: 1, dL_dh0: 1}",
        "grade: {dL_dx: 5, dL_dWx: 1, dL_dWh: 2, dL_db: 1, dL_dh0: 1}")
    (tmp_path / "set.yaml").write_text(text)
    main(["grade", str(tmp_path / "set.yaml"), str(EXAMPLES / "vector_trace" / "dWh_uses_h_t.py"), "--include-hidden",
          "--format", "json"])
    p = json.loads(capsys.readouterr().out)["problems"][4]                      # every-gradient: D = 5, H = 6
    assert (p["id"], p["status"], p["message"], p["outputs"]["dL_ds"]["localization"]) == (
        "every-gradient", "failed", "dL_dWh differs", "full")
    dWh = p["outputs"]["dL_dWh"]
    assert (dWh["consistent_with_your_dL_ds"], dWh["dL_ds_method"], dWh["dL_ds_used"]) == (
        False, "probing", "your ∂L/∂s_t, recovered by a probing call (dL_dx with x widened by H zero features and Wx "
                          "by the identity)")


def test_a_returned_dL_ds_is_used_as_returned(capsys):
    main(["grade", str(ROOT / "problem_sets" / "vector_trace.yaml"), str(EXAMPLES / "vector_trace" / "dWh_uses_h_t.py"),
          "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(report, REPORT_SCHEMA)
    dWh = report["problems"][0]["outputs"]["dL_dWh"]
    assert (dWh["consistent_with_your_dL_ds"], dWh["dL_ds_method"], dWh["dL_ds_used"]) == (
        False, "returned", "your returned ∂L/∂s_t")


def test_the_schema_knows_every_dL_ds_method():
    output = REPORT_SCHEMA["$defs"]["output"]["properties"]["dL_ds_method"]
    assert output["enum"] == ["returned", "from_dx", "probing", None]
    assert list(typing.get_args(DLdsMethod)) == output["enum"][:-1]
