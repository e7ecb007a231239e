"""A single `bptt-grade grade` (the path Gradescope, PrairieLearn and CI take for every
submission) against `python -c "import numpy"`, each a fresh process timed in the same
run, alternately, best of `repeat` (the machine is shared: the best run is the least
disturbed one; the note gives the median ratio of each grade to the import timed just
before it, which a load that changes during the run disturbs less), after one untimed run
of each that leaves the grader's modules compiled (as an installed package's are:
PYTHONDONTWRITEBYTECODE is left out). Also `import grader.cli` alone, what every command
pays before it runs.
"""
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.table import Row

ROOT = Path(__file__).resolve().parents[1]
GRADE = [sys.executable, "-m", "grader", "grade", str(ROOT / "problem_sets" / "scalar_bptt.yaml"),
         str(ROOT / "examples" / "correct.py")]
IMPORT_NUMPY = [sys.executable, "-c", "import numpy"]
IMPORT_CLI = [sys.executable, "-c", "import grader.cli"]
ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def wall_time(command: list[str]) -> float:
    """Seconds from starting `command` to its exit (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=ENVIRONMENT)
    return time.perf_counter() - started


def rows(repeat: int = 15) -> list[Row]:
    commands = {"numpy": IMPORT_NUMPY, "grade": GRADE, "cli": IMPORT_CLI}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for command in commands.values():
        wall_time(command)                # untimed: compiles what is not compiled yet
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(wall_time(command))
    best = {name: min(measured) for name, measured in times.items()}
    paired = statistics.median(grade / numpy for grade, numpy in zip(times["grade"], times["numpy"], strict=True))
    report = json.loads(subprocess.run([*GRADE, "--format", "json"], check=True, capture_output=True,
                                       text=True, cwd=ROOT, env=ENVIRONMENT).stdout)
    isolation = report["metadata"]["isolation"]
    baseline = 'python -c "import numpy"'
    return [Row("one `bptt-grade grade`, shipped scalar set, examples/correct.py", f"{isolation} isolation",
                best["grade"], baseline, best["numpy"], goal="≤ 3× the baseline (ratio ≥ 0.33×)",
                note=f"best of {repeat}, alternating; the median of the {repeat} back-to-back pairs' ratios: "
                     f"{paired:.2f}× the baseline"),
            Row("`import grader.cli`", "", best["cli"], baseline, best["numpy"], note=f"best of {repeat}")]
