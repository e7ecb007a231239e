"""Grading a CS231n-sized problem set, sandboxed: `bptt-grade grade --include-hidden` on
problem_sets/cs231n_rnn.yaml (6 problems, the larger one N = 16, T = 40, D = 40, H = 32)
with the CS231n-style examples/cs231n/rnn_layers.py, as a user runs it (a fresh process,
JSON to a file), against

- the same command on the scalar set (problem_sets/scalar_bptt.yaml, 10 problems);
- the submission's own rnn_forward and rnn_backward on every problem, in-process and
  unsandboxed: the floor that grading's cost adds to (the ratio < 1 is its overhead).
"""
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.table import Row, best_time
from grader import loader
from grader.contracts import exercise

ROOT = Path(__file__).resolve().parents[1]
CS231N_SET, SCALAR_SET = ROOT / "problem_sets" / "cs231n_rnn.yaml", ROOT / "problem_sets" / "scalar_bptt.yaml"
SUBMISSION, SCALAR_SUBMISSION = ROOT / "examples" / "cs231n" / "rnn_layers.py", ROOT / "examples" / "correct.py"


def grade_command(problem_set_path: Path, submission: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "grader", "grade", str(problem_set_path), str(submission), "--include-hidden",
            "--format", "json", "--output", str(out)]


def run_functions_in_process():
    """What the submission itself costs: its functions on every sequence problem's arguments."""
    spec = importlib.util.spec_from_file_location("rnn_layers", SUBMISSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = [exercise(p, "backward") for p in loader.load(CS231N_SET).problems if p.kind == "sequence"]

    def run():
        for call in calls:
            a = call.arguments()
            module.rnn_backward(a["dh"], module.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])[1])
    return run


def rows(repeat: int = 3) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"

        def grade(problem_set_path, submission):
            return lambda: subprocess.run(grade_command(problem_set_path, submission, out), cwd=ROOT, check=True)
        ours = best_time(grade(CS231N_SET, SUBMISSION), repeat)
        scalar = best_time(grade(SCALAR_SET, SCALAR_SUBMISSION), repeat)
    own = best_time(run_functions_in_process(), repeat)
    figure, size = "Grading, CS231n set, sandboxed", "6 problems, up to N·T·H = 20,480"
    return [Row(figure, size, ours, "the scalar set (10 problems), same command", scalar, "",
                "a fresh grade process each, as a user runs it"),
            Row(figure, size, ours, "the submission's own functions, in-process", own, "",
                "ratio < 1: the cost of the sandbox and the reference")]


if __name__ == "__main__":
    from bench.table import render
    print(render(rows()))
