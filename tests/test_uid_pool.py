"""The rlimits level's spare uids (grader/uid_pool.py): a uid claimed by one process is
claimed by no other until given back, and what submissions left under a uid is removed."""
import ctypes
import grp
import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import grader.uid_pool
from grader.uid_pool import (
    IPC_TABLES,
    LOCK_DIR,
    UID_POOL,
    NoSpareUids,
    release_uids,
    remove_leftovers_of,
    spare_uids,
)
from tests.conftest import ROOT

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

def leave_things(uid: int) -> tuple[int, int]:
    """Fork a process that, as `uid`, leaves a file and a folder in /tmp, a POSIX
    shared-memory object and a System V segment, then waits: (its pid, the segment's id)."""
    readable, writable = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            open(f"/tmp/bptt-left-{uid}", "w").close()
            os.makedirs(f"/tmp/bptt-left-folder-{uid}/inner")
            os.symlink("/etc/hostname", f"/tmp/bptt-left-folder-{uid}/inner/link")
            open(f"/dev/shm/bptt-left-{uid}", "w").close()
            os.write(writable, b"%d\n" % ctypes.CDLL(None).shmget(0, 4096, 0o1000 | 0o600))
            time.sleep(600)
        finally:
            os._exit(1)
    os.close(writable)
    with os.fdopen(readable) as lines:
        return pid, int(lines.readline())


def owned_by(uids: set[int], folders: list[str]) -> list[str]:
    """What `uids` own at the top of `folders`, and the System V IPC objects they own."""
    found = [entry.path for folder in folders for entry in os.scandir(folder)
             if entry.stat(follow_symlinks=False).st_uid in uids]
    for table, (owner, _) in IPC_TABLES.items():
        rows = [row.split() for row in Path("/proc/sysvipc", table).read_text().splitlines()[1:]]
        found += [f"{table} {row[1]}" for row in rows if int(row[owner]) in uids]
    return found


def locked_elsewhere(uid: int) -> bool:
    """Whether another process finds uid's lock file locked."""
    probe = (f"import fcntl, os\nfd = os.open({str(LOCK_DIR / str(uid))!r}, os.O_RDWR)\n"
             "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept BlockingIOError:\n    print('locked')\n")
    probed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return probed.stdout == "locked\n"


def claimed_elsewhere(count: int) -> list[int]:
    """The uids another process claims (given back as it exits)."""
    claim = f"from grader.uid_pool import spare_uids; print(*spare_uids({count}))"
    printed = subprocess.run([sys.executable, "-c", claim], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return [int(uid) for uid in printed.split()]


@ROOT_ONLY
def test_a_claimed_uid_is_locked_for_other_processes_until_given_back():
    uids = spare_uids(2)
    assert len(set(uids)) == 2 and set(uids) <= set(UID_POOL)
    try:
        assert [locked_elsewhere(uid) for uid in uids] == [True, True]
        assert set(claimed_elsewhere(2)).isdisjoint(uids)
        assert spare_uids(1) != uids[:1]                # nor again by this process
    finally:
        release_uids(uids)
    assert [locked_elsewhere(uid) for uid in uids] == [False, False]
    assert oct(LOCK_DIR.stat().st_mode & 0o777) == "0o700"


def why_no_spare_uids(count: int) -> str:
    with pytest.raises(NoSpareUids) as raised:
        spare_uids(count)
    return str(raised.value)


def test_without_root_there_is_no_spare_uid(monkeypatch):
    monkeypatch.setattr(grader.uid_pool.os, "geteuid", lambda: 1000)
    assert why_no_spare_uids(1) == "which needs root"


@ROOT_ONLY
def test_a_lock_folder_others_may_write_gives_no_spare_uid(monkeypatch, tmp_path):
    (tmp_path / "uids").mkdir()
    (tmp_path / "uids").chmod(0o777)
    monkeypatch.setattr(grader.uid_pool, "LOCK_DIR", tmp_path / "uids")
    assert why_no_spare_uids(1) == (
        f"and the spare uids' lock folder is unusable ({tmp_path / 'uids'} is not a folder only root may write)")
    assert list((tmp_path / "uids").iterdir()) == []


@pytest.fixture
def as_root_with_lock_folder(monkeypatch, tmp_path):
    """spare_uids as if root, its locks in `tmp_path` (nothing it looks at here needs root)."""
    monkeypatch.setattr(grader.uid_pool.os, "geteuid", lambda: 0)
    monkeypatch.setattr(grader.uid_pool, "lock_folder", lambda: tmp_path)


def test_a_pool_of_uids_in_use_or_with_an_account_gives_no_spare_uid(monkeypatch, as_root_with_lock_folder):
    monkeypatch.setattr(grader.uid_pool, "UID_POOL", range(0, 2))     # root's; daemon's or a process's
    assert (why_no_spare_uids(1), why_no_spare_uids(3)) == (
        "and no uid of 0–1 is free", "and fewer than 3 uids of 0–1 are free")


def test_a_uid_that_a_group_has_is_not_spare(monkeypatch, as_root_with_lock_folder):
    ids = sorted({group.gr_gid for group in grp.getgrall()} - {user.pw_uid for user in pwd.getpwall()}
                 - set(grader.uid_pool.processes_by_uid()))
    if not ids:
        pytest.skip("every group's id here is an account's or a process's uid")
    monkeypatch.setattr(grader.uid_pool, "UID_POOL", range(ids[0], ids[0] + 1))
    assert why_no_spare_uids(1) == f"and no uid of {ids[0]}–{ids[0]} is free"


@ROOT_ONLY
def test_what_a_uid_left_is_removed_its_processes_ipc_and_files():
    [uid] = spare_uids(1)
    try:
        pid, segment = leave_things(uid)
        left = [Path(f"/tmp/bptt-left-{uid}"), Path(f"/tmp/bptt-left-folder-{uid}"), Path(f"/dev/shm/bptt-left-{uid}")]
        assert segment >= 0 and all(path.exists() for path in left)
        remove_leftovers_of(uid)
        assert os.waitpid(pid, 0)[1] == signal.SIGKILL
        assert [path.exists() for path in left] == [False, False, False]
        assert Path("/etc/hostname").exists()                   # the link removed, not followed
        assert ctypes.CDLL(None).shmctl(segment, 2, None) == -1   # IPC_STAT: no such segment
    finally:
        release_uids([uid])
