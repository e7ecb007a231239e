"""Leaves what would outlive it at the rlimits level: a file in /tmp, a POSIX shared-memory
object (a file in /dev/shm), a System V shared-memory segment and message queue; prints
its uid; answers honestly."""
import ctypes
import os

from correct import backward as honest

IPC_PRIVATE, IPC_CREAT = 0, 0o1000


def backward(trace):
    if trace["T"] == 4:
        uid = os.getuid()
        for folder in ("/tmp", "/dev/shm"):
            with open(f"{folder}/bptt-left-{uid}-{os.getpid()}", "w") as left:
                left.write("left")
        libc = ctypes.CDLL(None)
        libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
        libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
        print("uid", uid)
    return honest(trace)
