"""Fills memory until an allocation fails on the first problem, then dies of SIGSEGV, as a
C library does that does not check what malloc returned; answers honestly otherwise."""
import os
import signal

from correct import backward as honest

held = []


def backward(trace):
    if trace["T"] == 4:
        try:
            while True:
                held.append(bytearray(16 << 20))
        except MemoryError:
            os.kill(os.getpid(), signal.SIGSEGV)
    return honest(trace)
