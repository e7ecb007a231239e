"""The catalogue's vector forms (reference/vector_mistakes.py): a mistake's gradients,
returned as a submission under each contract would return them, are diagnosed as that
mistake wherever they fail; and the audit of every shipped vector set catches each one."""
import json
from dataclasses import replace
from importlib import resources

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import loader
from grader.audit import FORMATS, audit
from grader.contracts import CONTRACTS, exercise, mistakes_of
from grader.diagnosis import MistakeRuns, diagnose
from grader.problem_data import Given
from grader.problem_set import VectorProblem
from grader.results import CallOutcome
from grader.scoring import localized, score_outputs
from reference import vector, vector_mistakes
from reference.vector import UPSTREAM, Params
from reference.vector_mistakes import VECTOR_MISTAKES
from tests.conftest import ROOT

AUDIT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/audit.schema.json").read_text())
VECTOR_SETS = ["cs231n_rnn.yaml", "coursera_rnn.yaml", "vector_trace.yaml"]


def problem(contract: str, phi: str, T: int, seed: int, D: int = 4) -> VectorProblem:
    """N = 3, H = 3, O = 2, upstream loss; every output of the contract graded. For
    min-char-rnn its own model: N = 1, tanh, one-hot x_t and y_t over D = O characters and
    the softmax cross-entropy, every output graded."""
    rng = np.random.default_rng(seed)
    char = contract == "min-char-rnn"
    N, H, O = (1, 3, D) if char else (3, 3, 2)
    call = CONTRACTS[contract].calls["sequence"]
    grade = {name: 1.0 for name, out in call.outputs.items() if char or out.source not in ("dL_dWy", "dL_dby")}
    params = Params(*(rng.normal(0, 0.6, shape) for shape in [(D, H), (H, H), (H,), (N, H), (H, O), (O,)]))
    if char:
        x, y = np.eye(D)[rng.integers(0, D, (2, 1, T))]
        return VectorProblem(id="p", title="p", points=len(grade), visibility="visible", contract=contract,
                             step=False, phi="tanh", theta="identity", loss="softmax_cross_entropy", params=params,
                             data=Given(x, y), grade=grade)
    return VectorProblem(id="p", title="p", points=len(grade), visibility="visible", contract=contract, step=False,
                         phi=phi, theta=None, loss=UPSTREAM, params=params,
                         data=Given(rng.normal(size=(N, T, D)), rng.normal(size=(N, T, H))), grade=grade)


@pytest.mark.parametrize("mistake", list(VECTOR_MISTAKES))
@pytest.mark.parametrize("contract", list(CONTRACTS))
@settings(max_examples=6, deadline=None)
@given(phi=st.sampled_from(["tanh", "sigmoid", "sin", "softplus"]), T=st.integers(1, 6), D=st.sampled_from([3, 4]),
       seed=st.integers(0, 2**32 - 1))
def test_grading_a_vector_mistake_diagnoses_it_wherever_it_shows(mistake, contract, phi, T, D, seed):
    """On every graded output it changes (and on ∂L/∂s_t derived from dx where it changes ∂L/∂s_t)."""
    ex = exercise(problem(contract, phi, T, seed, D), "backward")
    if mistake not in mistakes_of(ex.problem):      # min-char-rnn returns no dx or dh0 and has no batch
        return
    entry = VECTOR_MISTAKES[mistake]
    f, values = ex.reference()
    changed = entry.run(ex.problem.rnn, f, values).of(entry.audit_params)
    if changed is None:         # recurrence_uses_Wx where D ≠ H, truncated_recursion where T ≤ 3
        assert entry.blind_spot(ex.problem.rnn, f)
        return
    outputs = ex.call.outputs
    returned = {name: outputs[name].layout.to_submission(changed[outputs[name].source])
                if outputs[name].source in changed else ex.expected[name] for name in ex.requested}
    outcome = CallOutcome(outputs=returned)
    graded = localized(ex.problem, ex, outcome, score_outputs(ex.problem, ex.expected, outcome))
    named = {(d.mistake, d.output) for d in diagnose(ex, graded)}
    assert {(mistake, o.name) for o in graded
            if not o.passed and (o.derived_from is None or "dL_ds" in entry.outputs)} <= named


@pytest.mark.parametrize("name", VECTOR_SETS)
def test_each_vector_mistake_is_caught_by_a_visible_and_a_hidden_problem(name):
    result = audit(loader.load(str(ROOT / "problem_sets" / name)))
    # a contract that passes the upstream gradient leaves the output layer to the grader
    passes_upstream = name != "vector_trace.yaml"
    assert list(result.catalogue) == [m for m, e in VECTOR_MISTAKES.items()
                                      if not (passes_upstream and e.in_output_layer)]
    assert result.undetected == [] and result.not_caught_by_visible == [] and result.warnings == []
    for mistake in result.catalogue:
        assert any(p.hidden for p in result.catchers(mistake)), mistake


def test_the_vector_audit_says_why_a_step_problem_misses_a_recursion_mistake():
    result = audit(loader.load(str(ROOT / "problem_sets" / "cs231n_rnn.yaml")))
    report = json.loads(FORMATS["json"](result))
    jsonschema.validate(report, AUDIT_SCHEMA)
    assert report["problems"]["step"]["missing_recurrent_term"] == {
        "detects": False, "first_divergence": None, "outputs": [], "why_not": "T = 1"}
    assert report["problems"]["gradient-check"]["missing_recurrent_term"]["first_divergence"] == 9


def test_a_set_of_both_models_audits_each_problem_with_its_own_catalogue(tmp_path):
    scalar = ("  - id: s\n    points: 1\n    model: {phi: tanh, theta: sigmoid, loss: squared_error}\n"
              "    params: {w: 0.5, v: 1.0}\n    data: {x: [1.0, 0.5, -0.3], y: [0.0, 1.0, 0.5]}\n"
              "    grade: {dL_ds: 1}\n")
    vector = ("  - id: v\n    points: 1\n    sizes: {N: 2, T: 3, D: 3, H: 2}\n    model: {loss: upstream}\n"
              "    params: {random: {seed: 1, scale: 0.5}}\n    data: {random: {seed: 2}}\n    grade: {dL_ds: 1}\n")
    path = tmp_path / "both.yaml"
    path.write_text("schema_version: 1\ntitle: both\nproblems:\n" + scalar + vector)
    result = audit(loader.load(str(path)))
    assert set(result.detections["v"]) == set(VECTOR_MISTAKES)
    assert result.detections["v"]["missing_recurrent_term"].first_divergence == 2
    assert result.catchers("dWh_uses_h_t") == [] and "dWh_uses_h_t" in result.undetected
    assert "–" in FORMATS["text"](result)


def test_each_vector_mistake_runs_once_per_problem(monkeypatch):
    ex = exercise(problem("cs231n", "tanh", 4, seed=3), "backward")
    changed = VECTOR_MISTAKES["dWh_uses_h_t"].run(ex.problem.rnn, *ex.reference()).of({})
    outcome = CallOutcome(outputs={**ex.expected, "dWh": changed["dL_dWh"]})
    graded = localized(ex.problem, ex, outcome, score_outputs(ex.problem, ex.expected, outcome))
    runs = MistakeRuns()
    first = diagnose(ex, graded, runs)
    assert [d.mistake for d in first] == ["dWh_uses_h_t"]
    assert len(runs) == len([m for m in mistakes_of(ex.problem).values() if "dL_dWh" in m.outputs])

    def must_not_run(*args):
        raise AssertionError("ran again")
    monkeypatch.setattr(type(VECTOR_MISTAKES["dWh_uses_h_t"]), "run", must_not_run)
    assert diagnose(ex, graded, runs) == first



@pytest.mark.parametrize("contract", ["cs231n", "min-char-rnn"])       # the upstream loss; an output layer
@pytest.mark.parametrize("sum_piece", vector_mistakes.SUMS)
def test_a_mistake_in_one_sum_gives_the_whole_backwards_values_without_running_the_recursion_again(
        monkeypatch, contract, sum_piece):
    ex = exercise(problem(contract, "tanh", 4, seed=8), "backward")
    f, reference = ex.reference()
    correct = getattr(vector.CORRECT_BPTT, sum_piece)
    doubled = (lambda f, ds, dh: 2 * correct(f, ds, dh)) if sum_piece == "dL_dWh" else \
        (lambda f, ds: 2 * correct(f, ds))
    whole = vector.backward(ex.problem.rnn, f, replace(vector.CORRECT_BPTT, **{sum_piece: doubled}))

    def must_not_run(*args):
        raise AssertionError("the recursion ran again")
    monkeypatch.setattr(vector, "through_time", must_not_run)
    variant = vector_mistakes.one_change(**{sum_piece: doubled})(ex.problem.rnn, f, reference).of({})
    assert variant is not None and variant.keys() == whole.keys()
    for name, value in whole.items():
        np.testing.assert_array_equal(variant[name], value, err_msg=name)     # bit for bit
    assert not np.array_equal(variant[sum_piece], reference[sum_piece])
