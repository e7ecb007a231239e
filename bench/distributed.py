"""Batch grading on Dask against the local pool, in one run:  python bench/distributed.py [--n N] [--repeat R]

The same class (N student folders, the shipped examples in turn; the shipped problem set
with its hidden problems) graded by `bptt-grade batch` five ways, each a fresh process:
the local pool with 1 and 2 jobs, `--scheduler local` with 1 and 2 workers, and an
external `dask scheduler` with two `dask worker --nworkers 1 --nthreads 1 --memory-limit 0`
processes on 127.0.0.1, started with the configuration the README gives for grading
workers (grader.cluster.QUIET_WORKERS, in a DASK_CONFIG file). Each way runs R times, the
ways in turn.

Two figures per way and run, both over the steady part (between the 10th and the 90th
percentile of the record's `graded` timestamps, start-up apart: it is shown as a note):
- the wall-clock seconds per submission, whose ratio between two ways of one run is Dask's
  per-task cost against the pool. Other jobs on a shared machine change it from run to run:
  each run's ratios are shown, not the best run of each way;
- the CPU seconds per submission of every process the way started (the batch, the
  scheduler, the workers and nannies, the zygotes and sandboxes: psutil, sampled every
  SAMPLE_SECONDS), which other jobs change little: Dask's own work per submission.
Goals: ≤ 10 % overhead at 2 workers (ratio ≥ 0.91), and 2 workers ≥ 1.7× one where the
machine has the cores (the pool's own 2-against-1 ratio shows how far it has them).
Needs the extra: pip install 'bptt-grade[distributed]'.
"""
import argparse
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [os.path.dirname(HERE), *(p for p in sys.path if os.path.abspath(p or ".") != HERE)]  # not Dask's

import distributed  # noqa: E402
import psutil  # noqa: E402
import yaml  # noqa: E402

from bench.batch_throughput import ROOT, SHIPPED_SET, make_class  # noqa: E402
from bench.table import Row, render  # noqa: E402
from grader.batch import Graded, Options, Store, write_report_files  # noqa: E402
from grader.cluster import QUIET_WORKERS  # noqa: E402

BIN = Path(sys.executable).parent
SAMPLE_SECONDS = 0.1
WAYS = {"pool-1": ("--jobs", "1"), "pool-2": ("--jobs", "2"), "local-1": ("--scheduler", "local", "--jobs", "1"),
        "local-2": ("--scheduler", "local", "--jobs", "2"), "external-2": ()}


def dask_config_file(folder: Path, config: dict) -> Path:
    """Dask configuration (dotted keys) as a YAML file in `folder`, for DASK_CONFIG: a file,
    not environment variables, as those cannot unset a key (their names are lower-cased)."""
    nested: dict = {}
    for key, value in config.items():
        *parents, last = key.split(".")
        inner = nested
        for parent in parents:
            inner = inner.setdefault(parent, {})
        inner[last] = value
    file = folder / "dask.yaml"
    file.write_text(yaml.safe_dump(nested))
    return file


@contextmanager
def external_cluster(folder: Path, workers: int):
    """A `dask scheduler` and `workers` `dask worker` processes on 127.0.0.1: its address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "TMPDIR": str(folder), "DASK_CONFIG": str(dask_config_file(folder, QUIET_WORKERS))}

    def start(*command: str) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "dask"), *command], env=env, cwd=folder, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    processes = [start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    try:
        processes += [start("worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                            "--memory-limit", "0", "--no-dashboard", "--local-directory", str(folder))
                      for _ in range(workers)]
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
    first, last = steady(times)
    return (times[last] - times[first]) / (last - first)


def steady(times: list[float]) -> tuple[int, int]:
    """The indices of the 10th and the 90th percentile of `times`."""
    return len(times) // 10, len(times) - 1 - len(times) // 10


class CpuMeter:
    """The CPU seconds used so far by this process's descendants (each one's own, and its
    children's that it waited for), sampled every SAMPLE_SECONDS from a thread while in use."""

    def __init__(self):
        self.samples: list[tuple[float, float]] = []     # (time.time(), CPU seconds)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stopped.wait(SAMPLE_SECONDS):
            total = 0.0
            for process in psutil.Process().children(recursive=True):
                try:
                    cpu = process.cpu_times()
                except psutil.Error:       # gone meanwhile
                    continue
                total += cpu.user + cpu.system + cpu.children_user + cpu.children_system
            self.samples.append((time.time(), total))

    def __enter__(self) -> "CpuMeter":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()

    def at(self, when: float) -> float:
        """The CPU seconds used at the time `when` (the last sample before it)."""
        return max((cpu for at, cpu in self.samples if at <= when), default=0.0)


@dataclass(frozen=True)
class Run:
    seconds: float          # wall-clock seconds per submission, steady
    cpu: float              # CPU seconds per submission, steady, all processes of the way
    whole: float            # wall-clock seconds of the whole batch


def batch(folder: Path, name: str, *options: str) -> Run:
    """One batch into folder/name, measured."""
    started = time.perf_counter()
    with CpuMeter() as meter:
        subprocess.run([sys.executable, "-m", "grader", "batch", str(SHIPPED_SET), str(folder / "class"),
                        "-o", str(folder / name), *options], cwd=ROOT, check=True, capture_output=True)
    whole = time.perf_counter() - started
    times = graded_at(folder / name)
    first, last = steady(times)
    return Run(steady_seconds_per_submission(times), (meter.at(times[last]) - meter.at(times[first])) / (last - first),
               whole)


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


def rows(n: int = 100, repeat: int = 2) -> list[Row]:
    """The figures: each way runs `repeat` times, in turn with the others; a row per run
    for each ratio (ratios within one run are what counts on a shared machine)."""
    runs: dict[str, list[Run]] = {name: [] for name in WAYS}
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        make_class(folder / "class", n)
        for i in range(repeat):
            for name, options in WAYS.items():
                if name != "external-2":
                    runs[name].append(batch(folder, f"{name}-{i}", *options))
                    continue
                (folder / f"cluster-{i}").mkdir()
                with external_cluster(folder / f"cluster-{i}", 2) as address:
                    runs[name].append(batch(folder, f"{name}-{i}", "--scheduler", address))
        record, report_bytes = recording(folder / "pool-2-0", folder / "recorded")
    figure, size = "Batch on Dask, s per submission", f"{n} submissions, {os.cpu_count()} cores"

    def row(name: str, ours: str, baseline_name: str, baseline: str, goal: str) -> list[Row]:
        return [Row(figure, f"{size}, run {i + 1}/{repeat}, {name}", mine.seconds, baseline_name, theirs.seconds, goal,
                    f"{1 / mine.seconds:.1f}/s against {1 / theirs.seconds:.1f}/s "
                    f"({mine.seconds / theirs.seconds - 1:+.0%} per task); CPU {mine.cpu * 1e3:.1f} against "
                    f"{theirs.cpu * 1e3:.1f} ms per submission; whole run {mine.whole:.1f} s against "
                    f"{theirs.whole:.1f} s", unit="s")
                for i, (mine, theirs) in enumerate(zip(runs[ours], runs[baseline], strict=True))]

    def cpu(name: str, ours: str, baseline_name: str, baseline: str) -> Row:
        mine, theirs = (statistics.median(run.cpu for run in runs[way]) for way in (ours, baseline))
        return Row("Batch on Dask, CPU s per submission", f"{size}, median of {repeat}, {name}", mine, baseline_name,
                   theirs, "", f"{(mine - theirs) * 1e3:+.1f} ms of CPU per submission (runs: "
                   + ", ".join(f"{a.cpu * 1e3:.1f} against {b.cpu * 1e3:.1f} ms"
                               for a, b in zip(runs[ours], runs[baseline], strict=True)) + ")", unit="s")
    return [*row("LocalCluster, 1 worker", "local-1", "local pool, 1 job", "pool-1", "≥ 0.91×"),
            *row("LocalCluster, 2 workers", "local-2", "local pool, 2 jobs", "pool-2", "≥ 0.91×"),
            *row("dask scheduler + 2 dask workers", "external-2", "local pool, 2 jobs", "pool-2", "≥ 0.91×"),
            *row("LocalCluster, 2 workers", "local-2", "LocalCluster, 1 worker", "local-1",
                 "≥ 1.7× where cores allow"),
            *row("local pool, 2 jobs", "pool-2", "local pool, 1 job", "pool-1", "(the cores' own scaling)"),
            cpu("LocalCluster, 2 workers", "local-2", "local pool, 2 jobs", "pool-2"),
            cpu("dask scheduler + 2 dask workers", "external-2", "local pool, 2 jobs", "pool-2"),
            Row("Batch's own work per result", f"{n} results, JSON reports of {report_bytes / 1e3:.0f} kB", record,
                "grading one on one worker (LocalCluster, 1 worker)", runs["local-1"][0].seconds, "",
                f"one batch process records the results of {runs['local-1'][0].seconds / record:.0f} "
                "one-thread workers")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="submissions in the class (default 100)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each way, in turn (default 2)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(render(rows(args.n, args.repeat)))
    print(f"({time.perf_counter() - started:.0f} s; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
