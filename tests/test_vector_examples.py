"""Every example of every contract graded from the command line against its shipped set
(hidden problems included): the exact score, where the forward pass first goes wrong
(forward order) and where ∂L/∂s_t first diverges (BPTT order) on each sequence problem."""
import json
from importlib import resources

import jsonschema
import pytest

from grader import loader
from grader.cli import main
from grader.grading import grade
from reference.vector_mistakes import VECTOR_MISTAKES
from tests.conftest import EXAMPLES, ROOT

REPORT_SCHEMA = json.loads(resources.files("grader").joinpath("schemas/report.schema.json").read_text())

# contract → (problem set, forward output, ids of the sequence problems, their T)
SETS = {
    "cs231n": ("cs231n_rnn.yaml", "h", ["small-explicit", "gradient-check", "char-rnn", "batch-of-four", "larger",
                                         "square-weights", "one-step", "one-sequence", "narrow-input"],
               [3, 10, 8, 7, 40, 6, 1, 6, 7]),
    "coursera": ("coursera_rnn.yaml", "a", ["forward-backward", "characters", "twelve-steps", "larger", "one-step",
                                            "one-example", "narrow-input"],
                 [4, 8, 12, 30, 1, 6, 7]),
    "vector_trace": ("vector_trace.yaml", None, ["tanh-upstream", "sigmoid-squared", "relu-softmax", "long-tanh",
                                                 "every-gradient", "one-sequence-one-step"],
                     [5, 6, 10, 60, 7, 1]),
    "min_char_rnn": ("min_char_rnn.yaml", "h_last", ["hello", "short", "one-character", "seq-length-25",
                                                     "vocab-equals-hidden", "long-sequence"], [4, 10, 1, 25, 12, 80]),
}
NONE = [None] * 9

# (contract, example) → (score, first forward divergence, first divergence of ∂L/∂s_t), per sequence problem
EXPECTED = {
    ("cs231n", "rnn_layers"): (92, NONE, NONE),
    # tanh' of next_h: wrong at t = T; the step problem keeps only next_h's point
    ("cs231n", "wrong_tanh_derivative"): (18, NONE, [3, 10, 8, 7, 40, 6, 1, 6, 7]),
    # right at T = 1 (one-step passes)
    ("cs231n", "missing_upstream_dh"): (28, NONE, [2, 9, 7, 6, 39, 5, None, 5, 6]),
    ("cs231n", "dprev_h_not_carried"): (28, NONE, [2, 9, 7, 6, 39, 5, None, 5, 6]),
    # ∂L/∂s_t right, one gradient wrong: 2 points (dWh) or 1 (dh0) lost per sequence problem with T > 1
    ("cs231n", "dWh_not_accumulated"): (76, NONE, NONE),
    # … and h_{t−1} off by one shows at T = 1 too (h_1 where h_0 belongs)
    ("cs231n", "h_prev_off_by_one"): (75, NONE, NONE),
    ("cs231n", "dh0_from_wrong_step"): (84, NONE, NONE),
    # h wrong from t = 2, and every gradient with it
    ("cs231n", "forward_reuses_h0"): (12, [2] * 6 + [None, 2, 2], [3, 10, 8, 7, 40, 6, None, 6, 7]),
    ("coursera", "rnn_utils"): (74, NONE[:7], NONE[:7]),
    # right gradients from a backward that consumes its cache: full marks, and a note (tests/test_cache_reuse.py)
    ("coursera", "backward_deletes_caches"): (74, NONE[:7], NONE[:7]),
    ("coursera", "wrong_tanh_derivative"): (22, NONE[:7], [4, 8, 12, 30, 1, 6, 7]),
    ("coursera", "missing_upstream_da"): (32, NONE[:7], [3, 7, 11, 29, None, 5, 6]),
    ("coursera", "da_prev_not_carried"): (32, NONE[:7], [3, 7, 11, 29, None, 5, 6]),
    ("coursera", "dWaa_not_accumulated"): (62, NONE[:7], NONE[:7]),
    ("coursera", "a_prev_off_by_one"): (60, NONE[:7], NONE[:7]),
    ("coursera", "da0_from_wrong_step"): (68, NONE[:7], NONE[:7]),
    ("coursera", "forward_reuses_a0"): (14, [2] * 4 + [None, 2, 2], [4, 8, 12, 30, None, 6, 7]),
    ("vector_trace", "correct"): (55, NONE[:6], NONE[:6]),
    ("vector_trace", "missing_recurrent_term"): (10, NONE[:6], [4, 5, 9, 59, 6, None]),
    ("vector_trace", "recurrent_weight_not_transposed"): (10, NONE[:6], [4, 5, 9, 59, 6, None]),
    ("vector_trace", "missing_local_term"): (10, NONE[:6], [4, 5, 9, 59, 6, None]),
    # carried back 3 steps: right for t ≥ T − 2
    ("vector_trace", "truncated_recursion"): (14, NONE[:6], [2, 3, 3, 57, 4, None]),
    # wrong from t = T
    ("vector_trace", "nonzero_boundary"): (7, NONE[:6], [5, 6, 10, 60, 7, 1]),
    ("vector_trace", "activation_derivative_omitted"): (5, NONE[:6], [5, 6, 10, 60, 7, 1]),
    ("vector_trace", "upstream_ignored"): (5, NONE[:6], [5, 6, 10, 60, 7, 1]),
    ("vector_trace", "upstream_summed_at_T"): (10, NONE[:6], [5, 6, 10, 60, 7, None]),
    # φ'(h_t) = φ'(s_t) for relu: invisible there
    ("vector_trace", "activation_derivative_at_h"): (15, NONE[:6], [5, 6, None, 60, 7, 1]),
    # only where there is an output layer and φ ≠ θ
    ("vector_trace", "output_derivative_uses_phi"): (35, NONE[:6], [None, 6, 10, None, None, None]),
    # runs only where D = H; raises elsewhere
    ("vector_trace", "recurrence_uses_Wx"): (2, NONE[:6], [4, None, None, 59, None, None]),
    # ∂L/∂s_t right, one gradient wrong
    ("vector_trace", "dWh_uses_h_t"): (45, NONE[:6], NONE[:6]),
    ("vector_trace", "dW_uses_gradient_for_state"): (45, NONE[:6], NONE[:6]),
    ("vector_trace", "accumulator_added_to_itself"): (45, NONE[:6], NONE[:6]),
    ("vector_trace", "dWx_not_accumulated"): (48, NONE[:6], NONE[:6]),
    ("vector_trace", "db_batch_mean"): (53, NONE[:6], NONE[:6]),
    ("vector_trace", "db_not_accumulated"): (53, NONE[:6], NONE[:6]),
    ("vector_trace", "dx_added_to_every_step"): (53, NONE[:6], NONE[:6]),
    ("vector_trace", "dh0_missing_Wh"): (50, NONE[:6], NONE[:6]),
    # lossFun returns no per-step output: h_last and the gradients are compared whole
    ("min_char_rnn", "min_char_rnn"): (55, NONE[:6], NONE[:6]),
    ("min_char_rnn", "clips_gradients"): (45, NONE[:6], NONE[:6]),
    ("min_char_rnn", "dWhh_uses_h_t"): (44, NONE[:6], NONE[:6]),
    ("min_char_rnn", "missing_recurrent_term"): (29, NONE[:6], NONE[:6]),
    ("cs231n", "backward_consumes_cache"): (92, NONE, NONE),
}

def pruned(value):
    """The report with every array cut to its first two items: what the schema checks is
    structure, and a larger problem's full arrays take seconds to validate."""
    if isinstance(value, dict):
        return {key: pruned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [pruned(item) for item in value[:2]]
    return value


def first(output: dict | None):
    divergence = (output or {}).get("first_divergence")
    return divergence and divergence["t"]


def test_every_example_has_an_expectation():
    shipped = {(folder.name, path.stem) for folder in EXAMPLES.iterdir() if folder.name in SETS
               for path in folder.glob("*.py")}
    assert shipped == set(EXPECTED)


@pytest.mark.parametrize("contract, example", sorted(EXPECTED))
def test_example_score_and_first_divergences(capsys, contract, example):
    set_file, forward, sequence_ids, _ = SETS[contract]
    score, forward_divergences, ds_divergences = EXPECTED[contract, example]
    code = main(["grade", str(ROOT / "problem_sets" / set_file), str(EXAMPLES / contract / f"{example}.py"),
                 "--include-hidden", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    jsonschema.validate(pruned(report), REPORT_SCHEMA)
    problems = {p["id"]: p for p in report["problems"]}
    assert (code, report["score"]) == (0 if score == report["max_score"] else 1, score)
    assert [first(problems[i]["outputs"].get(forward)) for i in sequence_ids] == forward_divergences
    assert [first(problems[i]["outputs"].get("dL_ds")) for i in sequence_ids] == ds_divergences




def test_a_derived_dL_ds_says_so_in_the_json(capsys):
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(EXAMPLES / "cs231n" / "missing_upstream_dh.py"),
          "--format", "json"])
    ds = json.loads(capsys.readouterr().out)["problems"][1]["outputs"]["dL_ds"]
    assert (ds["derived"], ds["derived_from"], ds["localization"], ds["points"]) == (True, "dx", "full", 0)
    assert (ds["first_divergence"], ds["diverging_timesteps"]) == ({"t": 2, "order": "backward"}, [2, 1])


def test_a_wrong_forward_is_in_forward_order_in_the_json(capsys):
    main(["grade", str(ROOT / "problem_sets" / "coursera_rnn.yaml"),
          str(EXAMPLES / "coursera" / "forward_reuses_a0.py"), "--format", "json"])
    a = json.loads(capsys.readouterr().out)["problems"][1]["outputs"]["a"]
    assert (a["first_divergence"], a["diverging_timesteps"]) == ({"t": 2, "order": "forward"}, [2, 3, 4])


def test_the_text_report_leads_with_the_forward_pass(capsys):
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(EXAMPLES / "cs231n" / "forward_reuses_h0.py")])
    out = capsys.readouterr().out
    assert ("small-explicit: 0/10 failed (N = 2, T = 3, D = 4, H = 3) — h first diverges at t = 2 (forward order); "
            "dL_ds (derived from dx) first diverges at t = 3; dx first diverges at t = 3; dh0 differs") in out
    assert ("h_t matches for t = 1 and first diverges at t = 2 (forward order): the forward pass is wrong "
            "there, and every gradient depends on it, so fix the forward pass first.") in out
    assert "  ∂L/∂s_t: diverging at 3 of 3 steps, first at t = 3 (BPTT order)" in out


def test_the_text_report_locates_a_backward_bug_from_dx(capsys):
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(EXAMPLES / "cs231n" / "dprev_h_not_carried.py")])
    out = capsys.readouterr().out
    assert "  ∂L/∂s_t (derived from dx), diverging at 9 of 10 steps:" in out
    assert ("∂L/∂s_t matches for t = 10 and first diverges at t = 9 (BPTT order): "
            "look at how ∂L/∂s_{t+1} is carried back into ∂L/∂s_t.") in out
    assert "  ∂L/∂x_t: diverging at 9 of 10 steps, first at t = 9 (BPTT order)" in out


@pytest.mark.parametrize("contract", sorted(SETS))
def test_check_reference_passes_on_the_shipped_set(capsys, contract):
    assert main(["check-reference", str(ROOT / "problem_sets" / SETS[contract][0])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(": agrees (complex_step, " in line for line in lines)


@pytest.mark.parametrize("contract", sorted(SETS))
def test_the_scaffold_imports_and_is_graded_as_unfinished(capsys, tmp_path, contract):
    set_path, starter = str(ROOT / "problem_sets" / SETS[contract][0]), tmp_path / "starter.py"
    assert main(["scaffold", set_path, "-o", str(starter)]) == 0
    capsys.readouterr()
    assert main(["grade", set_path, str(starter), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert all(p["status"] == "error" and "raised NotImplementedError during the call: " in p["message"]
               for p in report["problems"])


def test_platform_feedback_keeps_the_forward_order(capsys):
    main(["grade", str(ROOT / "problem_sets" / "cs231n_rnn.yaml"), str(EXAMPLES / "cs231n" / "forward_reuses_h0.py"),
          "--format", "gradescope"])
    test = json.loads(capsys.readouterr().out)["tests"][1]
    assert test["extra_data"]["first_divergence"] == {"h": {"t": 2, "order": "forward"},
                                                      "dL_ds": {"t": 3, "order": "backward"},
                                                      "dx": {"t": 3, "order": "backward"}}


# example → the vector mistake its diagnosis names on every problem it fails (None: none at all)
DIAGNOSED = {
    "wrong_tanh_derivative": "activation_derivative_at_h", "activation_derivative_at_h": "activation_derivative_at_h",
    "missing_upstream_dh": "missing_local_term", "missing_upstream_da": "missing_local_term",
    "dprev_h_not_carried": "missing_recurrent_term", "da_prev_not_carried": "missing_recurrent_term",
    "missing_recurrent_term": "missing_recurrent_term",
    "dWh_not_accumulated": "dWh_not_accumulated", "dWaa_not_accumulated": "dWh_not_accumulated",
    "h_prev_off_by_one": "dWh_uses_h_t", "a_prev_off_by_one": "dWh_uses_h_t", "dWh_uses_h_t": "dWh_uses_h_t",
    "dh0_from_wrong_step": "dh0_from_wrong_step", "da0_from_wrong_step": "dh0_from_wrong_step",
    "forward_reuses_h0": None, "forward_reuses_a0": None,       # a wrong forward pass is no catalogue mistake
    "dWhh_uses_h_t": "dWh_uses_h_t",
    "clips_gradients": None,                                    # clipping is told as such, not as a BPTT bug
    # examples/vector_trace/<id>.py makes mistake <id>
    **{example: example for contract, example in EXPECTED if contract == "vector_trace" and example in VECTOR_MISTAKES},
}


def test_every_vector_mistake_has_an_example():
    assert set(VECTOR_MISTAKES) <= set(DIAGNOSED.values())


@pytest.mark.parametrize("contract, example", [key for key in sorted(EXPECTED) if key[1] in DIAGNOSED])
def test_each_buggy_example_is_diagnosed_with_its_mistake_wherever_it_fails(contract, example):
    """Its mistake, with its audited parameters, on every wrong graded output of every problem
    that fails (others only as indistinguishable from it there), and across every failing
    problem; recurrence_uses_Wx raises where D ≠ H, and those problems get none."""
    report = grade(loader.load(str(ROOT / "problem_sets" / SETS[contract][0])),
                   EXAMPLES / contract / f"{example}.py", include_hidden=True)
    mistake = DIAGNOSED[example]
    params = VECTOR_MISTAKES[mistake].audit_params if mistake else None
    failed = [p for p in report.problems if p.status == "failed"]
    errors = [p for p in report.problems if p.status == "error"]
    assert failed and all(not p.diagnosis for p in errors)
    for p in failed:
        wrong = [o.name for o in p.outputs if not o.passed and o.localization != "partial"
                 and not (o.derived_from and mistake and "dL_ds" not in VECTOR_MISTAKES[mistake].outputs)]
        named = [(d.output, d.params) for d in p.diagnosis if d.mistake == mistake]
        assert named == ([(name, params) for name in wrong] if mistake else []), p.id
        assert all(d.mistake == mistake or mistake in d.indistinguishable_from for d in p.diagnosis), p.id
    assert [(a.mistake, a.params) for a in report.diagnosis_across_problems] == (
        [(mistake, params)] if mistake and not errors else [])


@pytest.mark.parametrize("contract", sorted(SETS))
def test_the_correct_example_gets_no_diagnosis(contract):
    correct = next(example for c, example in EXPECTED if c == contract and example not in DIAGNOSED)
    report = grade(loader.load(str(ROOT / "problem_sets" / SETS[contract][0])),
                   EXAMPLES / contract / f"{correct}.py", include_hidden=True)
    assert report.passed and not any(p.diagnosis for p in report.problems)


def test_the_text_report_names_the_vector_mistake(capsys):
    main(["grade", str(ROOT / "problem_sets" / "coursera_rnn.yaml"),
          str(EXAMPLES / "coursera" / "dWaa_not_accumulated.py")])
    out = capsys.readouterr().out
    assert ("Diagnosis: dWh_not_accumulated (∂L/∂Waa = a⟨0⟩ᵀ·∂L/∂s⟨1⟩, one term) reproduces your ∂L/∂Waa within "
            "the tolerance.") in " ".join(line.strip() for line in out.splitlines())
