"""Submission contracts. Sandboxed: a CS231n-style `rnn_layers.py` and a Coursera-style
file are graded unchanged, and what breaks a contract is reported for its problem alone.
In-process: the reference itself scores full marks under every contract and kind, and
∂L/∂s_t derived from dx first diverges exactly where dx does."""
import json
from importlib import resources

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import contracts, loader
from grader.contracts import CONTRACTS, exercise
from grader.grading import grade
from grader.reports import FORMATS
from grader.results import CallOutcome
from grader.scoring import localized, score_outputs, summarise
from grader.submissions import grade_path
from reference.step_product import StepProduct
from tests.conftest import EXAMPLES

REPORT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/report.schema.json").read_text())
CS231N = EXAMPLES / "cs231n" / "rnn_layers.py"
COURSERA = EXAMPLES / "coursera" / "rnn_utils.py"

SET = """\
schema_version: 1
title: {contract}
contract: {contract}
problems:
  - id: sequence
    points: 6
    sizes: {{N: 3, T: 5, D: {D}, H: 3, O: 2}}
    model: {{loss: upstream}}
    params: {{random: {{seed: 1, scale: 0.5}}}}
    data: {{random: {{seed: 2}}}}
    grade: {sequence}
  - id: step
    points: 6
    step: true
    sizes: {{N: 3, T: 1, D: 4, H: 3, O: 2}}
    model: {{loss: upstream}}
    params: {{random: {{seed: 3, scale: 0.5}}}}
    data: {{random: {{seed: 4}}}}
    grade: {step}
  - id: softmax
    points: 6
    sizes: {{N: 2, T: 4, D: 4, H: 3, O: 3}}
    model: {{loss: softmax_cross_entropy}}
    params: {{random: {{seed: 5, scale: 0.5}}}}
    data: {{random: {{seed: 6}}}}
    grade: {sequence}
"""
GRADES = {
    "cs231n": ("{h: 1, dx: 1, dh0: 1, dWx: 1, dWh: 1, db: 1}", "{next_h: 1, dx: 1, dprev_h: 1, dWx: 1, dWh: 1, db: 1}"),
    "coursera": ("{a: 1, y_pred: 1, dx: 1, da0: 1, dWax: 1, dWaa: 1}",
                 "{a_next: 1, yt_pred: 1, dxt: 1, da_prev: 1, dWax: 1, dba: 1}"),
}


def write_set(tmp_path, contract: str, D: int = 4) -> str:
    sequence, step = GRADES[contract]
    path = tmp_path / f"{contract}.yaml"
    path.write_text(SET.format(contract=contract, D=D, sequence=sequence, step=step))
    return str(path)


def graded(tmp_path, contract, submission, D=4):
    report = grade(loader.load(write_set(tmp_path, contract, D)), submission, include_hidden=True)
    jsonschema.validate(json.loads(FORMATS["json"](report)), REPORT_SCHEMA)
    return report


@pytest.mark.parametrize("contract, submission", [("cs231n", CS231N), ("coursera", COURSERA)])
def test_a_course_style_file_is_graded_unchanged(tmp_path, contract, submission):
    report = graded(tmp_path, contract, submission)
    assert [(p.id, p.status, p.score) for p in report.problems] == [
        ("sequence", "passed", 6), ("step", "passed", 6), ("softmax", "passed", 6)]


@pytest.mark.parametrize("contract, submission", [("cs231n", CS231N), ("coursera", COURSERA)])
def test_forward_values_come_first_then_dL_ds_derived_from_dx(tmp_path, contract, submission):
    sequence = graded(tmp_path, contract, submission).problems[0]
    names = [o.name for o in sequence.outputs]
    forward = {"cs231n": ["h"], "coursera": ["a", "y_pred"]}[contract]
    assert names[:len(forward) + 1] == forward + ["dL_ds"]
    derived = sequence.outputs[len(forward)]
    assert (derived.derived_from, derived.localization, derived.points, derived.passed) == ("dx", "full", 0, True)


def test_a_missing_function_fails_the_problems_that_call_it(tmp_path, write_submission):
    source = "def rnn_step_forward(*a):\n    pass\n\ndef rnn_step_backward(*a):\n    pass\n"
    report = graded(tmp_path, "cs231n", write_submission(source))
    assert [p.message for p in report.problems] == [
        "the submission defines no function 'rnn_forward'",
        "the submission returned a NoneType from rnn_step_forward, not the tuple (next_h, cache)",
        "the submission defines no function 'rnn_forward'"]


def test_missing_step_functions_fail_only_the_step_problem(tmp_path, write_submission):
    source = CS231N.read_text().replace("def rnn_step_forward(", "def step_forward(").replace(
        "rnn_step_forward(x[:, t, :]", "step_forward(x[:, t, :]")
    report = graded(tmp_path, "cs231n", write_submission(source))
    assert [(p.status, p.message) for p in report.problems] == [
        ("passed", "every graded output matches"),
        ("error", "the submission defines no function 'rnn_step_forward'"),
        ("passed", "every graded output matches")]


@pytest.mark.parametrize("contract, old, new, message", [
    ("cs231n", "return dx, dh0, dWx, dWh, db", "return dx, dh0, dWx, dWh",
     "the submission returned 4 values from rnn_backward, not the 5 of (dx, dh0, dWx, dWh, db)"),
    ("cs231n", "return h, cache", "return h",
     "the submission returned a ndarray from rnn_forward, not the tuple (h, cache)"),
    ("coursera", 'return {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}',
     "return dx, da0, dWax, dWaa, dba", "the submission returned a tuple from rnn_backward, not a dict of gradients"),
])
def test_a_return_that_breaks_the_contract_is_an_error_for_its_problem(tmp_path, write_submission,
                                                                       contract, old, new, message):
    source = (CS231N if contract == "cs231n" else COURSERA).read_text()
    assert old in source
    report = graded(tmp_path, contract, write_submission(source.replace(old, new)))
    assert [(p.status, p.message) for p in report.problems] == [
        ("error", message), ("passed", "every graded output matches"), ("error", message)]


def test_a_missing_gradient_in_coursera_dict_is_that_output_alone(tmp_path, write_submission):
    source = COURSERA.read_text().replace('return {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}',
                            'return {"dx": dx, "da0": da0, "dWax": dWax, "dba": dba}')
    sequence = graded(tmp_path, "coursera", write_submission(source)).problems[0]
    assert (sequence.status, sequence.score, sequence.message) == ("error", 5, "dWaa is missing")


def test_the_cache_stays_in_the_child_whatever_it_holds(tmp_path, write_submission):
    source = CS231N.read_text().replace("cache = (x, prev_h, Wx, Wh, next_h)",
                                        "cache = (x, prev_h, Wx, Wh, next_h, lambda: None, (i for i in []))")
    source = source.replace("x, prev_h, Wx, Wh, next_h = cache", "x, prev_h, Wx, Wh, next_h, _, _ = cache")
    assert graded(tmp_path, "cs231n", write_submission(source)).score == 18


def test_a_wrong_forward_is_reported_first_in_forward_order(tmp_path, write_submission):
    source = CS231N.read_text().replace("prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h,",
                                        "prev_h, step_cache = rnn_step_forward(x[:, t, :], h0,")
    sequence = graded(tmp_path, "cs231n", write_submission(source)).problems[0]
    h = sequence.outputs[0]
    assert (h.name, h.comparison.order, h.comparison.first_divergence) == ("h", "forward", 2)
    assert h.comparison.diverging_timesteps == [2, 3, 4, 5]
    assert sequence.message.startswith("h first diverges at t = 2 (forward order); ")


# --- in-process ---------------------------------------------------------------------------

def reference_outcome(ex) -> CallOutcome:
    return CallOutcome(outputs={name: np.array(value) for name, value in ex.expected.items()})


def vector_problem(tmp_path, contract, kind, D=4, H=3):
    """Every output of the contract graded but the output layer's (upstream loss); min-char-rnn's
    own problem (T = 6 characters over a vocab of D), every output graded."""
    call = CONTRACTS[contract].calls[kind]
    char = contract == "min-char-rnn"
    names = [n for n, out in call.outputs.items() if char or out.source not in ("dL_dWy", "dL_dby")]
    head = f"schema_version: 1\ntitle: t\ncontract: {contract}\nproblems:\n  - id: p\n    points: {len(names)}\n"
    grade = f"    grade: {{{', '.join(f'{n}: 1' for n in names)}}}\n"
    if char:
        text = (head + f"    hidden_size: {H}\n    params: {{random: {{seed: 8, scale: 0.6}}}}\n"
                f"    data: {{random: {{seed: 9, T: 6, vocab: {D}}}}}\n" + grade)
    else:
        text = (head + f"    step: {str(kind == 'step').lower()}\n"
                f"    sizes: {{N: 2, T: {1 if kind == 'step' else 6}, D: {D}, H: {H}, O: 2}}\n"
                "    model: {loss: upstream}\n    params: {random: {seed: 8, scale: 0.6}}\n"
                "    data: {random: {seed: 9}}\n" + grade)
    if contract == "trace":
        text = text.replace("    step: false\n", "")
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return loader.load(str(path)).problems[0]


EVERY_VECTOR_CALL = [(c, k) for c in CONTRACTS for k in CONTRACTS[c].calls if k != "scalar"]


def as_large(monkeypatch) -> None:
    """Every problem is beyond KEPT_STATE_NUMBERS: exercises take the large problems' path."""
    monkeypatch.setattr(contracts, "KEPT_STATE_NUMBERS", 0)


def same_arguments(a, b) -> bool:
    """Whether two calls' arguments are the same values bit for bit (nested mappings too)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_arguments(a[k], b[k]) for k in a)
    return np.array_equal(a, b) and np.shape(a) == np.shape(b)


@pytest.mark.parametrize("contract, kind", EVERY_VECTOR_CALL)
def test_a_large_problems_exercise_keeps_no_input_and_asks_the_same(tmp_path, monkeypatch, contract, kind):
    """Beyond KEPT_STATE_NUMBERS an exercise keeps neither the reference values whole nor the
    problem's inputs (x and its target, which `inputs` names), yet makes the same arguments
    and expects the same values: CS231n's dx, kept as ∂L/∂s_t·Wxᵀ, agrees to rounding,
    everything else bit for bit (a trace shows s, so the trace contract's values are whole)."""
    problem = vector_problem(tmp_path, contract, kind)
    kept = exercise(problem, "backward")
    as_large(monkeypatch)
    large = exercise(problem, "backward")
    assert kept.kept is not None and large.kept is None and not kept.inputs
    target = "y" if contract == "min-char-rnn" else "dh"
    assert set(large.inputs) == {"x", target} | ({"dh_direct"} if target == "dh" else set())
    assert not set(large.known) & set(large.inputs)
    assert same_arguments(large.arguments(), kept.arguments())
    assert (large.requested, large.shapes) == (kept.requested, kept.shapes)
    products = {name for name, value in large.expected.items() if isinstance(value, StepProduct)}
    assert products == ({"dx"} if (contract, kind) == ("cs231n", "sequence") else set())   # trace: every value whole
    for name, value in large.expected.items():
        if name in products:
            np.testing.assert_allclose(np.asarray(value), kept.expected[name], rtol=1e-14, atol=1e-15)
        else:
            assert np.array_equal(value, kept.expected[name]), name


def findings(report) -> list:
    """What a report tells a student of each problem: status, score, message, each output's
    first divergence, each diagnosis."""
    return [(p.status, p.score, p.message, [(o.name, o.comparison.first_divergence if o.comparison else None)
                                            for o in p.outputs],
             [(d.mistake, d.output, d.params) for d in p.diagnosis]) for p in report.problems]


@pytest.mark.parametrize("submission", ["rnn_layers", "wrong_tanh_derivative", "dWh_not_accumulated",
                                        "dprev_h_not_carried"])
def test_a_large_problems_path_finds_what_the_kept_path_finds(tmp_path, monkeypatch, submission):
    """Graded on a large problem's path (graded values, dx kept as a product over chunks of
    64 steps, inputs drawn for the call: here T = 70, two chunks), a CS231n submission, right
    or wrong, gets the same statuses, scores, messages, first divergences and diagnoses."""
    path = tmp_path / "set.yaml"
    path.write_text(SET.format(contract="cs231n", D=4, sequence=GRADES["cs231n"][0], step=GRADES["cs231n"][1])
                    .replace("sizes: {N: 3, T: 5,", "sizes: {N: 3, T: 70,"))
    file = EXAMPLES / "cs231n" / f"{submission}.py"
    kept = grade(loader.load(path), file, include_hidden=True)
    as_large(monkeypatch)
    large = grade(loader.load(path), file, include_hidden=True)
    assert findings(large) == findings(kept)
    assert (submission == "rnn_layers") == (large.problems[0].status == "passed")


@pytest.mark.parametrize("large", [False, True])
@pytest.mark.parametrize("contract, kind", EVERY_VECTOR_CALL)
def test_the_reference_itself_scores_full_marks(tmp_path, monkeypatch, contract, kind, large):
    if large:
        as_large(monkeypatch)
    problem = vector_problem(tmp_path, contract, kind)
    ex = exercise(problem, "backward")
    outputs = localized(problem, ex, reference_outcome(ex), score_outputs(problem, ex.expected, reference_outcome(ex)))
    assert summarise(outputs) == ("passed", "every graded output matches")
    assert sum(o.score for o in outputs) == problem.points


def with_dx_changed_at(problem, ex, t: int, change):
    """The reference outcome with dx at step t alone (in the submission's layout) plus change(dx_t)."""
    outcome = reference_outcome(ex)
    dx = outcome.outputs["dx"]
    where = [slice(None)] * dx.ndim
    where[ex.call.outputs["dx"].time_axis] = t - 1
    dx[tuple(where)] += change(dx[tuple(where)])
    return localized(problem, ex, outcome, score_outputs(problem, ex.expected, outcome))


@settings(max_examples=20, deadline=None)
@given(contract=st.sampled_from(["cs231n", "coursera"]), t=st.integers(1, 6))
def test_dx_wrong_at_step_t_derives_dL_ds_first_diverging_at_t(tmp_path_factory, contract, t):
    problem = vector_problem(tmp_path_factory.mktemp("p"), contract, "sequence")
    ex = exercise(problem, "backward")
    changed = with_dx_changed_at(problem, ex, t, lambda dx: 1e-3 * (1 + np.abs(dx)))
    derived = next(o for o in changed if o.name == "dL_ds")
    assert (derived.comparison.first_divergence, derived.comparison.diverging_timesteps) == (t, [t])


@pytest.mark.parametrize("t", [1, 3, 6])
@pytest.mark.parametrize("contract", ["cs231n", "coursera"])
def test_on_a_large_problem_dx_wrong_at_step_t_derives_dL_ds_first_diverging_at_t(tmp_path, monkeypatch, contract, t):
    """The same localization with ∂L/∂x_t expected as a StepProduct (cs231n) and whole (Coursera's layout)."""
    as_large(monkeypatch)
    problem = vector_problem(tmp_path, contract, "sequence")
    ex = exercise(problem, "backward")
    changed = with_dx_changed_at(problem, ex, t, lambda dx: 1e-3 * (1 + np.abs(dx)))
    dx, derived = (next(o for o in changed if o.name == name) for name in ("dx", "dL_ds"))
    assert isinstance(ex.expected["dx"], StepProduct) == (contract == "cs231n")
    assert (dx.comparison.first_divergence, derived.comparison.first_divergence) == (t, t)
    assert derived.comparison.diverging_timesteps == [t]


@settings(max_examples=20, deadline=None)
@given(contract=st.sampled_from(["cs231n", "coursera"]), t=st.integers(1, 6))
def test_a_dx_within_tolerance_never_makes_dL_ds_diverge(tmp_path_factory, contract, t):
    problem = vector_problem(tmp_path_factory.mktemp("p"), contract, "sequence")
    ex = exercise(problem, "backward")
    tolerance = problem.tolerance
    outputs = with_dx_changed_at(problem, ex, t, lambda dx: 0.9 * (tolerance.atol + tolerance.rtol * np.abs(dx)))
    assert all(o.passed for o in outputs)


def test_localization_is_partial_when_D_is_below_H(tmp_path):
    problem = vector_problem(tmp_path, "cs231n", "sequence", D=2, H=4)
    ex = exercise(problem, "backward")
    changed = with_dx_changed_at(problem, ex, 4, lambda dx: 1e-3 * (1 + np.abs(dx)))
    derived = next(o for o in changed if o.name == "dL_ds")
    assert (derived.localization, derived.comparison.first_divergence) == ("partial", 4)
    assert derived.derived.note.startswith(
        "partial: Wx (D = 2, H = 4) has rank 2 < H, so dx_t = ∂L/∂s_t·Wxᵀ shows only")
    assert "a divergence in the other 2 is invisible here" in derived.derived.note


def test_a_folder_submission_is_the_file_that_defines_the_contract_functions(tmp_path):
    folder = tmp_path / "student"
    folder.mkdir()
    (folder / "rnn_layers.py").write_text(CS231N.read_text())
    (folder / "layers.py").write_text("def affine_forward(x, w, b):\n    return x @ w + b, None\n")
    report = grade_path(loader.load(write_set(tmp_path, "cs231n")), folder, include_hidden=True)
    assert (report.submission, report.score) == (str(folder / "rnn_layers.py"), 18)
