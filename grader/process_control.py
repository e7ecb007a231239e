"""prctl(2), for the grader's processes and the sandbox's alike: standard library only, so
child.py and zygote.py load it by file path as they load their other siblings."""
import ctypes
import sys

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 4, 38, 36


def prctl(option: int, value: int) -> None:
    """Best effort: Linux only; elsewhere the protection it adds is simply absent."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(option, ctypes.c_ulong(value), 0, 0, 0)
