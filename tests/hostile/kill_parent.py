"""Sends SIGKILL to its parent process, then answers honestly."""
import os
import signal

from correct import backward as honest


def backward(trace):
    os.kill(os.getppid(), signal.SIGKILL)
    return honest(trace)
