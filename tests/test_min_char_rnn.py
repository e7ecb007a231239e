"""The min-char-rnn contract from the command line: Karpathy's lossFun(inputs, targets, hprev)
over the module globals Wxh, Whh, Why, bh, by, graded on character sequences; gradients
clipped inside lossFun are told as clipping; char problems are validated with positions."""
import json

import numpy as np
import pytest

from grader import loader
from grader.cli import main
from grader.contracts import exercise
from tests.conftest import EXAMPLES, ROOT, write

SET = str(ROOT / "problem_sets" / "min_char_rnn.yaml")
FOLDER = EXAMPLES / "min_char_rnn"

HEADER = """schema_version: 1
title: chars
contract: min-char-rnn
problems:
"""


def problem(data: str, grade: str = "{dWxh: 1}", extra: str = "") -> str:
    return (f"  - id: p\n    points: 1\n    hidden_size: 3\n    params: {{random: {{seed: 1, scale: 0.5}}}}\n"
            f"    data: {data}\n    grade: {grade}\n{extra}")


def test_the_arguments_are_karpathys_column_layout_and_the_drawn_characters():
    """Random data: T + 1 characters from default_rng(seed), inputs the first T, targets the
    next character; the globals are the reference's transposes (Wxh = Wxᵀ, …)."""
    short = next(p for p in loader.load(SET).problems if p.id == "short")
    ex = exercise(short, "lossFun")
    chars = np.random.default_rng(26).integers(0, 6, 11)
    args, params = ex.arguments(), short.params
    assert list(args) == ["Wxh", "Whh", "Why", "bh", "by", "inputs", "targets", "hprev"]
    assert args["inputs"].tolist() == chars[:-1].tolist() and args["targets"].tolist() == chars[1:].tolist()
    assert np.array_equal(args["Wxh"], params.Wx.T) and np.array_equal(args["Why"], params.Wy.T)
    assert args["bh"].shape == (5, 1) and args["by"].shape == (6, 1) and args["hprev"].shape == (5, 1)
    assert ex.shapes == {"loss": (), "dWxh": (5, 6), "dWhh": (5, 5), "dWhy": (6, 5), "dbh": (5, 1),
                         "dby": (6, 1), "h_last": (5, 1)}


def test_explicit_characters_give_the_cross_entropy_of_the_softmax():
    hello = next(p for p in loader.load(SET).problems if p.id == "hello")
    f = hello.forward()
    logits = f.z[0]
    expected = -sum(np.log(np.exp(z[c]) / np.exp(z).sum()) for z, c in zip(logits, [1, 2, 2, 3], strict=True))
    assert f.x[0].argmax(axis=1).tolist() == [0, 1, 2, 2] and pytest.approx(expected, rel=1e-12) == f.L


def test_karpathys_file_passes_every_problem(capsys):
    assert main(["grade", SET, str(FOLDER / "min_char_rnn.py"), "--include-hidden"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Score: 55/55"


def test_clipping_inside_lossFun_is_told_as_clipping_not_as_a_bptt_bug(capsys):
    assert main(["grade", SET, str(FOLDER / "clips_gradients.py"), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    statuses = {p["id"]: (p["status"], p["score"]) for p in report["problems"]}
    assert statuses == {"hello": ("passed", 10), "short": ("passed", 10), "vocab-equals-hidden": ("passed", 10),
                        "long-sequence": ("failed", 0)}
    long = report["problems"][-1]
    assert long["message"] == (
        "dWxh clips at ±5; dWhh clips at ±5; dWhy clips at ±5; dbh clips at ±5; dby clips at ±5; gradients clipped "
        "while they are computed: every element beyond the bound is cut to it and the rest match; clip after the "
        "gradients are returned (in the training step), not inside")
    assert long["diagnosis"] == [] and report["diagnosis_across_problems"] == []


def test_a_clip_that_changes_nothing_passes_and_another_error_is_not_called_clipping(capsys, write_submission):
    """Only saturation at exactly ±c with the expected sign counts: a gradient also wrong
    below the bound is reported as it differs."""
    source = (FOLDER / "clips_gradients.py").read_text().replace("dWhy += np.dot(dy, hs[t].T)",
                                                                 "dWhy += 2 * np.dot(dy, hs[t].T)")
    main(["grade", SET, str(write_submission(source)), "--format", "json"])
    long = json.loads(capsys.readouterr().out)["problems"][-1]
    assert long["message"].startswith("dWxh clips at ±5; dWhh clips at ±5; dWhy differs; dbh clips at ±5; ")


@pytest.mark.parametrize("example, mistake, failing, line", [
    ("dWhh_uses_h_t", "dWh_uses_h_t", 4, "Diagnosis: dWh_uses_h_t (Σ_t h_tᵀ·∂L/∂s_t for ∂L/∂Whh) reproduces your "
                                      "∂L/∂Whh within the tolerance."),
    ("missing_recurrent_term", "missing_recurrent_term", 4,
     "Diagnosis: missing_recurrent_term (∂L/∂s_{t+1}·Whh dropped) reproduces your ∂L/∂Wxh, ∂L/∂Whh and ∂L/∂bh "
     "within the tolerance."),
])
def test_a_classic_bug_is_diagnosed_in_min_char_rnn_names(capsys, example, mistake, failing, line):
    assert main(["grade", SET, str(FOLDER / f"{example}.py")]) == 1
    out = capsys.readouterr().out
    assert line in " ".join(row.strip() for row in out.splitlines())
    assert f"One mistake explains all {failing} failing problems: {mistake} (" in out


def test_a_lossFun_returning_too_few_values_is_an_error(capsys, write_submission):
    source = (FOLDER / "min_char_rnn.py").read_text().replace(", hs[len(inputs) - 1]", "")
    main(["grade", SET, str(write_submission(source)), "--format", "json"])
    first = json.loads(capsys.readouterr().out)["problems"][0]
    assert (first["status"], first["message"]) == (
        "error", "the submission returned 6 values from lossFun, not the 7 of (loss, dWxh, dWhh, dWhy, dbh, dby, "
                 "h_last)")


def test_the_shipped_set_audits_without_warnings(capsys):
    assert main(["audit", SET, "--format", "json"]) == 0
    audit = json.loads(capsys.readouterr().out)
    assert audit["warnings"] == []
    assert audit["coverage"] == {"T1": True, "N1": True, "D_lt_H": True, "D_gt_H": True, "distinct_sizes": True}


@pytest.mark.parametrize("data, grade, message", [
    ("{inputs: [0, 1, 2], targets: [1, 2]}", "{dWxh: 1}",
     "problems[0].data.targets: has 2 indices where inputs has 3: each input character has one target"),
    ("{inputs: [0, 1, 2], targets: [1, 2, 5], vocab: 4}", "{dWxh: 1}",
     "problems[0].data.targets[2]: 5 is not a character index of a vocab of 4 (0..3)"),
    ("{inputs: [0, 0], targets: [0, 0]}", "{dWxh: 1}",
     "problems[0].data: the softmax needs a vocab of at least 2 characters: give vocab"),
    ("{random: {seed: 1, T: 3}}", "{dWxh: 1}", "problems[0].data.random: 'vocab' is a required property"),
    ("{random: {seed: 1, T: 100000, vocab: 100}}", "{dWxh: 1}",
     "problems[0].data: its arrays would hold 20,300,609 numbers, more than 5,000,000: make N, T, D, H or O "
     "smaller, or pass --max-numbers 20300609"),
    ("{random: {seed: 1, T: 3, vocab: 4}}", "{dx: 1}",
     "problems[0].grade: 'dx' is not an output of the min-char-rnn contract for a vector problem: grade some "
     "of ['loss', 'dWxh', 'dWhh', 'dWhy', 'dbh', 'dby', 'h_last']"),
])
def test_a_bad_char_problem_is_one_clear_error(capsys, tmp_path, data, grade, message):
    path = write(tmp_path, HEADER + problem(data, grade))
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert err.count(path) == 1 and message in err


def test_the_starter_defines_lossFun_and_its_globals(tmp_path, capsys):
    starter = tmp_path / "starter.py"
    assert main(["scaffold", SET, "-o", str(starter)]) == 0
    text = starter.read_text()
    assert "Wxh = Whh = Why = bh = by = None" in text and "def lossFun(inputs, targets, hprev):" in text


def test_the_scalar_example_that_clips_dL_ds_is_told_so_where_its_values_are_a_clip(capsys):
    """examples/gradient_clipping.py clips ∂L/∂s_t inside the recursion: where every wrong
    ∂L/∂s_t is ±0.05 it is told as a clip; where the clipped values carried back change
    smaller ones, it is a divergence as before (and never a catalogue mistake)."""
    main(["grade", str(ROOT / "problem_sets" / "scalar_bptt.yaml"), str(EXAMPLES / "gradient_clipping.py"),
          "--format", "json"])
    messages = {p["id"]: p["message"] for p in json.loads(capsys.readouterr().out)["problems"]}
    assert messages["tanh-identity-squared"].startswith("dL_ds clips at ±0.05; dL_dw differs; dL_dv differs; "
                                                        "gradients clipped while they are computed")
    assert messages["tanh-sigmoid-bce"] == "dL_ds first diverges at t = 12; dL_dw differs; dL_dv differs"


# "hello" with explicit params in min-char-rnn's layout: H = 3 from the arrays, V = 4
EXPLICIT = """  - id: hello-explicit
    points: 10
    params:
      Wxh: [[0.1, -0.2, 0.3, 0.0], [0.4, 0.1, -0.3, 0.2], [-0.1, 0.5, 0.2, -0.4]]
      Whh: [[0.3, -0.1, 0.2], [0.0, 0.4, -0.2], [0.1, 0.1, 0.5]]
      Why: [[0.2, -0.3, 0.1], [-0.1, 0.4, 0.3], [0.5, 0.0, -0.2], [0.1, 0.2, 0.3]]
      bh: [[0.05], [-0.05], [0.1]]
      by: [[0.0], [0.1], [-0.1], [0.2]]
      hprev: [[0.2], [-0.1], [0.3]]
    data: {inputs: [0, 1, 2, 2], targets: [1, 2, 2, 3]}
    grade: {loss: 1, dWxh: 2, dWhh: 2, dWhy: 2, dbh: 1, dby: 1, h_last: 1}
"""


@pytest.mark.parametrize("example, score, code", [("min_char_rnn", 10, 0), ("dWhh_uses_h_t", 8, 1),
                                                  ("missing_recurrent_term", 5, 1)])
def test_explicit_params_are_graded(capsys, tmp_path, example, score, code):
    path = write(tmp_path, HEADER + EXPLICIT)
    assert main(["grade", path, str(FOLDER / f"{example}.py"), "--format", "json"]) == code
    problem_graded = json.loads(capsys.readouterr().out)["problems"][0]
    assert (problem_graded["id"], problem_graded["score"]) == ("hello-explicit", score)


def test_explicit_params_are_the_globals_lossFun_sees(tmp_path):
    p = loader.load(write(tmp_path, HEADER + EXPLICIT)).problems[0]
    args = exercise(p, "lossFun").arguments()
    assert args["Whh"].tolist() == [[0.3, -0.1, 0.2], [0.0, 0.4, -0.2], [0.1, 0.1, 0.5]]
    assert args["bh"].tolist() == [[0.05], [-0.05], [0.1]] and args["hprev"].tolist() == [[0.2], [-0.1], [0.3]]
    assert args["Why"].shape == (4, 3) and p.T == 4


def test_explicit_params_default_bh_by_hprev_to_zeros(tmp_path):
    text = "\n".join(line for line in EXPLICIT.splitlines()
                     if not line.startswith(("      bh", "      by", "      hprev")))
    args = exercise(loader.load(write(tmp_path, HEADER + text + "\n")).problems[0], "lossFun").arguments()
    assert (args["bh"].tolist(), args["by"].tolist(), args["hprev"].tolist()) == ([[0.0]] * 3, [[0.0]] * 4, [[0.0]] * 3)


def test_explicit_params_written_out_build_the_same_problem_as_the_random_draw(tmp_path):
    """hello's params drawn from {seed: 8, scale: 0.5}, written in min-char-rnn's layout."""
    hello = next(p for p in loader.load(SET).problems if p.id == "hello")
    drawn = exercise(hello, "lossFun").arguments()
    arrays = ", ".join(f"{name}: {drawn[name].tolist()}" for name in ("Wxh", "Whh", "Why", "bh", "by", "hprev"))
    text = HEADER + (f"  - id: hello\n    points: 10\n    params: {{{arrays}}}\n"
                     "    data: {inputs: [0, 1, 2, 2], targets: [1, 2, 2, 3]}\n    grade: {dWhh: 10}\n")
    given = exercise(loader.load(write(tmp_path, text)).problems[0], "lossFun")
    assert all(np.array_equal(given.expected[name], exercise(hello, "lossFun").expected[name])
               for name in ("loss", "dWxh", "dWhh", "dWhy", "dbh", "dby", "h_last"))


@pytest.mark.parametrize("old, new, message", [
    ("[0.0, 0.4, -0.2], [0.1, 0.1, 0.5]]", "[0.0, 0.4, -0.2]]",
     ":9:12: problems[0].params.Whh: has shape (2, 3), not (H, H) = (3, 3): H = 3 from params.Wxh"),
    ("    points: 10\n", "    points: 10\n    hidden_size: 4\n",
     ":9:12: problems[0].params.Wxh: has shape (3, 4), not (H, V) = (4, 4): H = 4 from hidden_size"),
    ("targets: [1, 2, 2, 3]}", "targets: [1, 2, 2, 3], vocab: 5}",
     ":8:12: problems[0].params.Wxh: has shape (3, 4), not (H, V) = (3, 5): V = 5 from data.vocab"),
    ("bh: [[0.05], [-0.05], [0.1]]", "bh: [[0.05, -0.05, 0.1]]",
     ":11:11: problems[0].params.bh: has shape (1, 3), not (H, 1) = (3, 1): H = 3 from params.Wxh"),
    ("by: [[0.0], [0.1], [-0.1], [0.2]]", "by: [[0.0, 1], [0.1, 1], [-0.1, 1], [0.2, 1]]",
     ":12:11: problems[0].params.by: has shape (4, 2), not (V, 1) = (4, 1): a column vector has one column"),
    ("targets: [1, 2, 2, 3]}", "targets: [1, 2, 2, 4]}",
     ":14:53: problems[0].data.targets[3]: 4 is not a character index of a vocab of 4 (0..3)"),
    ("      Why: [[0.2, -0.3, 0.1], [-0.1, 0.4, 0.3], [0.5, 0.0, -0.2], [0.1, 0.2, 0.3]]\n", "",
     ":8:7: problems[0].params: 'Why' is a required property"),
])
def test_a_bad_explicit_param_is_one_error_at_its_place(capsys, tmp_path, old, new, message):
    assert old in EXPLICIT
    path = write(tmp_path, HEADER + EXPLICIT.replace(old, new))
    assert main(["grade", path, str(FOLDER / "min_char_rnn.py")]) == 2
    assert capsys.readouterr().err == f"bptt-grade: {path}{message}\n"


def test_random_params_need_hidden_size(capsys, tmp_path):
    path = write(tmp_path, HEADER + problem("{random: {seed: 1, T: 3, vocab: 4}}").replace("    hidden_size: 3\n", ""))
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err == f"{path}:5:5: problems[0]: 'hidden_size' is a required property\n"
