"""Grading keeps no big copy of a problem's arrays. Measured with tracemalloc (numpy reports
its arrays to it), never timed: its peak while a mid-size vector problem is prepared and
graded, against the bytes of the problem's arrays (its inputs and expected outputs,
bench.largest_problem.problem_arrays_bytes).

What grading holds for a correct submission, inputs included (x and dh are drawn from their
seed while grading, grader.problem_data.Drawn): while the exercise is prepared, the inputs, h
and one array of the states' size that is s_t, then φ'(s_t), then ∂L/∂s_t (1×, and blocks of
temporaries: 1.37× here); while the submission runs, h and ∂L/∂s_t (the expected dx is kept as
∂L/∂s_t·Wxᵀ, reference.step_product) with the returned h and dx (1.07×); the student's ∂L/∂s_t
is recovered from dx a few sequences at a time and compared as it is, never whole (1.26×); a
passing comparison keeps no bool array of its size; comparisons work in blocks of 2¹⁶ numbers.
Main before issue 15's last cut peaked at 2.0× counted so (the inputs held by the problem and
the exercise, the reference's s, ∂L/∂h_t and dx whole). One whole (N, T, H) array more is
0.25× the arrays, so the bound, 1.55×, fails on any one coming back.

Rendering a report (every shipped format) reads each output a block of COMPARED_ELEMENTS
numbers at a time (|error|, and the student's ∂L/∂s_t recovered from dx for that block): about
three blocks alive at once, 1.5 MiB, 0.19× one (N, T, H) output of RENDERED_SIZE; main before
this peaked at 2.1× (the recovered ∂L/∂s_t and |error| whole) and kept the recovered ∂L/∂s_t.
What stays behind is T numbers per output (Comparison.errors)."""
import gc
import pickle
import tracemalloc
import weakref

import numpy as np
import pytest

from bench.largest_problem import PROBLEM_SET, SUBMISSION, problem_arrays_bytes
from grader import channel, loader
from grader.compare import Comparison
from grader.contracts import exercise
from grader.grading import grade
from grader.reports import registry

MID_SIZE = {"N": 8, "T": 1000, "D": 64, "H": 64}      # 15.8 MiB of arrays
PEAK_OVER_ARRAYS = 1.55
RENDERED_SIZE = {"N": 32, "T": 1000, "D": 32, "H": 32}    # an (N, T, H) output: 7.8 MiB; dWx inline
RENDER_PEAK_OVER_OUTPUT = 0.5       # an output-sized temporary is 1×
HELD_OVER_OUTPUT = 0.01             # T numbers per output: 0.006×


def test_grading_a_mid_size_problem_peaks_below_1_55_times_its_arrays_inputs_included(tmp_path):
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


def test_the_students_dL_ds_is_recovered_from_dx_only_when_asked_the_same_by_steps(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(PROBLEM_SET.format(N=2, T=5, D=4, H=3))
    problem_set = loader.load(path)
    report = grade(problem_set, SUBMISSION.resolve(), diagnosis=False)
    derived = next(o for o in report.problems[0].outputs if o.name == "dL_ds")
    steps = [derived.comparison.got_part((slice(t, t + 1),)) for t in range(5)]
    assert "got" not in vars(derived.comparison)
    assert derived.passed and np.allclose(derived.comparison.got, derived.comparison.expected, rtol=1e-9, atol=1e-12)
    assert all(np.array_equal(step, derived.comparison.got[:, t:t + 1]) for t, step in enumerate(steps))
    again = pickle.loads(pickle.dumps(derived.comparison))
    assert type(again) is Comparison and np.array_equal(again.got, derived.comparison.got)


def test_an_array_is_sent_from_its_own_memory():
    array = np.arange(12.0).reshape(3, 4)
    _, sent = channel.encoded_parts({"a": array})
    assert np.shares_memory(np.frombuffer(sent, dtype=np.float64), array)


@pytest.fixture(scope="module")
def rendered_reports(tmp_path_factory) -> dict:
    """{submission's name: its report on a problem of RENDERED_SIZE}, graded once."""
    path = tmp_path_factory.mktemp("rendered") / "rendered.yaml"
    path.write_text(PROBLEM_SET.format(**RENDERED_SIZE))
    problem_set = loader.load(path)
    return {name: grade(problem_set, (SUBMISSION.parent / name).resolve())
            for name in (SUBMISSION.name, "wrong_tanh_derivative.py")}


def traced_rendering(report) -> tuple[int, int]:
    """(bytes still traced, the traced peak) of rendering `report` in every shipped format."""
    registry.load_shipped()
    tracemalloc.start()
    try:
        for name in registry.SHIPPED:
            registry.render(name, report)
        return tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()


def dL_ds(report) -> Comparison:
    return next(o.comparison for o in report.problems[0].outputs if o.name == "dL_ds")


@pytest.mark.parametrize("submission", [SUBMISSION.name, "wrong_tanh_derivative.py"])
def test_rendering_every_format_peaks_below_half_an_output(rendered_reports, submission):
    report = rendered_reports[submission]
    output_bytes = dL_ds(report).expected.nbytes
    _, peak = traced_rendering(report)
    assert report.problems[0].status == ("passed" if submission == SUBMISSION.name else "failed")
    assert peak < RENDER_PEAK_OVER_OUTPUT * output_bytes


def test_rendering_leaves_nothing_whole_behind(rendered_reports):
    report = rendered_reports[SUBMISSION.name]
    derived = dL_ds(report)
    held, _ = traced_rendering(report)
    assert "got" not in vars(derived)
    assert held < HELD_OVER_OUTPUT * derived.expected.nbytes


def test_encoding_a_message_leaves_no_cycle_behind():
    """Its buffers go with the last reference to them, not at the garbage collector's next run:
    with the collector off, the arrays they view are freed as soon as the message and its parts
    are let go. (Counting what gc.collect() finds would count other threads' garbage too.)"""
    gc.disable()
    try:
        message = {"a": np.arange(12.0), "nested": [{"b": np.ones(3)}], "n": 1}
        arrays = [weakref.ref(message["a"]), weakref.ref(message["nested"][0]["b"])]
        parts = channel.encoded_parts(message)
        assert len(parts) == 3                  # the header, then a view of each array
        del message, parts
        assert [array() for array in arrays] == [None, None]
    finally:
        gc.enable()


def test_a_correct_submission_is_graded_without_its_expected_dx_made_whole(tmp_path, monkeypatch):
    """On a large problem's path (here every problem's: KEPT_STATE_NUMBERS = 0) CS231n's expected
    dx is a StepProduct, read a part at a time by grading a correct submission, diagnosis
    included: it is never made whole."""
    from grader import contracts
    from reference.step_product import StepProduct

    def made_whole(*_):
        raise AssertionError("the expected dx was made whole")
    monkeypatch.setattr(contracts, "KEPT_STATE_NUMBERS", 0)
    path = tmp_path / "small.yaml"
    path.write_text(PROBLEM_SET.format(N=2, T=70, D=4, H=3))
    problem_set = loader.load(path)
    assert isinstance(exercise(problem_set.problems[0], "backward").expected["dx"], StepProduct)
    monkeypatch.setattr(StepProduct, "__array__", made_whole)
    report = grade(problem_set, SUBMISSION.resolve())
    assert (report.problems[0].status, report.problems[0].score) == ("passed", 10.0)
