"""Grading the largest vector problem of issue 15 (N = 8, T = 1,000, D = H = 256: 4.2 million
numbers, under the cap of 5,000,000; 2,048,000 steps of work, so the work cap is raised to
that, as `--max-work` does) with the CS231n example, as a user runs it: `bptt-grade grade
--format json --output FILE` in a fresh process (with and without --full-arrays), against
grading alone (grade_path, no report) in a fresh process, in the same run. Figures: wall time
and CPU time, as ratios against grading alone; the report's bytes against the arrays' .npz;
in this process (less noisy than the commands on a loaded machine), rendering the json and
text reports against the grading that produced them; and peak RSS against the problem's
arrays.

The problem's arrays (`problem_arrays_bytes`): its inputs x, h0, Wx, Wh, b and the upstream
dout, and its expected outputs h, dx, dh0, dWx, dWh, db, float64: 64.5 MB at the largest
size. Peak RSS (MiB) is given for each process apart: the `grade` command's (getrusage's
ru_maxrss; its sandboxes are forked by its zygote, whose children getrusage does not count),
and from one more run of grading alone (`grade_apart`: VmHWM, as ru_maxrss of a process
counts its parent's RSS when it was forked), the grader's peak, its RSS once its modules are
imported (the interpreter's own, before any array), and the sandbox's: the submission's
process, whose peak holds the student's own code's arrays.
"""
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from bench.table import Row, best_time
from grader import loader
from grader.contracts import Exercise, exercise
from grader.reports import render
from grader.submissions import grade_path
from reference import vector
from reference.step_sums import summed_products

ROOT = Path(__file__).resolve().parents[1]
SUBMISSION = ROOT / "examples" / "cs231n" / "rnn_layers.py"
WRONG = ROOT / "examples" / "cs231n" / "dprev_h_not_carried.py"     # every gradient wrong: all of diagnosis runs
LARGEST = {"N": 8, "T": 1000, "D": 256, "H": 256}
SAMPLE_SECONDS = 0.002     # between two looks at the sandbox's peak RSS
PROBLEM_SET = """\
schema_version: 1
title: the largest vector problem
contract: cs231n
defaults:
  limits: {{timeout: 600, memory_mb: 4096}}
problems:
  - id: largest
    points: 10
    sizes: {{N: {N}, T: {T}, D: {D}, H: {H}}}
    model: {{phi: tanh, loss: upstream}}
    params: {{random: {{seed: 17, scale: 0.05}}}}
    data: {{random: {{seed: 18}}}}
    grade: {{h: 2, dx: 2, dh0: 1, dWx: 2, dWh: 2, db: 1}}
"""
# Runs a command; prints its wall time (s), the CPU time of all its processes (s, user and
# system: steadier than wall time on a loaded machine) and the peak RSS (KiB) of the largest.
MEASURE = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], capture_output=True)
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print(time.perf_counter() - start, used.ru_utime + used.ru_stime, used.ru_maxrss)
"""
GRADE_ALONE = ("import sys; from grader import loader; from grader.submissions import grade_path; "
               "grade_path(loader.load(sys.argv[1], loader.SizeCaps(work=int(sys.argv[3]))), sys.argv[2])")


def work(sizes: dict) -> int:
    """The problem's steps of work, Σ N·T·H (what loader.SizeCaps.work bounds)."""
    return sizes["N"] * sizes["T"] * sizes["H"]


def problem_arrays_bytes(exercise: Exercise) -> int:
    """The bytes of a problem's arrays: the submission's arguments (the inputs x, h0, Wx, Wh, b
    and the upstream dout) and the expected outputs (h, dx, dh0, dWx, dWh, db), float64; an
    expected value kept as a product (a StepProduct) counts as the array it stands for."""
    values = (*exercise.arguments().values(), *exercise.expected.values())
    return sum(a.nbytes if hasattr(a, "nbytes") else np.asarray(a).nbytes for a in values)


def peak_kib(pid: int | str = "self") -> int:
    """The process's peak RSS so far (VmHWM, KiB): of its own memory since it last called exec,
    unlike getrusage's ru_maxrss, which starts from its parent's RSS when it was forked."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, through /proc/PID/task/TID/children."""
    found, below = [], [pid]
    while below:
        parent = below.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
            children = [int(child) for task in tasks
                        for child in Path(f"/proc/{parent}/task/{task}/children").read_text().split()]
        except OSError:                 # it has ended meanwhile
            continue
        found += children
        below += children
    return found


def grade_apart(problem_set: str, work_cap: int) -> None:
    """Grade the CS231n example as `grade_path` does (in a fresh process) and print three peak
    RSS, KiB: this process's once its modules are imported (the interpreter's own, before any
    array), this process's at the end, and the largest of the processes below it (the sandbox's
    worker, which runs the submission), sampled every SAMPLE_SECONDS while it grades."""
    imported = peak_kib()
    peaks: dict[int, int] = {}
    grading = threading.Event()

    def sample() -> None:
        while grading.is_set():
            for pid in descendants(os.getpid()):
                with contextlib.suppress(OSError, StopIteration):      # gone meanwhile
                    peaks[pid] = max(peaks.get(pid, 0), peak_kib(pid))
            time.sleep(SAMPLE_SECONDS)

    grading.set()
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        grade_path(loader.load(problem_set, loader.SizeCaps(work=work_cap)), SUBMISSION)
    finally:
        grading.clear()
        sampler.join()
    print(imported, peak_kib(), max(peaks.values(), default=0))


def peaks_apart(problem_set: Path, caps: loader.SizeCaps) -> tuple[float, float, float]:
    """`grade_apart`'s figures in MiB, from a fresh process."""
    done = subprocess.run([sys.executable, "-c", "import sys; from bench.largest_problem import grade_apart; "
                           "grade_apart(sys.argv[1], int(sys.argv[2]))", str(problem_set), str(caps.work)],
                          cwd=ROOT, check=True, capture_output=True, text=True)
    imported, grader_peak, sandbox_peak = (int(n) / 1024 for n in done.stdout.split())
    return imported, grader_peak, sandbox_peak


def measured(commands: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float, float]]:
    """{name: (the best wall time in s, the least CPU time in s, the largest peak RSS in MB)} of
    `repeat` runs of each command, taken in turn (so that a change in the machine's load falls
    on all of them)."""
    runs: dict[str, list[list[str]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(subprocess.run([sys.executable, "-c", MEASURE, *command], cwd=ROOT, check=True,
                                             capture_output=True, text=True).stdout.split())
    return {name: (min(float(run[0]) for run in each), min(float(run[1]) for run in each),
                   max(int(run[2]) for run in each) / 1024) for name, each in runs.items()}


def parameter_sums(problem, repeat: int) -> tuple[float, float]:
    """Seconds for ∂L/∂Wx and ∂L/∂Wh's sums over the batch and the steps on `problem`'s forward
    pass and ∂L/∂s_t: by summed_products, and by np.einsum as the reference had them."""
    f = problem.forward()
    ds = vector.backward(problem.rnn, f)["dL_ds"]
    ours = best_time(lambda: (summed_products(f.x, ds), summed_products(f.h[:, :-1], ds)), repeat)
    einsum = best_time(lambda: (np.einsum("ntd,nth->dh", f.x, ds), np.einsum("ntk,nth->kh", f.h[:, :-1], ds)),
                       repeat)
    return ours, einsum


def rows(sizes: dict | None = None, repeat: int = 3) -> list[Row]:
    sizes = sizes or LARGEST
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        problem_set = folder / "largest.yaml"
        problem_set.write_text(PROBLEM_SET.format(**sizes))
        caps = loader.SizeCaps(work=max(work(sizes), loader.SizeCaps.work))
        arrays_mb = problem_arrays_bytes(exercise(loader.load(problem_set, caps).problems[0], "backward")) / 2**20
        report = folder / "report.json"
        grade = [sys.executable, "-m", "grader", "grade", str(problem_set), str(SUBMISSION), "--format", "json",
                 "--output", str(report), "--max-work", str(caps.work)]
        figures = measured({"alone": [sys.executable, "-c", GRADE_ALONE, str(problem_set), str(SUBMISSION),
                                      str(caps.work)],
                            "full": [*grade, "--full-arrays"], "grade": grade}, repeat)
        (alone_s, alone_cpu, _), (grade_s, grade_cpu, grade_mb), (full_s, full_cpu, full_mb) = (
            figures["alone"], figures["grade"], figures["full"])
        report_mb = report.stat().st_size / 2**20     # of the last run, `grade` without --full-arrays
        npz_mb = report.with_suffix(".npz").stat().st_size / 2**20
        imported_mb, grader_mb, sandbox_mb = peaks_apart(problem_set, caps)
        graded = []
        grading_s = best_time(lambda: graded.append(grade_path(loader.load(problem_set, caps), SUBMISSION)), 1)
        wrong_s = best_time(lambda: grade_path(loader.load(problem_set, caps), WRONG), 1)
        sums_s, einsum_s = parameter_sums(loader.load(problem_set, caps).problems[0], repeat)
    rendering_s = {name: best_time(lambda name=name: render(name, graded[0]), repeat) for name in ("json", "text")}
    figure = "Grading the largest vector problem"
    size = ", ".join(f"{k} = {v:,}" for k, v in sizes.items())
    alone = "grading alone (grade_path, no report)"
    arrays = "the problem's arrays (inputs and expected outputs)"
    return [Row(figure, size, grade_s, alone, alone_s, "≥ 0.67× (≤ 1.5×)", "`grade --format json --output`"),
            Row(figure, size, full_s, alone, alone_s, "", "the same with --full-arrays"),
            Row(figure + ", CPU time", size, grade_cpu, alone, alone_cpu, "≥ 0.67× (≤ 1.5×)",
                f"every process's user + system time; --full-arrays: {full_cpu:.2f} s"),
            Row(figure + ", peak RSS of the grader", size, grade_mb, arrays, arrays_mb, "≥ 0.5× (≤ 2×)",
                f"`grade`: {grade_mb / arrays_mb:.2f}× the arrays, a {report_mb:.3f} MB report in {grade_s:.2f} s; "
                f"--full-arrays: {full_mb:.0f} MB", unit=" MB"),
            Row(figure + ", peak RSS of the grader above its imports", size, grader_mb - imported_mb, arrays,
                arrays_mb, "", f"{(grader_mb - imported_mb) / arrays_mb:.2f}× the arrays: grading alone peaks at "
                f"{grader_mb:.0f} MB, {imported_mb:.0f} MB once imported", unit=" MB"),
            Row(figure + ", peak RSS of the submission's process", size, sandbox_mb, arrays, arrays_mb, "",
                f"{sandbox_mb / arrays_mb:.2f}× the arrays: the CS231n example's own arrays included", unit=" MB"),
            Row(figure + ", JSON report", size, report_mb, "the arrays whole (--full-arrays' .npz)", npz_mb,
                "≤ 1 MB", unit=" MB"),
            Row(figure + ", a wrong submission", size, wrong_s, "the correct one (grade_path), in-process", grading_s,
                "", f"{WRONG.name}: every gradient wrong, every catalogue mistake run"),
            Row(figure + ", the reference's sums Σ_t x_tᵀ·∂L/∂s_t and Σ_t h_{t−1}ᵀ·∂L/∂s_t", size, sums_s,
                "np.einsum (no BLAS), what they were", einsum_s, "",
                "step_sums.summed_products; each mistake's run and the term check compute them again"),
            *(Row(figure + f", rendering the {name} report", size, seconds, "the grading (grade_path), in-process",
                  grading_s, "", "in this process") for name, seconds in rendering_s.items())]


if __name__ == "__main__":
    from bench import table
    print(table.render(rows()))
