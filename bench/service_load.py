"""Load test of `bptt-grade serve` on loopback, beside `bptt-grade batch` on the same
submissions in the same run:

    python bench/service_load.py [--students 50] [--submissions 10] [--workers N]

Each of `students` concurrent clients submits `submissions` shipped examples one after the
other, each once the previous is graded (a closed loop). Printed: submissions/s of the
service and of batch (and their ratio), p50/p99 of submit→graded (the server's own
timestamps), the same unloaded (one client) against one in-process grade call, errors
(non-202 answers, failed_to_grade, lost), and the server's peak RSS (server and workers)
sampled as the run goes. Bounded: it gives up after --max-seconds and stops the server.
"""
import argparse
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import select  # noqa: E402

from grader import loader  # noqa: E402
from grader.grading import prepare_exercises  # noqa: E402
from grader.service.store import Store, submissions  # noqa: E402
from grader.submissions import grade_path  # noqa: E402

POLL_SECONDS = 0.25       # a client asking for its report: latency is read from the server's timestamps
PROBLEM_SET = ROOT / "problem_sets" / "scalar_bptt.yaml"
EXAMPLES = ["correct", "seed_typo_phi_prime_of_h", "missing_recurrent_term", "nonzero_boundary",
            "truncated_recursion", "dw_uses_h_t", "loss_derivative_sign", "dh0_missing_w"]


def example_zip(name: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for module in (name, "student_math"):
            archive.write(ROOT / "examples" / f"{module}.py", f"{module}.py")
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the process group, in MiB."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            with open(f"/proc/{pid}/status") as status:
                total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total / 1024


class Server:
    def __init__(self, data: Path, workers: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader", "serve", "--data", str(data), "--port", str(self.port),
             "--workers", str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).json()["ok"]:
                    return
            except (httpx.HTTPError, ValueError):
                time.sleep(0.2)
        raise SystemExit("the server did not start")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def run_clients(server: Server, tokens: list[str], per_client: int, uploads: dict, deadline: float,
                counts: dict) -> list[str]:
    """Every client's closed loop; the ids accepted."""
    accepted, lock = [], threading.Lock()

    def client(index: int, token: str):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
            for k in range(per_client):
                name = EXAMPLES[(index + k) % len(EXAMPLES)]
                response = http.post("/api/v1/problem-sets/1/submissions",
                                     files={"file": (f"{name}.zip", uploads[name], "application/zip")})
                if response.status_code != 202:
                    with lock:
                        counts["refused"] += 1
                    continue
                url = response.json()["report_url"]
                with lock:
                    accepted.append(response.json()["id"])
                while time.monotonic() < deadline:
                    if http.get(url).json()["status"] in ("graded", "failed_to_grade"):
                        break
                    time.sleep(POLL_SECONDS)
    threads = [threading.Thread(target=client, args=(i, t)) for i, t in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted


def latencies(store: Store, ids: list[str]) -> tuple[list[float], int, int]:
    """(submit→graded seconds of the graded, how many failed to grade, how many not finished)."""
    with store.reading() as connection:
        rows = connection.execute(select(submissions.c.status, submissions.c.submitted_at, submissions.c.finished_at)
                                  .where(submissions.c.id.in_(ids))).all()
    graded = [r.finished_at - r.submitted_at for r in rows if r.status == "graded"]
    failed = sum(r.status == "failed_to_grade" for r in rows)
    return graded, failed, len(ids) - len(graded) - failed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def batch_seconds(folder: Path, out: Path, workers: int) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "grader", "batch", str(PROBLEM_SET), str(folder), "-o", str(out),
                    "--jobs", str(workers)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=50)
    parser.add_argument("--submissions", type=int, default=10, help="per student")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--unloaded", type=int, default=20, help="submissions of the one-client phase")
    parser.add_argument("--max-seconds", type=float, default=900)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bptt-grade-load-"))
    uploads = {name: example_zip(name) for name in EXAMPLES}
    problem_set = loader.load(PROBLEM_SET)
    prepared = prepare_exercises(problem_set, include_hidden=True)
    in_process = []
    for name in EXAMPLES:
        started = time.monotonic()
        grade_path(problem_set, ROOT / "examples" / f"{name}.py", include_hidden=True, prepared=prepared)
        in_process.append(time.monotonic() - started)
    grade_p50 = statistics.median(in_process)

    data = work / "data"
    data.mkdir()
    store = Store.open(f"sqlite:///{data / 'service.sqlite'}")
    instructor = store.create_token("bench", "instructor")
    tokens = [store.create_token(f"student{i}", "student") for i in range(args.students)]
    server = Server(data, args.workers)
    counts = {"refused": 0}
    peak = [0.0]
    samples: list[float] = []
    sampling = threading.Event()

    def sample():
        while not sampling.wait(0.5):
            rss = group_rss_mb(server.process.pid)
            peak[0] = max(peak[0], rss)
            samples.append(rss)
    try:
        response = httpx.post(f"{server.url}/api/v1/problem-sets", content=PROBLEM_SET.read_bytes(), timeout=60,
                              headers={"Authorization": f"Bearer {instructor}", "Content-Type": "application/yaml"})
        assert response.status_code == 201, response.text
        deadline = time.monotonic() + args.max_seconds
        unloaded = run_clients(server, tokens[:1], args.unloaded, uploads, deadline, counts)
        threading.Thread(target=sample, daemon=True).start()
        started = time.monotonic()
        loaded = run_clients(server, tokens, args.submissions, uploads, deadline, counts)
        service_seconds = time.monotonic() - started
    finally:
        sampling.set()
        server.stop()
    quiet, quiet_failed, quiet_lost = latencies(store, unloaded)
    busy, failed, lost = latencies(store, loaded)
    store.close()

    folder = work / "class"
    folder.mkdir()
    for i in range(len(loaded)):
        name = EXAMPLES[i % len(EXAMPLES)]
        (folder / f"s{i:05d}").mkdir()
        for module in (name, "student_math"):
            shutil.copy(ROOT / "examples" / f"{module}.py", folder / f"s{i:05d}" / f"{module}.py")
    batch = batch_seconds(folder, work / "batch-out", args.workers)
    shutil.rmtree(work, ignore_errors=True)

    service_rate, batch_rate = len(busy) / service_seconds, len(loaded) / batch
    third = max(1, len(samples) // 3)
    print(f"bptt-grade serve under load: {args.students} students x {args.submissions} submissions, "
          f"{args.workers} workers, {os.cpu_count()} cores")
    print(f"  one in-process grade call (median of {len(in_process)}): {grade_p50 * 1000:.0f} ms")
    quiet_p50 = percentile(quiet, .5)
    print(f"  unloaded (1 client, {len(unloaded)} submissions): submit->graded p50 {quiet_p50 * 1000:.0f} ms "
          f"= {quiet_p50 / grade_p50:.2f} x the in-process call; p99 {percentile(quiet, .99) * 1000:.0f} ms")
    print(f"  loaded: {len(busy)} graded in {service_seconds:.1f} s = {service_rate:.1f} submissions/s; "
          f"submit->graded p50 {percentile(busy, .5) * 1000:.0f} ms, p99 {percentile(busy, .99) * 1000:.0f} ms")
    print(f"  batch on the same {len(loaded)} submissions: {batch:.1f} s = {batch_rate:.1f} submissions/s; "
          f"service / batch = {service_rate / batch_rate:.2f}")
    print(f"  errors: {counts['refused']} refused, {failed + quiet_failed} failed_to_grade, "
          f"{lost + quiet_lost} not finished")
    if samples:
        print(f"  peak RSS of server and workers: {peak[0]:.0f} MiB (first third mean "
              f"{statistics.mean(samples[:third]):.0f} MiB, last third {statistics.mean(samples[-third:]):.0f} MiB)")


if __name__ == "__main__":
    main()
