"""Batch grading on Dask against the local pool, in one run:  python bench/distributed.py [--n N]

The same class (N student folders, the shipped examples in turn; the shipped problem set
with its hidden problems) graded by `bptt-grade batch` five ways, each a fresh process:
the local pool with 1 and 2 jobs, `--scheduler local` with 1 and 2 workers, and an
external `dask scheduler` with two `dask worker --nworkers 1 --nthreads 1` processes on
127.0.0.1. The rate is the steady one, from the record's `graded` timestamps between the
10th and the 90th percentile of submissions (start-up apart: it is shown as a note), so
the ratio of two rates is Dask's per-task cost against the pool. Goals: ≤ 10 % overhead at
2 workers (ratio ≥ 0.91), and 2 workers ≥ 1.7× one where the machine has the cores.
Needs the extra: pip install 'bptt-grade[distributed]'.
"""
import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing, contextmanager
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(HERE), *(p for p in sys.path if os.path.abspath(p or ".") != HERE)]  # not Dask's

import distributed  # noqa: E402

from bench.batch_throughput import ROOT, SHIPPED_SET, make_class  # noqa: E402
from bench.table import Row, render  # noqa: E402
from grader.batch import Graded, Options, Store, write_report_files  # noqa: E402

BIN = Path(sys.executable).parent


@contextmanager
def external_cluster(folder: Path, workers: int):
    """A `dask scheduler` and `workers` `dask worker` processes on 127.0.0.1: its address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "TMPDIR": str(folder)}

    def start(*command: str) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "dask"), *command], env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    processes = [start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    try:
        processes += [start("worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                            "--no-dashboard", "--local-directory", str(folder)) for _ in range(workers)]
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def graded_at(out: Path) -> list[float]:
    with closing(sqlite3.connect(out / "results.sqlite")) as db:
        return sorted(at for (at,) in db.execute("SELECT graded FROM results"))


def steady_seconds_per_submission(times: list[float]) -> float:
    """Seconds per submission between the 10th and the 90th percentile of completions."""
    first, last = len(times) // 10, len(times) - 1 - len(times) // 10
    return (times[last] - times[first]) / (last - first)


def batch(folder: Path, name: str, *options: str) -> tuple[float, float]:
    """(steady seconds per submission, whole wall-clock seconds) of one batch."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader", "batch", str(SHIPPED_SET), str(folder / "class"),
                    "-o", str(folder / name), *options], cwd=ROOT, check=True, capture_output=True)
    return steady_seconds_per_submission(graded_at(folder / name)), time.perf_counter() - started


def recording(out: Path, into: Path) -> tuple[float, float]:
    """(seconds per result, mean bytes of a JSON report) for what the batch's own process
    does with each result a worker returns: write its report atomically and record its row
    (the results of the batch into `out`, recorded again into `into`)."""
    with closing(sqlite3.connect(out / "results.sqlite")) as db:
        results = [Graded(student, submission, score, max_score, status, json.loads(problems), json.loads(reports))
                   for student, submission, score, max_score, status, problems, reports in db.execute(
                       "SELECT student, submission, score, max_score, status, problems, reports FROM results")]
    texts = {g.student: (out / g.reports["json"]).read_bytes() for g in results}
    store = Store(into / "results.sqlite", "bench", regrade_all=False)
    options = Options(into)
    started = time.perf_counter()
    for graded in results:
        write_report_files(graded.student, {"json": texts[graded.student]}, options)
        store.record(graded)
    seconds = time.perf_counter() - started
    store.close()
    return seconds / len(results), sum(len(text) for text in texts.values()) / len(results)


def rows(n: int = 200, repeat: int = 2) -> list[Row]:
    """The figures; each way is run `repeat` times, in turn with the others, and its best
    run kept (other jobs on the machine slow some runs by a third or more)."""
    ways = {"pool-1": ("--jobs", "1"), "pool-2": ("--jobs", "2"), "local-1": ("--scheduler", "local", "--jobs", "1"),
            "local-2": ("--scheduler", "local", "--jobs", "2")}
    runs: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        make_class(folder / "class", n)
        for i in range(repeat):
            for name, options in ways.items():
                runs.setdefault(name, []).append(batch(folder, f"{name}-{i}", *options))
            (folder / f"cluster-{i}").mkdir()
            with external_cluster(folder / f"cluster-{i}", 2) as address:
                runs.setdefault("external-2", []).append(batch(folder, f"external-2-{i}", "--scheduler", address))
        record, report_bytes = recording(folder / "pool-2-0", folder / "recorded")
    pool1, pool2, local1, local2, external2 = (min(runs[name]) for name in (*ways, "external-2"))
    figure, size = "Batch on Dask, s per submission", f"{n} submissions, {os.cpu_count()} cores"

    def row(name, ours, baseline_name, baseline, goal):
        overhead = ours[0] / baseline[0] - 1
        return Row(figure, f"{size}, {name}", ours[0], baseline_name, baseline[0], goal,
                   f"{1 / ours[0]:.1f}/s against {1 / baseline[0]:.1f}/s ({overhead:+.0%} per task, "
                   f"{(ours[0] - baseline[0]) * 1e3:+.1f} ms); whole run {ours[1]:.1f} s against {baseline[1]:.1f} s",
                   unit="s")
    return [row("LocalCluster, 1 worker", local1, "local pool, 1 job", pool1, "≥ 0.91×"),
            row("LocalCluster, 2 workers", local2, "local pool, 2 jobs", pool2, "≥ 0.91×"),
            row("dask scheduler + 2 dask workers", external2, "local pool, 2 jobs", pool2, "≥ 0.91×"),
            row("LocalCluster, 2 workers", local2, "LocalCluster, 1 worker", local1,
                "≥ 1.7× where cores allow"),
            row("local pool, 2 jobs", pool2, "local pool, 1 job", pool1, "(the cores' own scaling)"),
            Row("Batch's own work per result", f"{n} results, JSON reports of {report_bytes / 1e3:.0f} kB", record,
                "grading one on one worker (LocalCluster, 1 worker)", local1[0], "",
                f"one batch process records the results of {local1[0] / record:.0f} one-thread workers")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="submissions in the class (default 200)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way, the best kept (default 2)")
    args = parser.parse_args()
    print(render(rows(args.n, args.repeat)))


if __name__ == "__main__":
    main()
