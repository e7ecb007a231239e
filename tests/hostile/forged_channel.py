"""Writes a header claiming 2⁶⁴−1 bytes into every file descriptor it has, hoping one is
the result channel."""
import os

from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        for fd in range(3, 64):
            try:
                os.write(fd, b"\xff" * 8)
            except OSError:
                pass
    return honest(trace)
