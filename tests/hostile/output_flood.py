"""Prints 300 MB on the first problem."""
import sys

from correct import backward as honest


def backward(trace):
    if trace["T"] == 4:
        for _ in range(300):
            sys.stdout.write("x" * (1 << 20))
    return honest(trace)
