"""Ignores SIGTERM (and SIGINT), then hangs on the first problem."""
import signal

from correct import backward as honest

signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)


def backward(trace):
    while trace["T"] == 4:
        pass
    return honest(trace)
