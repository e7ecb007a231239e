"""Spare uids for the rlimits level's sandboxes, as root: each process that grades while
others do on the same host (a local batch's worker, a `dask worker`) runs its sandboxes
under a uid of its own, so that no submission can signal, trace or share IPC objects
with another's.

A uid of UID_POOL is spare when no account or group has it (a sandbox runs with it as
its gid too: grader.sandbox.Sandbox.give lets that group read), no process runs as it,
and no other process holds its lock: an exclusive flock on the file LOCK_DIR/UID, held
by this process (and any child it forks) until `release_uids`, or until they all exit,
when the kernel drops it. Several batches and `dask worker` processes on one host
therefore never share a uid. `remove_leftovers_of(uid)` removes what submissions left
under a uid: its processes, System V IPC objects, and files in the shared temporary
folders (POSIX shared memory is files in /dev/shm); it runs when a uid is claimed and
after each submission.
"""
import contextlib
import ctypes
import fcntl
import grp
import os
import pwd
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

UID_POOL = range(2_100_000_000, 2_100_010_000)      # where spare_uids looks: far above any account's
LOCK_DIR = Path("/run/bptt-grade/uids")              # root's alone: no submission can take a lock
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")    # where any uid may create files
KILL_ROUNDS = 10                                     # scans of /proc for a uid's processes (a fork bomb races)
IPC_RMID = 0
IPC_TABLES = {     # /proc/sysvipc/TABLE: the owner's uid column, and how to remove an object by id
    "shm": (7, lambda libc, id: libc.shmctl(id, IPC_RMID, None)),
    "msg": (7, lambda libc, id: libc.msgctl(id, IPC_RMID, None)),
    "sem": (4, lambda libc, id: libc.semctl(id, 0, IPC_RMID)),
}

_held: dict[int, int] = {}      # uid → the descriptor of its lock file, in this process


class NoSpareUids(Exception):
    """Why spare_uids cannot claim the uids asked for, as the end of a sentence that says
    something needs a uid of its own ("…, which needs root")."""


def spare_uids(count: int) -> list[int]:
    """`count` spare uids, each claimed (its lock held) until `release_uids`, and cleared
    of what an earlier holder's submissions left. NoSpareUids unless root, or when LOCK_DIR
    is unusable or fewer than `count` of UID_POOL are spare."""
    if os.geteuid() != 0:
        raise NoSpareUids("which needs root")
    try:
        folder = lock_folder()
    except OSError as error:
        raise NoSpareUids(f"and the spare uids' lock folder is unusable ({error})") from None
    in_use = set(processes_by_uid())
    claimed: list[int] = []
    for uid in UID_POOL:
        if uid in in_use or has_name(uid):
            continue
        descriptor = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:     # another process's
            os.close(descriptor)
            continue
        _held[uid] = descriptor
        remove_leftovers_of(uid)
        claimed.append(uid)
        if len(claimed) == count:
            return claimed
    release_uids(claimed)
    pool = f"{UID_POOL.start}–{UID_POOL.stop - 1}"
    raise NoSpareUids(f"and no uid of {pool} is free" if count == 1 else
                      f"and fewer than {count} uids of {pool} are free")


def release_uids(uids: Iterable[int]) -> None:
    """Give back uids this process claimed (children it forked keep holding them until they exit)."""
    for uid in uids:
        descriptor = _held.pop(uid, None)
        if descriptor is not None:
            os.close(descriptor)


def lock_folder() -> Path:
    """LOCK_DIR, made if need be; an OSError unless it is a folder only root may write."""
    LOCK_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    status = os.lstat(LOCK_DIR)
    if not stat.S_ISDIR(status.st_mode) or status.st_uid != 0 or status.st_mode & 0o022:
        raise OSError(f"{LOCK_DIR} is not a folder only root may write")
    return LOCK_DIR


def has_name(uid: int) -> bool:
    """Whether an account, or a group, has the id `uid`."""
    for lookup in (pwd.getpwuid, grp.getgrgid):
        try:
            lookup(uid)
        except KeyError:
            continue
        return True
    return False


def processes_by_uid() -> dict[int, list[int]]:
    """uid → the pids of the processes running with it as their real, effective, saved or
    file-system uid (/proc/PID/status: a process that is not dumpable shows root as the
    owner of /proc/PID, not its uid)."""
    found: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status") as status:
                uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
        except (OSError, StopIteration):        # gone meanwhile
            continue
        for uid in set(map(int, uids)):
            found.setdefault(uid, []).append(int(entry.name))
    return found


def remove_leftovers_of(uid: int) -> None:
    """Kill every process running as `uid`, then remove the System V IPC objects it owns
    and its files in SHARED_FOLDERS and this process's temporary folder (POSIX shared
    memory and semaphores are files in /dev/shm): at the rlimits level these are the
    host's, so a submission's would outlive it. Never call it with a uid other processes use."""
    for _ in range(KILL_ROUNDS):
        pids = processes_by_uid().get(uid, [])
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    remove_ipc_of(uid)
    for folder in {*SHARED_FOLDERS, tempfile.gettempdir()}:
        remove_files_of(uid, folder)


def remove_ipc_of(uid: int) -> None:
    """Remove every System V IPC object (shared memory, message queue, semaphore set) that `uid` owns."""
    libc = ctypes.CDLL(None)
    for table, (owner, remove) in IPC_TABLES.items():
        try:
            rows = [row.split() for row in Path("/proc/sysvipc", table).read_text().splitlines()[1:]]
        except OSError:
            continue
        for row in rows:
            if int(row[owner]) == uid:
                remove(libc, int(row[1]))


def remove_files_of(uid: int, folder: str) -> None:
    """Remove what `uid` owns at the top of `folder` (a folder of its own whole; links are
    removed, never followed)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.stat(follow_symlinks=False).st_uid != uid:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
