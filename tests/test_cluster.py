"""Grading on a Dask cluster (`batch --scheduler`): `dask scheduler` and `dask worker`
processes on 127.0.0.1 started and stopped by each test, or a LocalCluster; a worker
SIGKILLed mid-batch, a submission whose worker dies every time (alone, or in a chunk), a
lost scheduler, and a worker without the requested sandbox level."""
import collections
import contextlib
import csv
import io
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import grader.batch  # noqa: E402
import grader.cluster  # noqa: E402
import grader.uid_pool  # noqa: E402
from grader.cli import main  # noqa: E402
from grader.cluster import MAX_CHUNK, Packed, chunk_size, describe_levels, level_used, pack, unpack  # noqa: E402
from grader.uid_pool import UID_POOL  # noqa: E402
from tests.conftest import ROOT  # noqa: E402
from tests.test_batch import SET, kill_leftover_processes, recorded, recorded_so_far  # noqa: E402
from tests.test_batch import write_submission as write_example  # noqa: E402
from tests.test_hardening import ROOT_ONLY, printed_uids, rlimits_batch  # noqa: E402
from tests.test_uid_pool import owned_by  # noqa: E402

BIN = Path(sys.executable).parent
HOSTILE_FILES = ROOT / "tests" / "hostile"
# kind → how many: an example as a folder (with its helper), a hostile file, or an inline hostile one
CLASS = {"correct": 23, "missing_recurrent_term": 8, "seed_typo_phi_prime_of_h": 8, "dw_uses_h_t": 8,
         "truncated_recursion": 8, "nonzero_boundary": 8, "forged_stdout": 3, "sys_exit": 3, "os_exit": 3,
         "nan_inf": 3, "wrong_shapes": 3, "segfault": 3, "returns_none": 3, "forged_result": 3, "import_reference": 3,
         "no_entry_point": 2, "raises": 3, "syntax-error": 3, "hangs": 2}
TIMEOUT = "1"


def write_class(folder: Path, sizes: dict[str, int]) -> dict[str, str]:
    """A class of submissions in `folder`, named KIND-NN; student → kind."""
    folder.mkdir()
    kinds = {}
    for kind, count in sizes.items():
        for i in range(count):
            student = f"{kind}-{i:02d}"
            kinds[student] = kind
            if (HOSTILE_FILES / f"{kind}.py").exists():
                shutil.copy(HOSTILE_FILES / f"{kind}.py", folder / f"{student}.py")
            else:
                write_example(folder, kind, student)
    return kinds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`dask scheduler` and `workers` × `dask worker --nworkers 1 --nthreads 1` on
    127.0.0.1, each in its own process group, their temporary files under `folder`."""

    def __init__(self, folder: Path, workers: int, env: dict | None = None):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.folder = folder
        self.env = {**os.environ, "TMPDIR": str(folder),
                    "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", **(env or {})}     # tests/: this module's plugin
        folder.mkdir(exist_ok=True)
        self._launch(workers)

    def _launch(self, workers: int) -> None:
        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                                     "--no-dashboard")
        self.workers = [self.start_worker() for _ in range(workers)]
        with distributed.Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def _start(self, command: str, *arguments: str) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "dask"), command, *arguments], env=self.env, cwd=self.folder,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def start_worker(self) -> subprocess.Popen:
        return self._start("worker", self.address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                           "--no-dashboard", "--local-directory", str(self.folder))

    @staticmethod
    def kill(process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            self.kill(process)
        kill_leftover_processes(self.folder)      # sandboxes of a killed worker (their own sessions)

    def restart(self) -> None:
        """Start the scheduler and as many workers as before again, at the same address."""
        self._launch(len(self.workers))


@pytest.fixture
def clusters(tmp_path):
    """Start a Cluster(folder, workers, env) with clusters(...); every one is stopped after the test."""
    started = []

    def start(workers: int = 2, env: dict | None = None) -> Cluster:
        started.append(Cluster(tmp_path / f"cluster-{len(started)}", workers, env))
        return started[-1]
    yield start
    for cluster in started:
        cluster.stop()


def batch(folder: Path, out: str, *options: str) -> int:
    return main(["batch", str(folder / "set.yaml"), str(folder / "class"), "-o", str(folder / out),
                 "--timeout", TIMEOUT, *options])


def reports(out: Path) -> dict[str, dict]:
    """Each student's JSON report, without its timing."""
    found = {}
    for path in sorted((out / "json").iterdir()):
        report = json.loads(path.read_text())
        del report["metadata"]["execution_time"]
        found[path.stem] = report
    return found


def statuses(out: Path) -> dict[str, str]:
    """student → status in the record of the batch into `out`."""
    with contextlib.closing(sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True)) as db:
        return dict(db.execute("SELECT student, status FROM results"))


def rows(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return list(csv.DictReader(f))


def count_records(monkeypatch) -> collections.Counter:
    """How many times the batch records each student (Store.record)."""
    counts = collections.Counter()
    record = grader.batch.Store.record

    def counted(store, graded):
        counts[graded.student] += 1
        record(store, graded)
    monkeypatch.setattr(grader.batch.Store, "record", counted)
    return counts


def when_recorded(folder: Path, out: str, count: int, then) -> threading.Thread:
    """Call `then()` (in a thread) once the batch writing into `folder / out` has recorded `count`."""
    def watch():
        deadline = time.monotonic() + 120
        while recorded_so_far(folder, out) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        then()
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------------------- no cluster


def test_a_folder_is_sent_zipped_and_unpacked_whole(tmp_path):
    (tmp_path / "ada" / "lib").mkdir(parents=True)
    (tmp_path / "ada" / "rnn.py").write_text("import lib.maths\n")
    (tmp_path / "ada" / "lib" / "maths.py").write_text("X = 1\n")
    (tmp_path / "ada" / "secret").symlink_to("/etc/hostname")
    packed = pack(tmp_path / "ada")
    assert (packed.name, packed.folder) == ("ada", True)
    (tmp_path / "worker").mkdir()
    unpacked = unpack(packed, tmp_path / "worker")
    assert unpacked == tmp_path / "worker" / "ada"
    assert sorted(str(p.relative_to(unpacked)) for p in unpacked.rglob("*")) == ["lib", "lib/maths.py", "rnn.py"]
    assert (unpacked / "lib" / "maths.py").read_text() == "X = 1\n"


def test_a_file_is_sent_as_its_bytes(tmp_path):
    (tmp_path / "bob.py").write_bytes(b"def backward(trace):\n    return {}\n\xff")
    packed = pack(tmp_path / "bob.py")
    assert packed == Packed("bob.py", False, b"def backward(trace):\n    return {}\n\xff")
    (tmp_path / "worker").mkdir()
    assert unpack(packed, tmp_path / "worker").read_bytes() == packed.content


def test_a_zip_that_unpacks_too_large_is_refused(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rnn.py", "#" * 2000)
    monkeypatch.setattr(grader.cluster, "MAX_PACKED_BYTES", 1000)
    (tmp_path / "worker").mkdir()
    with pytest.raises(grader.errors.UsageError, match="^the submission unpacks to more than 0 MB$"):
        unpack(Packed("ada", True, buffer.getvalue()), tmp_path / "worker")


def test_worker_levels_are_described_by_count():
    assert describe_levels({"tcp://a": "namespaces", "tcp://b": "namespaces"}) == "2 workers, sandbox namespaces"
    assert describe_levels({"tcp://a": "namespaces"}) == "1 worker, sandbox namespaces"
    assert describe_levels({"tcp://a": "rlimits", "tcp://b": "namespaces", "tcp://c": "rlimits"}) == (
        "3 workers, sandbox namespaces on 1, rlimits on 2")


def test_a_worker_grades_at_the_level_asked_for_or_auto_s_and_is_unavailable_when_it_cannot():
    levels = {"auto": "rlimits", "unavailable": {"namespaces": "unshare is not installed", "rlimits": None}}
    assert [level_used(levels, isolation) for isolation in ("auto", "rlimits", "namespaces")] == [
        "rlimits", "rlimits", "unavailable"]


def test_a_chunk_is_single_until_a_rate_is_known_then_a_second_s_worth_and_single_again_at_the_end():
    assert chunk_size(100, 2, None) == 1
    assert chunk_size(100, 2, 0.05) == MAX_CHUNK == 8       # 20 a second; a 4th of what waits is 25
    assert chunk_size(100, 2, 0.25) == 4                    # 4 a second
    assert chunk_size(100, 2, 3.0) == 1
    assert chunk_size(100, 2, 0.0) == 8
    assert chunk_size(20, 2, 0.05) == 5                     # each thread's 10 in 2 chunks at least
    assert chunk_size(7, 1, 0.05) == 3
    assert chunk_size(3, 2, 0.05) == 1


def test_a_worker_announces_once_each_submission_graded_for_a_tick_or_more(monkeypatch):
    class Worker:
        events = []

        def log_event(self, topic, message):
            self.events.append((topic, message))
    monkeypatch.setattr(grader.cluster, "TICK", 0.05)
    now = time.monotonic()
    monkeypatch.setattr(grader.cluster, "_grading", {1: ("ada", now - 10), 2: ("bob", now + 3600)})
    stop = threading.Event()
    announcer = threading.Thread(target=grader.cluster.announce_long_gradings, args=(Worker(), stop))
    announcer.start()
    while len(Worker.events) < 1:
        time.sleep(0.01)
    time.sleep(0.2)                 # a few more ticks: nothing more to announce
    stop.set()
    announcer.join()
    [(topic, (student, seconds))] = Worker.events
    assert (topic, student) == (grader.cluster.STARTED, "ada") and seconds >= 10


@pytest.fixture
def small_class(tmp_path):
    (tmp_path / "set.yaml").write_text(SET)
    write_class(tmp_path / "class", {"correct": 1, "missing_recurrent_term": 1, "raises": 1, "no-entry-file": 1})
    return tmp_path


def test_scheduler_without_dask_says_how_to_install_it(small_class, monkeypatch, capsys):
    real = grader.batch.importlib.util.find_spec
    monkeypatch.setattr(grader.batch.importlib.util, "find_spec",
                        lambda name, *args: None if name == "distributed" else real(name, *args))
    assert batch(small_class, "out", "--scheduler", "local") == 2
    assert capsys.readouterr().err == ("bptt-grade: --scheduler needs Dask distributed: "
                                       "pip install 'bptt-grade[distributed]'\n")


def test_a_scheduler_address_without_a_scheme_exits_2(small_class, capsys):
    assert batch(small_class, "out", "--scheduler", "127.0.0.1:8786") == 2
    assert capsys.readouterr().err == ("bptt-grade: --scheduler '127.0.0.1:8786' is not a Dask scheduler's address "
                                       "(tcp://HOST:PORT or tls://HOST:PORT) nor 'local'\n")


def test_an_unreachable_scheduler_exits_2(small_class, monkeypatch, capsys):
    monkeypatch.setattr(grader.cluster, "CONNECT_SECONDS", 0.5)
    address = f"tcp://127.0.0.1:{free_port()}"
    assert batch(small_class, "out", "--scheduler", address) == 2
    assert capsys.readouterr().err.startswith(f"bptt-grade: cannot reach the Dask scheduler at {address}: ")


def test_a_tls_address_without_dask_s_tls_configuration_exits_2(small_class, capsys):
    assert batch(small_class, "out", "--scheduler", f"tls://127.0.0.1:{free_port()}") == 2
    assert capsys.readouterr().err.endswith("(perhaps check your TLS configuration?) Instead got None\n")


def test_the_bench_times_recording_a_batch_s_results(small_class):
    from bench.distributed import recording
    assert batch(small_class, "out") == 0
    seconds, report_bytes = recording(small_class / "out", small_class / "again")
    assert seconds > 0 and report_bytes > 1000
    assert sorted(p.name for p in (small_class / "again" / "json").iterdir()) == sorted(
        p.name for p in (small_class / "out" / "json").iterdir())


def test_the_bench_s_external_workers_read_the_quiet_settings_from_a_file_that_can_unset_malloc_s_trim(tmp_path):
    import dask.config

    from bench.distributed import dask_config_file
    read = dask.config.collect([str(dask_config_file(tmp_path, grader.cluster.QUIET_WORKERS))], env={})
    assert {key: dask.config.get(key, config=read) for key in grader.cluster.QUIET_WORKERS} == \
        grader.cluster.QUIET_WORKERS
    assert read["distributed"]["nanny"]["pre-spawn-environ"] == {"MALLOC_TRIM_THRESHOLD_": None}


# ---------------------------------------------------------------------------- clusters


@pytest.mark.slow
def test_a_local_cluster_grades_as_a_local_batch_and_leaves_no_submission_behind(small_class, monkeypatch, capsys):
    assert batch(small_class, "here", "--jobs", "2") == 0
    (small_class / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(small_class / "tmp"))        # the workers' (new processes)
    assert batch(small_class, "there", "--jobs", "2", "--scheduler", "local") == 0
    assert "bptt-grade batch: grading on local: 2 workers, sandbox " in capsys.readouterr().err
    assert (small_class / "there" / "gradebook.csv").read_text() == (small_class / "here" / "gradebook.csv").read_text()
    assert reports(small_class / "there") == reports(small_class / "here")
    assert [p.name for p in (small_class / "tmp").iterdir() if p.name.startswith("bptt-grade")] == []


@pytest.mark.slow
def test_a_local_cluster_s_workers_run_without_the_profiler_and_with_glibc_s_own_heap_trimming():
    import dask.config

    def settings() -> tuple:
        return os.environ.get("MALLOC_TRIM_THRESHOLD_"), dask.config.get("distributed.worker.profile.enabled")
    with grader.cluster.connected(grader.cluster.LOCAL, 1) as client:
        assert list(client.run(settings).values()) == [(None, False)]


@pytest.mark.slow
def test_100_submissions_with_a_worker_killed_midway_grade_as_a_local_batch_each_recorded_once(
        tmp_path, clusters, monkeypatch, capsys):
    (tmp_path / "set.yaml").write_text(SET)
    kinds = write_class(tmp_path / "class", CLASS)
    assert len(kinds) == 100
    cluster = clusters(workers=2)
    assert batch(tmp_path, "here", "--jobs", "2") == 0
    counts = count_records(monkeypatch)
    killer = when_recorded(tmp_path, "there", 30, lambda: Cluster.kill(cluster.workers[0]))
    assert batch(tmp_path, "there", "--scheduler", cluster.address) == 0
    killer.join()
    assert cluster.workers[0].returncode == -signal.SIGKILL
    assert f"bptt-grade batch: grading on {cluster.address}: 2 workers, sandbox " in capsys.readouterr().err
    assert counts == {student: 1 for student in kinds}
    assert {run for run, _ in recorded(tmp_path, "there").values()} == {1}
    assert rows(tmp_path / "there") == rows(tmp_path / "here")
    here, there = reports(tmp_path / "here"), reports(tmp_path / "there")
    assert there.keys() == here.keys() == kinds.keys()
    assert {s for s in kinds if there[s] != here[s]} == set()


class KillsItsWorker(distributed.WorkerPlugin):
    """SIGKILLs the worker that starts grading any student whose id starts with `student`,
    alone or in a chunk, or that starts a task whose key starts with "bptt-grade " and it
    (as a submission that could reach its worker would)."""
    name = "kills its worker"

    def __init__(self, student: str):
        self.student = student

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and str(key).startswith(f"bptt-grade {self.student}"):
            os.kill(os.getpid(), signal.SIGKILL)

    def setup(self, worker):
        grade = grader.cluster.grade_packed

        def grade_or_die(digest, student, *arguments):
            if student.startswith(self.student):
                os.kill(os.getpid(), signal.SIGKILL)
            return grade(digest, student, *arguments)
        grader.cluster.grade_packed = grade_or_die


@pytest.mark.slow
def test_a_submission_whose_worker_dies_every_time_is_failed_to_grade_after_the_allowed_failures(
        small_class, clusters, capsys):
    cluster = clusters(workers=2, env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
                                       "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"})
    with distributed.Client(cluster.address) as client:
        client.register_plugin(KillsItsWorker("raises"))
    assert batch(small_class, "out", "--scheduler", cluster.address) == 1
    assert capsys.readouterr().err.endswith(
        "bptt-grade: raises-00 failed_to_grade (every worker grading it died (2 tries, the scheduler's "
        "distributed.scheduler.allowed-failures + 1)): run batch again to grade it\n")
    assert [row["status"] for row in rows(small_class / "out")] == ["passed", "failed", "error", "failed_to_grade"]


@pytest.mark.slow
def test_a_chunk_whose_worker_dies_every_time_is_sent_again_one_by_one_and_only_the_culprit_is_failed_to_grade(
        tmp_path, clusters, monkeypatch, capsys):
    (tmp_path / "set.yaml").write_text(SET)
    kinds = write_class(tmp_path / "class", {"correct": 2, "missing_recurrent_term": 2, "raises": 2})
    monkeypatch.setattr(grader.cluster, "chunk_size", lambda waiting, threads, seconds_each: 3)
    cluster = clusters(workers=2, env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
                                       "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"})
    with distributed.Client(cluster.address) as client:
        client.register_plugin(KillsItsWorker("raises-01"))
    counts = count_records(monkeypatch)
    assert batch(tmp_path, "out", "--scheduler", cluster.address) == 1
    assert capsys.readouterr().err.endswith(
        "bptt-grade: raises-01 failed_to_grade (every worker grading it died (2 tries, the scheduler's "
        "distributed.scheduler.allowed-failures + 1)): run batch again to grade it\n")
    assert counts == {student: 1 for student in kinds}
    assert {row["student"]: row["status"] for row in rows(tmp_path / "out")} == {
        "correct-00": "passed", "correct-01": "passed", "missing_recurrent_term-00": "failed",
        "missing_recurrent_term-01": "failed", "raises-00": "failed", "raises-01": "failed_to_grade"}


@pytest.mark.slow
def test_a_lost_scheduler_stops_the_batch_and_a_rerun_grades_the_rest(tmp_path, clusters, capsys):
    (tmp_path / "set.yaml").write_text(SET)
    kinds = write_class(tmp_path / "class", {"correct": 20, "missing_recurrent_term": 20})
    first = clusters(workers=1)
    when_recorded(tmp_path, "out", 5, lambda: Cluster.kill(first.scheduler))
    assert batch(tmp_path, "out", "--scheduler", first.address) == 1
    assert capsys.readouterr().err.endswith(
        f"bptt-grade: lost the Dask scheduler at {first.address} (scheduler-connection-lost): what was graded is "
        "recorded; run the same command again to grade the rest\n")
    before = recorded(tmp_path, "out")
    assert 5 <= len(before) < 40
    # a task in flight when the scheduler went is failed_to_grade, which the rerun grades again
    graded = {s: before[s] for s, status in statuses(tmp_path / "out").items() if status != "failed_to_grade"}
    first.stop()
    second = clusters(workers=1)
    assert batch(tmp_path, "out", "--scheduler", second.address) == 0
    after = recorded(tmp_path, "out")
    assert sorted(after) == sorted(kinds) and {s: after[s] for s in graded} == graded
    assert set(statuses(tmp_path / "out").values()) == {"passed", "failed"}


@pytest.mark.slow
def test_isolation_a_worker_cannot_provide_exits_2(small_class, clusters, capsys):
    cluster = clusters(workers=1, env={"PATH": str(BIN)})         # no unshare: the rlimits level only
    assert batch(small_class, "out", "--scheduler", cluster.address, "--isolation", "namespaces") == 2
    with distributed.Client(cluster.address) as client:
        worker = next(iter(client.scheduler_info()["workers"]))
    assert capsys.readouterr().err == (f"bptt-grade: isolation level 'namespaces' is not available on worker "
                                       f"{worker}: unshare is not installed\n")


@pytest.fixture
def traversable_tmp():
    """A temporary folder for the workers that every uid may traverse (at the rlimits level,
    as root, a worker's sandboxes read the submission it unpacks there under another uid)."""
    folder = Path(tempfile.mkdtemp(prefix="bptt-cluster-tmp-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


def claimed_uids(address: str) -> dict[str, list]:
    """Each worker's spare uid, as it claimed it (an empty list: none yet)."""
    with distributed.Client(address) as client:
        return client.run(lambda: list(grader.cluster._claimed))


@ROOT_ONLY
def test_rlimits_workers_on_one_host_run_their_sandboxes_under_uids_of_their_own(
        tmp_path, clusters, traversable_tmp):
    cluster = clusters(workers=2, env={"TMPDIR": str(traversable_tmp)})
    students = [f"s{i}" for i in range(8)]
    assert rlimits_batch(tmp_path, "reports_limits", "--scheduler", cluster.address, students=students) == 0
    uids = printed_uids(tmp_path / "out")
    assert len(uids) == 2 and uids <= set(UID_POOL)
    assert sorted(uid for [uid] in claimed_uids(cluster.address).values()) == sorted(uids)


@ROOT_ONLY
def test_a_rlimits_worker_removes_what_a_submission_left_under_its_uid(tmp_path, clusters, traversable_tmp):
    cluster = clusters(workers=2, env={"TMPDIR": str(traversable_tmp)})
    students = [f"s{i}" for i in range(4)]
    assert rlimits_batch(tmp_path, "leaves_ipc_and_files", "--scheduler", cluster.address, students=students) == 0
    uids = printed_uids(tmp_path / "out")
    assert uids <= set(UID_POOL)
    assert owned_by(uids, ["/tmp", "/dev/shm", str(traversable_tmp)]) == []
    # the submissions' and the problem set's folders are gone; Dask's own is not the grader's
    assert [path.name for path in traversable_tmp.iterdir()] == ["dask-scratch-space"]


@pytest.mark.parametrize("root, pool, why", [
    (False, UID_POOL, "which needs root"),
    (True, range(0, 2), "and no uid of 0–1 is free"),         # root's, and daemon's or a process's
])
def test_a_worker_without_a_spare_uid_says_why_once(monkeypatch, capsys, tmp_path, root, pool, why):
    monkeypatch.setattr(grader.cluster, "_claimed", [])
    monkeypatch.setattr(grader.uid_pool.os, "geteuid", lambda: 0 if root else 1000)
    monkeypatch.setattr(grader.uid_pool, "lock_folder", lambda: tmp_path)
    monkeypatch.setattr(grader.uid_pool, "UID_POOL", pool)
    for _ in range(2):
        with grader.cluster.own_uid("rlimits"):
            pass
    assert capsys.readouterr().err == (
        f"bptt-grade worker {os.getpid()}: at the rlimits level this worker's sandboxes run under the same uid as "
        f"the other workers' on this host unless each has a spare uid of its own, {why}: a submission "
        "could signal another's; run one worker per host, or use the namespaces level\n")


def classmates_tried(rendezvous: Path) -> set[int]:
    """The uids under which tests/hostile/spies_on_a_classmate.py tried to spy (its `tried-UID` files)."""
    return {int(path.name.removeprefix("tried-")) for path in rendezvous.glob("tried-*")}


SPY_OUTPUT = (
    "own folder: ['correct.py', 'student_math.py', 'submission.py']\n"
    f"own file: {len((HOSTILE_FILES / 'spies_on_a_classmate.py').read_bytes())}\n"
    "classmate's task folder: PermissionError\nclassmate's folder: PermissionError\n"
    "classmate's file: PermissionError\n")


@ROOT_ONLY
def test_a_rlimits_submission_reads_its_own_files_and_not_those_of_one_graded_at_once_on_another_worker(
        tmp_path, clusters, traversable_tmp):
    (traversable_tmp / "rendezvous").mkdir()
    (traversable_tmp / "rendezvous").chmod(0o1777)
    cluster = clusters(workers=2, env={"TMPDIR": str(traversable_tmp)})
    assert rlimits_batch(tmp_path, "spies_on_a_classmate", "--scheduler", cluster.address, "--timeout", "60") == 0
    spied = {path.stem: json.loads(path.read_text())["problems"][0] for path in (tmp_path / "out" / "json").iterdir()}
    assert {who: (p["message"], p["submission_output"]) for who, p in spied.items()} == {
        "ada": ("every graded output matches", SPY_OUTPUT), "bob": ("every graded output matches", SPY_OUTPUT)}
    uids = classmates_tried(traversable_tmp / "rendezvous")
    assert len(uids) == 2 and uids <= set(UID_POOL)
