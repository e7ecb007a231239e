"""Batch grading throughput: N submissions (the shipped examples, correct and buggy, as
student folders) on the shipped problem set with its hidden problems, by one
`bptt-grade batch` with a job per core, against one `bptt-grade grade --include-hidden`
process per submission, run one after another (a shell loop) and a core's worth at a
time (xargs -P). Every command is a fresh process, as a user runs it; ratio =
baseline time / batch time, so submissions per second scale by the same factor.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.table import Row

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_SET = ROOT / "problem_sets" / "scalar_bptt.yaml"
EXAMPLES = ROOT / "examples"
KINDS = ["correct", "missing_recurrent_term", "seed_typo_phi_prime_of_h", "activation_derivative_at_h",
         "nonzero_boundary", "dw_uses_h_t", "truncated_recursion", "gradient_clipping"]


def make_class(folder: Path, n: int) -> list[Path]:
    """n student folders, the examples in turn, each with its helper module."""
    folder.mkdir()
    students = []
    for i in range(n):
        student = folder / f"student-{i:03d}"
        student.mkdir()
        shutil.copy(EXAMPLES / f"{KINDS[i % len(KINDS)]}.py", student / "rnn.py")
        shutil.copy(EXAMPLES / "student_math.py", student)
        students.append(student)
    return students


def grade_command(student: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "grade", str(SHIPPED_SET), str(student), "--include-hidden",
            "--format", "json", "--output", str(out / f"{student.name}.json")]


def timed(run) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def rows(n: int = 48) -> list[Row]:
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        students = make_class(folder / "class", n)
        (folder / "alone").mkdir()

        def batch():
            subprocess.run([sys.executable, "-m", "grader", "batch", str(SHIPPED_SET), str(folder / "class"),
                            "-o", str(folder / "batch"), "--jobs", str(jobs)], cwd=ROOT, check=True,
                           capture_output=True)

        def one(student):
            subprocess.run(grade_command(student, folder / "alone"), cwd=ROOT, capture_output=True)

        def loop():
            for student in students:
                one(student)

        def parallel():
            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(one, students))

        ours, sequential, side_by_side = timed(batch), timed(loop), timed(parallel)
    figure, size = "Batch grading, shipped set (10 problems)", f"{n} submissions, {jobs} cores"

    def rate(seconds: float) -> str:
        return f"{n / seconds:.1f} submissions/s"
    return [Row(figure, size, ours, "a grade process each, in turn", sequential, "> 1×",
                f"batch {rate(ours)}, baseline {rate(sequential)}"),
            Row(figure, size, ours, f"a grade process each, {jobs} at a time", side_by_side, "> 1×",
                f"baseline {rate(side_by_side)}")]
