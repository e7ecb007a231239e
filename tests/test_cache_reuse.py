"""A backward called twice on the same cache, from the command line: one that consumes its
cache (`cache.pop()`, `del caches[t]`) is told so in one line and keeps its points (its first
call is graded); one that changes its cache without changing what a second call returns is
told nothing; a second call that hangs costs nothing either."""
import json
import shutil

from grader.cli import main
from tests.conftest import EXAMPLES, ROOT

CS231N, COURSERA = ROOT / "problem_sets" / "cs231n_rnn.yaml", ROOT / "problem_sets" / "coursera_rnn.yaml"
CONSUMES = ("rnn_backward consumes its cache (the second call on the same cache {}): "
            "backward must not modify cache")
PASSED = "every graded output matches"


def graded(capsys, problem_set, submission, *options) -> tuple[int, dict[str, tuple[str, float, str]]]:
    code = main(["grade", str(problem_set), str(submission), "--include-hidden", "--format", "json", *options])
    report = json.loads(capsys.readouterr().out)
    return code, {p["id"]: (p["status"], p["score"], p["message"]) for p in report["problems"]}


def submission(tmp_path, source: str):
    shutil.copy(EXAMPLES / "cs231n" / "rnn_layers.py", tmp_path)
    (tmp_path / "submission.py").write_text(source)
    return tmp_path / "submission.py"


def test_a_cs231n_backward_that_pops_its_cache_is_told_so_and_keeps_its_points(capsys):
    code, problems = graded(capsys, CS231N, EXAMPLES / "cs231n" / "backward_consumes_cache.py")
    note = f"{PASSED}; {CONSUMES.format('raised IndexError: pop from empty list')}"
    assert code == 0
    assert problems == {"step": ("passed", 6, PASSED), "small-explicit": ("passed", 10, note),
                        "gradient-check": ("passed", 10, note), "char-rnn": ("passed", 10, note),
                        "batch-of-four": ("passed", 10, note), "larger": ("passed", 10, note),
                        "square-weights": ("passed", 10, note), "one-step": ("passed", 6, note),
                        "one-sequence": ("passed", 10, note), "narrow-input": ("passed", 10, note)}


def test_a_coursera_backward_that_deletes_its_caches_is_told_so(capsys):
    code, problems = graded(capsys, COURSERA, EXAMPLES / "coursera" / "backward_deletes_caches.py")
    note = f"{PASSED}; {CONSUMES.format('raised IndexError: list index out of range')}"
    assert code == 0
    assert {i: message for i, (_, _, message) in problems.items()} == {"cell": PASSED, **{
        i: note for i in ("forward-backward", "characters", "twelve-steps", "larger", "one-step", "one-example",
                          "narrow-input")}}


def test_the_text_report_says_it_in_one_line(capsys):
    assert main(["grade", str(CS231N), str(EXAMPLES / "cs231n" / "backward_consumes_cache.py")]) == 0
    out = capsys.readouterr().out
    assert (f"small-explicit: 10/10 passed (N = 2, T = 3, D = 4, H = 3) — {PASSED}; "
            f"{CONSUMES.format('raised IndexError: pop from empty list')}\n") in out


REVERSES = '''import numpy as np
from rnn_layers import rnn_forward, rnn_step_backward, rnn_step_forward


def rnn_backward(dh, cache):
    N, T, H = dh.shape
    cache.reverse()                          # in place: the last step first
    dxs, dWx, dWh, db, dprev_h = [], 0.0, 0.0, 0.0, np.zeros((N, H))
    for t, step in zip(reversed(range(T)), cache):
        dx, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, step)
        dxs.insert(0, dx)
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db
'''


def test_a_backward_that_reorders_its_cache_in_place_is_told_a_second_call_returns_other_gradients(capsys, tmp_path):
    code, problems = graded(capsys, CS231N, submission(tmp_path, REVERSES))
    assert code == 0
    assert problems["gradient-check"] == ("passed", 10, f"{PASSED}; {CONSUMES.format('returned other gradients')}")


def test_a_backward_that_changes_its_cache_but_not_a_second_call_is_told_nothing(capsys, tmp_path):
    marks = ("from rnn_layers import rnn_backward as layers_backward\n"
             "from rnn_layers import rnn_forward, rnn_step_backward, rnn_step_forward\n\n\n"
             "def rnn_backward(dh, cache):\n"
             "    gradients = layers_backward(dh, cache)\n"
             "    cache.append('graded once')\n"
             "    return gradients\n")
    code, problems = graded(capsys, CS231N, submission(tmp_path, marks))
    assert code == 0 and {message for _, _, message in problems.values()} == {PASSED}


def test_a_second_call_that_hangs_costs_nothing(capsys, tmp_path):
    hangs_again = REVERSES.replace(
        "    cache.reverse()                          # in place: the last step first\n",
        "    while cache[-1] is None and T == 3:     # a second call on small-explicit never ends\n"
        "        pass\n"
        "    cache.reverse()\n"
        "    cache.append(None)\n")
    code, problems = graded(capsys, CS231N, submission(tmp_path, hangs_again), "--timeout", "1")
    assert code == 0 and sum(score for _, score, _ in problems.values()) == 92
    assert problems["small-explicit"] == ("passed", 10, f"{PASSED}; {CONSUMES.format('timed out after 1 s')}")
    assert problems["gradient-check"][2] == f"{PASSED}; " + CONSUMES.format(
        "raised TypeError: cannot unpack non-iterable NoneType object")
