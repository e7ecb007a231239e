"""Where reports, scaffolds and the batch's record go: a file is replaced in one step with
the umask's mode, a pipe or a device is written through and stays what it was, anything
else is refused with exit 2; the batch's record and its folder are private."""
import json
import os
import shutil
import sqlite3
import stat
import threading
from contextlib import closing, contextmanager

import pytest

from grader.cli import main
from tests.conftest import EXAMPLES
from tests.test_cli import SMALL_SET


@pytest.fixture
def small_set(tmp_path):
    path = tmp_path / "set.yaml"
    path.write_text(SMALL_SET)
    return path


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def grade_to(small_set, output) -> int:
    return main(["grade", str(small_set), str(EXAMPLES / "correct.py"), "--format", "json", "--output", str(output)])


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_report_follows_the_umask(small_set, tmp_path, mask, expected):
    with umask(mask):
        assert grade_to(small_set, tmp_path / "report.json") == 0
    assert mode(tmp_path / "report.json") == expected


def test_a_report_replaces_a_regular_file_in_one_step(small_set, tmp_path):
    (tmp_path / "report.json").write_text("old")
    assert grade_to(small_set, tmp_path / "report.json") == 0
    assert json.loads((tmp_path / "report.json").read_text())["score"] == 14
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "set.yaml"]      # no temporary left


def test_a_fifo_is_written_through_and_stays_a_fifo(small_set, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    assert grade_to(small_set, fifo) == 0
    reader.join(10)
    assert json.loads(received[0])["score"] == 14
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_character_device_is_written_through_and_stays_a_device(small_set, tmp_path):
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))      # /dev/null's numbers
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    assert grade_to(small_set, device) == 0
    assert stat.S_ISCHR(os.lstat(device).st_mode) and os.lstat(device).st_rdev == os.makedev(1, 3)


def test_a_link_to_a_device_is_written_through_and_neither_is_replaced(small_set, tmp_path):
    (tmp_path / "null").symlink_to("/dev/null")
    assert grade_to(small_set, tmp_path / "null") == 0
    assert os.readlink(tmp_path / "null") == "/dev/null"
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_link_to_a_regular_file_is_refused_and_both_stay(small_set, tmp_path, capsys):
    (tmp_path / "elsewhere.txt").write_text("keep me")
    (tmp_path / "report.json").symlink_to(tmp_path / "elsewhere.txt")
    assert grade_to(small_set, tmp_path / "report.json") == 2
    assert capsys.readouterr().err == (
        f"bptt-grade: cannot write {tmp_path / 'report.json'}: it is a symbolic link to a regular file; "
        "name a regular file (replaced in one step), a pipe or a terminal\n")
    assert (tmp_path / "elsewhere.txt").read_text() == "keep me"
    assert os.path.islink(tmp_path / "report.json")


def test_a_folder_is_refused(small_set, tmp_path, capsys):
    (tmp_path / "reports").mkdir()
    assert grade_to(small_set, tmp_path / "reports") == 2
    assert capsys.readouterr().err == f"bptt-grade: cannot write {tmp_path / 'reports'}: it is a folder\n"


def test_scaffold_refuses_an_existing_file_without_force(small_set, tmp_path, capsys):
    starter = tmp_path / "submission.py"
    starter.write_text("my work")
    assert main(["scaffold", str(small_set), "-o", str(starter)]) == 2
    assert capsys.readouterr().err == f"bptt-grade: {starter} exists: pass --force to replace it\n"
    assert starter.read_text() == "my work"
    with umask(0o022):
        assert main(["scaffold", str(small_set), "-o", str(starter), "--force"]) == 0
    assert starter.read_text().startswith('"""Starter submission for: two problems')
    assert mode(starter) == 0o644          # readable by the `nobody` the rlimits level runs it as


def test_scaffold_writes_through_to_a_device_without_force(small_set, tmp_path):
    (tmp_path / "null").symlink_to("/dev/null")
    assert main(["scaffold", str(small_set), "-o", str(tmp_path / "null")]) == 0


def test_the_batch_record_and_its_folder_are_private_and_reports_follow_the_umask(small_set, tmp_path):
    roster = tmp_path / "class"
    roster.mkdir()
    shutil.copy(EXAMPLES / "correct.py", roster / "ada.py")
    out = tmp_path / "out"
    out.mkdir(mode=0o755)
    out.chmod(0o755)
    with umask(0o022):
        assert main(["batch", str(small_set), str(roster), "-o", str(out), "--format", "json"]) == 0
    record = out / "results.sqlite"
    with closing(sqlite3.connect(record)) as db:        # WAL mode: the reader makes the -wal and -shm files
        assert db.execute("SELECT count(*) FROM results").fetchone() == (1,)
        assert {name: mode(out / name) for name in ("results.sqlite", "results.sqlite-wal", "results.sqlite-shm")} == (
            dict.fromkeys(("results.sqlite", "results.sqlite-wal", "results.sqlite-shm"), 0o600))
    assert (mode(out), mode(out / "gradebook.csv"), mode(out / "json" / "ada.json")) == (0o700, 0o644, 0o644)


def test_a_batch_record_that_is_a_link_is_refused(small_set, tmp_path, capsys):
    (tmp_path / "class").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.sqlite").symlink_to(tmp_path / "elsewhere.sqlite")
    assert main(["batch", str(small_set), str(tmp_path / "class"), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"bptt-grade: cannot use {tmp_path / 'out' / 'results.sqlite'} as the "
                                       "batch's record: [Errno 40] Too many levels of symbolic links: "
                                       f"'{tmp_path / 'out' / 'results.sqlite'}'\n")
    assert not (tmp_path / "elsewhere.sqlite").exists()
