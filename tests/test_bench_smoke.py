"""The benchmark suite runs and its small figures point the right way. Loose on purpose:
timings belong in bench/, not in unit tests; this only keeps the scripts from rotting."""
import subprocess
import sys

import pytest

from bench import diagnosis_cost, fd_accuracy, fd_scalar
from tests.conftest import ROOT


def test_batched_fd_beats_the_per_element_loop_at_T_100():
    rows = [r for r in fd_scalar.rows(sizes=(100,)) if r.baseline_name == "per-element loop"]
    assert len(rows) == 1 and rows[0].ratio > 1


def test_complex_step_is_more_accurate_than_central_differences_everywhere():
    rows = fd_accuracy.rows()
    assert len(rows) == len(fd_accuracy.REGIMES) + len(fd_accuracy.VECTOR_REGIMES)
    assert all(r.ours <= 1e-10 and r.ratio > 1 for r in rows)


def test_diagnosis_cost_is_measured_against_one_reference_backward():
    rows = diagnosis_cost.rows(sizes=(10,), end_to_end=False)
    assert [(r.figure, r.baseline_name) for r in rows] == [
        ("diagnosis, per failing problem", "one reference backward")]
    assert rows[0].ours > 0 and rows[0].baseline > 0


@pytest.mark.slow
def test_bench_run_quick_prints_the_table():
    done = subprocess.run([sys.executable, "bench/run.py", "--quick"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert all(figure in done.stdout for figure in ("FD check, scalar", "FD accuracy", "Batch grading",
                                                    "sandbox overhead", "containment", "one `bptt-grade grade`",
                                                    "Memory, batch peak RSS", "FD check, vector",
                                                    "Grading, CS231n set", "Grading the largest vector problem"))
