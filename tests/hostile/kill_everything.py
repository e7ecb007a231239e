"""Sends SIGKILL to every process it may signal (kill -1), then answers honestly."""
import os
import signal

from correct import backward as honest


def backward(trace):
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:      # nothing it may signal
        pass
    return honest(trace)
