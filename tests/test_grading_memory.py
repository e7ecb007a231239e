"""Grading keeps no big copy of a problem's arrays. Measured with tracemalloc (numpy reports
its arrays to it), never timed: its peak while a mid-size vector problem is prepared and
graded, against the bytes of the problem's arrays (its inputs and expected outputs,
bench.largest_problem.problem_arrays_bytes).

What grading must hold is the expected outputs, the returned ones (as large), ∂L/∂s_t and
the student's ∂L/∂s_t recovered from dx (each as large as one of them): about 2.1× the arrays
here, the inputs being allocated before tracing starts. Each big copy that was once kept
(the reference's every intermediate, the encoded arguments, each comparison's |error|)
added 0.5–0.75× the arrays, so the bound, 2.5×, fails on any one of them coming back."""
import tracemalloc

import numpy as np

from bench.largest_problem import PROBLEM_SET, SUBMISSION, problem_arrays_bytes
from grader import channel, loader
from grader.contracts import exercise
from grader.grading import grade

MID_SIZE = {"N": 8, "T": 1000, "D": 64, "H": 64}      # 15.8 MiB of arrays
PEAK_OVER_ARRAYS = 2.5


def test_grading_a_mid_size_problem_peaks_below_two_and_a_half_times_its_arrays(tmp_path):
    path = tmp_path / "mid.yaml"
    path.write_text(PROBLEM_SET.format(**MID_SIZE))
    problem_set = loader.load(path)
    tracemalloc.start()
    try:
        report = grade(problem_set, SUBMISSION.resolve())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.problems[0].status == "passed"
    assert peak < PEAK_OVER_ARRAYS * problem_arrays_bytes(exercise(problem_set.problems[0], "backward"))


def test_an_array_is_sent_from_its_own_memory():
    array = np.arange(12.0).reshape(3, 4)
    _, sent = channel.encoded_parts({"a": array})
    assert np.shares_memory(np.frombuffer(sent, dtype=np.float64), array)
